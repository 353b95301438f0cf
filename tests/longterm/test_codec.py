"""The JSON graph codec: every kind of input reads to the same graph, files are read in chunks
(a value may be cut anywhere between two chunks), memory stays near the records' own size, and
any hostile or broken input is one clear InvalidGraphData, never another exception."""

from __future__ import annotations

import io
import json
import tracemalloc

import numpy as np
import pytest

from ntm.longterm import Graph, InvalidGraphData, Proposition, Relation, TrainingLog, graph_from_json
from ntm.longterm import codec
from ntm.longterm.codec import check_import_size, graph_to_json
from ntm.longterm.embedded import EmbeddedStore


def vec(seed: int, dim: int = 6) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=dim).astype(np.float32)


GRAPH = Graph(
    nodes=[Proposition("a", "A man is playing a guitar.", "en", vec(1), "r1"),
           Proposition("b", 'Quotes " and \\ and 中文 and \n newlines', None, vec(2), "r1"),
           Proposition("c", "No embedding.", "de", None, "r2")],
    edges=[Relation("a", "b", "ENTAILS", 0.123456789, "r1"), Relation("b", "c", "NEUTRAL", 1.0, "r2")],
    training_logs=[TrainingLog("log-1", "r1", "2026-01-01T00:00:00+00:00", "propositions", 2, ("a", "b"))],
)
EXPORT = graph_to_json(GRAPH, 6)


def as_json(graph: Graph) -> dict:
    return graph_to_json(graph, None)


@pytest.mark.parametrize("form", ["dict", "str", "bytes", "bytearray", "file", "path", "indented"])
def test_every_input_form_reads_the_same_graph(form, tmp_path):
    text = json.dumps(EXPORT, ensure_ascii=False)
    data = {"dict": EXPORT, "str": text, "bytes": text.encode(), "bytearray": bytearray(text.encode()),
            "file": io.BytesIO(text.encode()), "indented": json.dumps(EXPORT, indent=3)}.get(form)
    if form == "path":
        data = tmp_path / "g.json"
        data.write_text(text, encoding="utf-8")
    assert as_json(graph_from_json(data)) == as_json(GRAPH)


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
def test_values_cut_between_chunks_read_whole(chunk, monkeypatch):
    monkeypatch.setattr(codec, "CHUNK_CHARS", chunk)
    text = json.dumps(EXPORT, indent=1)                 # numbers like 0.123456789 cut anywhere
    assert as_json(graph_from_json(text)) == as_json(GRAPH)
    assert as_json(graph_from_json(text.encode("utf-8"))) == as_json(GRAPH)


def test_a_file_is_read_from_its_start_and_left_open():
    f = io.BytesIO(json.dumps(EXPORT).encode())
    f.read(10)
    graph_from_json(f)
    assert not f.closed
    assert as_json(graph_from_json(f)) == as_json(GRAPH)          # a retry reads it again


def test_edges_may_come_before_nodes_and_a_bom_is_allowed():
    reordered = {"edges": EXPORT["edges"], "format": "x", "nodes": EXPORT["nodes"]}
    data = b"\xef\xbb\xbf" + json.dumps(reordered).encode()
    assert as_json(graph_from_json(data)).keys() == as_json(GRAPH).keys()
    assert [r.key for r in graph_from_json(data).edges] == [r.key for r in GRAPH.edges]


def test_a_relation_given_twice_is_one_relation_the_last():
    data = {"nodes": [{"id": "a", "text": "x"}, {"id": "b", "text": "y"}],
            "edges": [{"source": "a", "target": "b", "confidence": 0.2},
                      {"source": "a", "target": "b", "confidence": 0.7},
                      {"source": "a", "target": "b", "type": "NEUTRAL"}]}
    edges = graph_from_json(data).edges
    assert [(r.type, r.confidence) for r in edges] == [("ENTAILS", 0.7), ("NEUTRAL", 1.0)]
    assert graph_from_json(json.dumps(data)).edges == edges


def test_import_counts_a_repeated_edge_once(tmp_path):
    store = EmbeddedStore(tmp_path / "g.json")
    data = {"nodes": [{"id": "a", "text": "x"}, {"id": "b", "text": "y"}],
            "edges": [{"source": "a", "target": "b"}, {"source": "a", "target": "b"}]}
    assert store.import_json(json.dumps(data)) == {"propositions": 2, "relations": 1, "training_logs": 0}
    assert store.stats()["relations"] == 1


DEEP = "[" * 100_000 + "]" * 100_000
HOSTILE = [
    # (what, the file, words of the message)
    ("nesting deeper than the parser goes", '{"nodes": [{"id": "a", "text": "x", "embedding": ' + DEEP + "}]}",
     "nested too deeply"),
    ("nesting as the whole nodes list", '{"nodes": ' + DEEP + "}", "nested too deeply"),
    ("an integer with 5,000 digits", '{"nodes": [{"id": "a", "text": "x", "embedding": [' + "7" * 5000 + "]}]}",
     "too long to read"),
    ("an integer id with 5,000 digits", '{"nodes": [{"id": ' + "7" * 5000 + ', "text": "x"}]}', "too long to read"),
    ("an embedding value too large for a float", '{"nodes": [{"id": "a", "text": "x", "embedding": [1'
     + "0" * 400 + "]}]}", "embedding"),
    ("a confidence too large for a float", '{"nodes": [{"id": "a", "text": "x"}], "edges": [{"source": "a", '
     '"target": "a", "confidence": 1' + "0" * 400 + "}]}", "confidence"),
    ("a log count beyond 64 bits", '{"nodes": [], "training_logs": [{"id": "l", "run": "r", "timestamp": "t", '
     '"kind": "k", "count": 1' + "0" * 30 + "}]}", "count must be between"),
    ("a lone surrogate in a text", '{"nodes": [{"id": "a", "text": "x \\ud800 y"}]}', "lone surrogate"),
    ("a lone surrogate in an id", '{"nodes": [{"id": "\\udfff", "text": "x"}]}', "lone surrogate"),
    ("a lone surrogate in a run", '{"nodes": [{"id": "a", "text": "x"}], "edges": [{"source": "a", "target": "a",'
     ' "run": "\\ud834"}]}', "lone surrogate"),
    ("a lone surrogate in a log", '{"nodes": [], "training_logs": [{"id": "l", "run": "r", "timestamp": "t", '
     '"kind": "k", "count": 1, "proposition_ids": ["\\ud800"]}]}', "lone surrogate"),
    ("an object where a list belongs", '{"nodes": {"a": 1}}', "'nodes' list"),
    ("a truncated file", json.dumps(EXPORT)[:-40], "not valid JSON"),
    ("text after the object", json.dumps(EXPORT) + " {}", "Extra data"),
    ("nodes twice", '{"nodes": [], "nodes": []}', "appears twice"),
    ("an empty file", "", "not valid JSON"),
    ("a top-level list", "[1, 2, 3]", "'nodes' list"),
]


def _forms():
    """Each hostile file as text and as bytes, and as a dict where it is JSON a dict can hold
    (deep nesting and 5,000-digit integers are not: json.loads itself fails on them)."""
    for what, data, message in HOSTILE:
        yield pytest.param(data, message, id=f"str-{what}")
        yield pytest.param(data.encode("utf-8", "surrogatepass"), message, id=f"bytes-{what}")
        try:
            as_dict = json.loads(data)
        except (ValueError, RecursionError):
            continue
        if isinstance(as_dict, dict) and what != "nodes twice":      # a dict cannot hold a key twice
            yield pytest.param(as_dict, message, id=f"dict-{what}")


@pytest.mark.parametrize("data, message", list(_forms()))
def test_hostile_files_raise_only_invalid_graph_data(data, message):
    with pytest.raises(InvalidGraphData, match=message):
        graph_from_json(data)


@pytest.mark.parametrize("what, data, message", HOSTILE[:4] + HOSTILE[7:8], ids=[h[0] for h in HOSTILE[:4] + HOSTILE[7:8]])
def test_hostile_imports_leave_the_store_unchanged(tmp_path, what, data, message):
    store = EmbeddedStore(tmp_path / "g.json")
    store.add_propositions([Proposition("keep", "kept", embedding=vec(1))])
    before = store.export_json()
    with pytest.raises(InvalidGraphData, match=message):
        store.import_json(data.encode("utf-8", "surrogatepass"))
    assert store.export_json() == before


def test_errors_say_where_in_the_file():
    text = '{\n "nodes": [\n  {"id": "a", "text": "x"},\n  {"id": "b" "text": "y"}\n ]\n}'
    with pytest.raises(InvalidGraphData, match=r"line 4, column 14"):
        graph_from_json(text)
    with pytest.raises(InvalidGraphData, match="node 1 \\(id 'b'\\): id appears twice"):
        graph_from_json({"nodes": [{"id": "b", "text": "x"}, {"id": "b", "text": "y"}]})


def test_streaming_a_large_file_holds_about_the_records_not_a_tree_of_the_file(monkeypatch):
    """json.loads would hold the text and every number as a Python float (24 bytes + a list slot
    each): over twice the file. The streamed read holds the float32 vectors and a chunk or two
    (64 kB here, so that a 4 MB file shows the difference)."""
    monkeypatch.setattr(codec, "CHUNK_CHARS", 1 << 16)
    rng = np.random.default_rng(0)
    n, dim = 400, 384
    nodes = [{"id": f"n{i}", "text": f"sentence {i}", "embedding": rng.normal(size=dim).astype(np.float32).tolist()}
             for i in range(n)]
    data = json.dumps({"nodes": nodes, "edges": []}, indent=1).encode()
    del nodes
    tracemalloc.start()
    try:
        graph = graph_from_json(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(graph.nodes) == n
    assert peak < len(data) / 3, (peak, len(data))


def test_the_import_size_limit_says_what_to_do():
    check_import_size(codec.MAX_IMPORT_MB * 2**20, "ok.json")
    with pytest.raises(InvalidGraphData, match=rf"big\.json is larger than {codec.MAX_IMPORT_MB} MB, the most the "
                                               r"app imports .*import_json\(path\)"):
        check_import_size(codec.MAX_IMPORT_MB * 2**20 + 1, "big.json")
