"""Behaviour of the long-term store that users rely on, run against both backends
(``store`` is parametrised: embedded and a real Neo4j server)."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pytest

from ntm.longterm import (
    DimensionMismatch, InvalidGraphData, Proposition, Relation, UnknownProposition, graph_from_json,
)
from ntm.longterm.embedded import EmbeddedStore

D = 16          # embedding length in these tests

HOSTILE_TEXTS = [
    'He said "yes", she said \'no\' and `maybe`',
    "back\\slash, \\n is not a newline, \\\\ two, trailing \\",
    "MATCH (n) DETACH DELETE n // '; DROP INDEX proposition_embedding; RETURN 1",
    "{`vector.dimensions`: $dimension} $rows ${x} {{ }}",
    "line one\nline two\r\nline three\ttab\x0bvt\x0cff",
    "Ein Mann schläft. 一个男人在睡觉。 رجل نائم. Мужчина спит. पुरुष सो रहा है। 🧠🕸️",
    "zero\u200bwidth, \u202eright-to-left override\u202c, combining e\u0301",
    "   leading and trailing spaces   ",
    "",
    "nul \x00 inside",
]
HOSTILE_IDS = ["p'1", 'p"2', "p\\3", "p 4 with spaces", "中文-5", "MATCH (n)", "p\n7", "p-8", "p-9", "p-10"]


def vec(seed: int, dim: int = D) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=dim).astype(np.float32)


def props(n: int, run: str | None = None, prefix: str = "p") -> list[Proposition]:
    return [Proposition(f"{prefix}{i:03d}", f"proposition number {i}", "en", vec(i), run) for i in range(n)]


def cosine(a, b) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


# ----------------------------------------------------------------------------- round trips


def test_round_trip_propositions(store):
    written = [
        Proposition("a", "A man is sleeping.", "en", vec(1)),
        Proposition("b", "Un homme dort.", "fr", vec(2)),
        Proposition("c", "No embedding yet.", None, None),
    ]
    assert store.add_propositions(written, run="r1") == 3
    assert store.dimension == D
    for p in written:
        got = store.get(p.id)
        assert got == Proposition(p.id, p.text, p.language, p.embedding, "r1")
        assert got.embedding is None or got.embedding.dtype == np.float32
    assert store.get("missing") is None
    assert store.stats() == {"propositions": 3, "relations": 0, "training_logs": 1}
    assert store.runs() == ["r1"]


def test_rewrite_updates_text_but_keeps_creating_run(store):
    store.add_propositions([Proposition("a", "old text", "en", vec(1))], run="first")
    store.add_propositions([Proposition("a", "new text", "de", vec(2))], run="second")
    got = store.get("a")
    assert (got.text, got.language, got.run) == ("new text", "de", "first")
    assert np.array_equal(got.embedding, vec(2))
    assert store.stats()["propositions"] == 1


def test_duplicate_ids_in_one_batch_collapse_to_the_last(store):
    n = store.add_propositions([Proposition("a", "first", embedding=vec(1)),
                                Proposition("a", "second", embedding=vec(2))])
    assert n == 1
    assert store.get("a").text == "second"


def test_idempotent_rewrites_change_nothing(store):
    ps = props(30)
    rels = [Relation(f"p{i:03d}", f"p{i + 1:03d}", "ENTAILS", 0.9) for i in range(29)]
    store.add_propositions(ps, run="r")
    store.add_relations(rels, run="r")
    before = store.export_json()
    for _ in range(2):                      # a retried batch, twice
        store.add_propositions(ps, run="r")
        store.add_relations(rels, run="r")
    assert store.export_json() == before
    assert store.stats() == {"propositions": 30, "relations": 29, "training_logs": 2}


def test_training_logs_record_run_kind_items_and_time(store):
    store.add_propositions(props(3), run="run-A")
    store.add_relations([Relation("p000", "p001")], run="run-A")
    logs = store.training_logs("run-A")
    assert sorted(g.kind for g in logs) == ["propositions", "relations"]
    by_kind = {g.kind: g for g in logs}
    assert sorted(by_kind["propositions"].proposition_ids) == ["p000", "p001", "p002"]
    assert by_kind["propositions"].count == 3
    assert by_kind["relations"].relation_keys == ("p000|ENTAILS|p001",)
    for g in logs:
        assert datetime.fromisoformat(g.timestamp).tzinfo is not None
    assert store.training_logs("other") == []


def test_embedding_dimension_is_fixed_per_store(store):
    store.add_propositions([Proposition("a", "x", embedding=vec(1, D))])
    with pytest.raises(DimensionMismatch, match="same length"):
        store.add_propositions([Proposition("b", "y", embedding=vec(2, D + 1))])
    assert store.get("b") is None
    with pytest.raises(InvalidGraphData, match="all zeros"):
        Proposition("z", "zero", embedding=np.zeros(D))


# ----------------------------------------------------------------------------- nearest


def test_nearest_matches_brute_force_cosine(store):
    # Exact at this size: sqlite-binary re-scores all 150 vectors in int8 (it keeps up to
    # vector_index.HAMMING_CANDIDATES = 1,000 by Hamming distance), then the best k + 10 exactly,
    # a function of the data alone (no random graph), so the same order every run; Neo4j's HNSW
    # proposes 100 of the 150 and re-scores them exactly.
    ps = [Proposition(f"n{i:03d}", f"text {i}", embedding=vec(100 + i)) for i in range(150)]
    ps.append(Proposition("no-emb", "no embedding"))
    store.add_propositions(ps)
    matrix = np.stack([p.embedding for p in ps[:-1]])
    for q in range(5):
        query = vec(100 + 7 * q) + 0.05 * vec(999 + q)         # close to n{7q}
        hits = store.nearest(query, k=5)
        assert hits[0].proposition.id == f"n{7 * q:03d}"
        sims = matrix @ query / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query))
        expected = [f"n{i:03d}" for i in np.argsort(-sims)[:5]]
        assert [h.proposition.id for h in hits] == expected
        for h in hits:
            assert h.score == pytest.approx(cosine(h.proposition.embedding, query), abs=1e-5)
        assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))
        assert hits[0].proposition.text == f"text {7 * q}"


def test_nearest_edge_cases(store):
    assert store.nearest(vec(1), k=3) == []                 # empty store
    store.add_propositions([Proposition("a", "A", embedding=vec(1)), Proposition("b", "B"),
                            Proposition("c", "C", embedding=-vec(1))])
    hits = store.nearest(vec(1), k=10)                      # k larger than what has embeddings
    assert [h.proposition.id for h in hits] == ["a", "c"]
    assert hits[0].score == pytest.approx(1.0, abs=1e-6) and hits[1].score == pytest.approx(-1.0, abs=1e-6)
    with pytest.raises(InvalidGraphData, match="query vector has"):
        store.nearest(vec(1, D + 3))


# ----------------------------------------------------------------------------- relations


@pytest.fixture
def small_graph(store):
    store.add_propositions([Proposition(x, f"text {x}", embedding=vec(i)) for i, x in enumerate("abcde")], run="g")
    store.add_relations([
        Relation("a", "b", "ENTAILS", 0.9),
        Relation("a", "c", "CONTRADICTS", 0.8),
        Relation("a", "c", "NEUTRAL", 0.3),          # a second type between the same pair
        Relation("d", "a", "ENTAILS", 0.7),
        Relation("e", "a", "NEUTRAL", 0.2),
    ], run="g")
    return store


def _links(links):
    return [(link.relation.source, link.relation.type, link.relation.target, link.proposition.id,
             round(link.relation.confidence, 6)) for link in links]


def test_follow_relations_forward_and_backward(small_graph):
    s = small_graph
    assert _links(s.neighbours("a")) == [
        ("a", "CONTRADICTS", "c", "c", 0.8), ("a", "ENTAILS", "b", "b", 0.9), ("a", "NEUTRAL", "c", "c", 0.3)]
    assert _links(s.neighbours("a", direction="in")) == [
        ("d", "ENTAILS", "a", "d", 0.7), ("e", "NEUTRAL", "a", "e", 0.2)]
    assert _links(s.neighbours("a", relation="ENTAILS", direction="both")) == [
        ("a", "ENTAILS", "b", "b", 0.9), ("d", "ENTAILS", "a", "d", 0.7)]
    assert _links(s.neighbours("b", direction="in")) == [("a", "ENTAILS", "b", "a", 0.9)]
    assert s.neighbours("b") == []
    links = s.neighbours("a", relation=["CONTRADICTS"])
    assert links[0].proposition.text == "text c" and np.array_equal(links[0].proposition.embedding, vec(2))
    with pytest.raises(UnknownProposition):
        s.neighbours("nope")
    with pytest.raises(InvalidGraphData, match="unknown relation type"):
        s.neighbours("a", relation="IMPLIES")


def test_relation_rewrite_updates_confidence_without_duplicating(small_graph):
    small_graph.add_relations([Relation("a", "b", "ENTAILS", 0.4)], run="later")
    links = small_graph.neighbours("a", relation="ENTAILS")
    assert _links(links) == [("a", "ENTAILS", "b", "b", 0.4)]
    assert links[0].relation.run == "g"                 # still the creating run
    assert small_graph.stats()["relations"] == 5


def test_relation_to_unknown_proposition_writes_nothing(small_graph):
    before = small_graph.export_json()
    with pytest.raises(UnknownProposition, match="ghost"):
        small_graph.add_relations([Relation("a", "d", "ENTAILS"), Relation("a", "ghost", "ENTAILS")])
    assert small_graph.export_json() == before
    with pytest.raises(InvalidGraphData):
        Relation("a", "b", "IMPLIES")
    with pytest.raises(InvalidGraphData):
        Relation("a", "b", "ENTAILS", confidence=1.5)


def test_clear_run_removes_only_that_run(small_graph):
    s = small_graph
    s.add_propositions([Proposition("x", "other run", embedding=vec(9))], run="other")
    s.add_relations([Relation("x", "a", "ENTAILS", 0.5), Relation("b", "c", "NEUTRAL", 0.5)], run="other")
    removed = s.clear_run("other")
    assert removed == {"propositions": 1, "relations": 2, "training_logs": 2}
    assert s.get("x") is None and s.stats()["propositions"] == 5
    assert s.neighbours("b") == []                      # other's relation between g's nodes is gone
    assert s.runs() == ["g"]
    removed = s.clear_run("g")
    assert removed == {"propositions": 5, "relations": 5, "training_logs": 2}
    assert s.stats() == {"propositions": 0, "relations": 0, "training_logs": 0}
    assert s.clear_run("never-existed") == {"propositions": 0, "relations": 0, "training_logs": 0}


# ----------------------------------------------------------------------------- JSON


def test_export_import_round_trip_is_equal(small_graph, tmp_path):
    s = small_graph
    s.add_propositions([Proposition("n", "no embedding", None)], run="g2")
    exported = s.export_json(tmp_path / "export.json")
    assert exported["dimension"] == D
    assert {n["id"] for n in exported["nodes"]} == set("abcden")
    assert all(set(e) >= {"source", "target", "type", "confidence"} for e in exported["edges"])
    assert json.loads((tmp_path / "export.json").read_text(encoding="utf-8")) == exported
    s.clear()
    assert s.stats() == {"propositions": 0, "relations": 0, "training_logs": 0}
    counts = s.import_json(tmp_path / "export.json")
    assert counts == {"propositions": 6, "relations": 5, "training_logs": len(exported["training_logs"])}
    assert s.export_json() == exported
    s.clear()
    s.import_json(json.dumps(exported))                  # JSON text works too
    assert s.export_json() == exported


def test_export_imports_into_the_other_backend(small_graph, tmp_path):
    exported = small_graph.export_json()
    other = EmbeddedStore(tmp_path / "other.json")
    other.import_json(exported)
    assert other.export_json() == exported


def test_imports_the_forks_export_format(store):
    fork = {"nodes": [{"id": "0", "text": "Node_0", "embedding": None},
                      {"id": "A dog runs.", "text": "A dog runs.", "embedding": vec(1).tolist()},
                      {"id": 7, "text": "An animal moves.", "embedding": vec(2).tolist()}],
            "edges": [{"source": "0", "target": "A dog runs."}, {"source": "A dog runs.", "target": 7}]}
    assert store.import_json(fork, run="fork") == {"propositions": 3, "relations": 2, "training_logs": 0}
    assert _links(store.neighbours("A dog runs.", direction="both")) == [
        ("0", "ENTAILS", "A dog runs.", "0", 1.0), ("A dog runs.", "ENTAILS", "7", "7", 1.0)]
    assert store.get("7").run == "fork" and store.get("0").embedding is None
    assert store.training_logs("fork")                  # the import itself is logged


@pytest.mark.parametrize("bad, message", [
    ("not json at all", "not valid JSON"),
    (b"\xff\xfe\x00binary", "not UTF-8"),
    ({"edges": []}, "'nodes' list"),
    ({"nodes": [{"text": "no id"}], "edges": []}, "missing or empty 'id'"),
    ({"nodes": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}], "edges": []}, "id appears twice"),
    ({"nodes": [{"id": "a"}], "edges": []}, "missing field 'text'"),
    ({"nodes": [{"id": "a", "text": "x"}], "edges": [{"source": "a", "target": "b"}]}, "target 'b' is not the id"),
    ({"nodes": [{"id": "a", "text": "x"}], "edges": [{"source": "a", "target": "a", "type": "IMPLIES"}]}, "IMPLIES"),
    ({"nodes": [{"id": "a", "text": "x"}], "edges": [{"source": "a", "target": "a", "confidence": 2}]}, "confidence"),
    ({"nodes": [{"id": "a", "text": "x", "embedding": [1, 2]}, {"id": "b", "text": "y", "embedding": [1, 2, 3]}]},
     "different lengths"),
    ({"nodes": [{"id": "a", "text": "x", "embedding": ["1"]}]}, "list of numbers"),
    ({"nodes": [{"id": "a", "text": "x", "embedding": [0, 0]}]}, "all zeros"),
    ('{"nodes": [{"id": "a", "text": "x", "embedding": ' + "[" * 50_000 + "]" * 50_000 + "}]}", "nested too deeply"),
    ('{"nodes": [{"id": "a", "text": "x", "embedding": [' + "1" * 5000 + "]}]}", "too long to read"),
    ({"nodes": [{"id": "a", "text": "x"}], "edges": [{"source": "a", "target": "a", "confidence": 10**400}]},
     "confidence"),
    ({"nodes": [{"id": "a", "text": "x", "embedding": [1, 10**400]}]}, "embedding"),
    ({"nodes": [], "training_logs": [{"id": "l", "run": "r", "timestamp": "t", "kind": "k", "count": 2**64}]},
     "count must be between"),
    (b'{"nodes": [{"id": "a", "text": "lone \\ud800 surrogate"}]}', "lone surrogate"),
])
def test_bad_imports_are_refused_with_a_reason_and_write_nothing(store, bad, message):
    store.add_propositions([Proposition("keep", "kept", embedding=vec(1))])
    before = store.export_json()
    with pytest.raises(InvalidGraphData, match=message):
        store.import_json(bad)
    assert store.export_json() == before


def test_import_with_another_dimension_is_refused(store):
    store.add_propositions([Proposition("keep", "kept", embedding=vec(1))])
    with pytest.raises(DimensionMismatch):
        store.import_json({"nodes": [{"id": "x", "text": "x", "embedding": vec(1, D + 1).tolist()}], "edges": []})
    assert store.get("x") is None


# ----------------------------------------------------------------------------- hostile text


def test_hostile_text_is_stored_and_read_back_verbatim(store, tmp_path):
    ps = [Proposition(pid, text, "xx", vec(i)) for i, (pid, text) in enumerate(zip(HOSTILE_IDS, HOSTILE_TEXTS))]
    store.add_propositions(ps, run="run 'quoted' \\ 中文")
    store.add_relations([Relation(HOSTILE_IDS[i], HOSTILE_IDS[i + 1], "CONTRADICTS", 0.5)
                         for i in range(len(ps) - 1)], run="run 'quoted' \\ 中文")
    for p in ps:
        assert store.get(p.id).text == p.text
        assert store.nearest(p.embedding, k=1)[0].proposition.text == p.text
    assert [link.proposition.text for link in store.neighbours(HOSTILE_IDS[0])] == [HOSTILE_TEXTS[1]]
    texts = {n["id"]: n["text"] for n in store.export_json()["nodes"]}
    assert texts == dict(zip(HOSTILE_IDS, HOSTILE_TEXTS))
    exported = store.export_json(tmp_path / "hostile.json")
    assert graph_from_json((tmp_path / "hostile.json").read_bytes()).nodes[0].text in HOSTILE_TEXTS
    store.clear()
    store.import_json(tmp_path / "hostile.json")
    assert store.export_json() == exported
    assert store.runs() == ["run 'quoted' \\ 中文"]
    assert store.clear_run("run 'quoted' \\ 中文")["propositions"] == len(ps)


def test_a_lone_surrogate_is_refused_before_anything_is_written(store):
    """Valid JSON can carry "\\ud800"; neither a file nor the Neo4j driver can store it."""
    store.add_propositions([Proposition("keep", "kept", embedding=vec(1))])
    before = store.export_json()
    with pytest.raises(InvalidGraphData, match="lone surrogate"):
        store.add_propositions([Proposition("ok", "fine", embedding=vec(2)),
                                Proposition("bad", "half an emoji \ud83e", embedding=vec(3))])
    with pytest.raises(InvalidGraphData, match="lone surrogate"):
        store.add_relations([Relation("keep", "keep", run="\udc00")])
    assert store.export_json() == before


def test_an_import_counts_a_repeated_edge_once(store):
    data = {"nodes": [{"id": "a", "text": "x"}, {"id": "b", "text": "y"}],
            "edges": [{"source": "a", "target": "b", "confidence": 0.5}, {"source": "a", "target": "b"},
                      {"source": "b", "target": "a", "type": "NEUTRAL"}]}
    assert store.import_json(data) == {"propositions": 2, "relations": 2, "training_logs": 0}
    assert store.stats()["relations"] == 2
    assert _links(store.neighbours("a")) == [("a", "ENTAILS", "b", "b", 1.0)]        # the last one given
