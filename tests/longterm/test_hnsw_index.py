"""The embedded store's graph index (``vector_index.HNSWIndex``, usearch HNSW above
``exact_limit``): it finds what an exact scan finds, honours removals and re-embeddings, saves
and loads whole, and a store using it stays right through adds, deletes, restarts, a damaged or
stale saved index and a process killed while saving it or while writing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from ntm.io import ROOT
from ntm.longterm import Proposition
from ntm.longterm import vector_index
from ntm.longterm.sqlite_store import SQLiteStore
from ntm.longterm.vector_index import ExactIndex, HNSWIndex


def clustered(n: int, dim: int, seed: int) -> np.ndarray:
    """Vectors around n // 50 random centres, as sentence embeddings group by topic."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, n // 50), dim))
    x = centres[rng.integers(0, len(centres), n)] + 0.5 * rng.normal(size=(n, dim))
    return x.astype(np.float32)


def near(data: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Queries: stored vectors moved a little."""
    rng = np.random.default_rng(seed)
    return data[rng.integers(0, len(data), count)] + 0.05 * rng.normal(size=(count, data.shape[1])).astype(np.float32)


def unit(m: np.ndarray) -> np.ndarray:
    return m / np.linalg.norm(m, axis=-1, keepdims=True)


def top10(index, vectors: dict[int, np.ndarray], q: np.ndarray) -> set[int]:
    """What the store does: ask for k + 10 candidates, re-score them exactly, keep the best 10."""
    ids = index.search(unit(q).astype(np.float32), 20).tolist()
    return set(sorted(ids, key=lambda i: -float(unit(vectors[i]) @ unit(q)))[:10])


def exact10(vectors: dict[int, np.ndarray], q: np.ndarray) -> set[int]:
    ids = np.array(list(vectors))
    scores = unit(np.stack([vectors[i] for i in ids])) @ unit(q)
    return set(ids[np.argsort(-scores)[:10]].tolist())


def recall(index, vectors: dict[int, np.ndarray], queries: np.ndarray) -> float:
    return float(np.mean([len(top10(index, vectors, q) & exact10(vectors, q)) / 10 for q in queries]))


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return clustered(3000, 48, seed=1)


@pytest.fixture()
def filled(data):
    ids = np.arange(1, len(data) + 1, dtype=np.int64)            # rids start at 1
    index = HNSWIndex(data.shape[1])
    index.add(ids, data)
    return index, {int(i): v for i, v in zip(ids, data)}


def test_the_graph_finds_what_an_exact_scan_finds(filled, data):
    index, vectors = filled
    assert index.kind == "hnsw" and index.ntotal == len(data) and index.dim == data.shape[1]
    assert recall(index, vectors, near(data, 60, seed=2)) >= 0.95
    exact = ExactIndex(data.shape[1])
    exact.add(np.array(list(vectors)), np.stack(list(vectors.values())))
    q = near(data, 1, seed=3)[0]
    assert top10(index, vectors, q) == set(exact.search(unit(q).astype(np.float32), 10).tolist())


def test_removed_vectors_are_never_found_and_re_embedded_ones_are_found_where_they_now_are(filled, data):
    index, vectors = filled
    gone = list(range(1, len(data) + 1, 3))
    index.remove(gone + [10**9])                                  # an id never held is ignored
    for rid in gone:
        del vectors[rid]
    assert index.ntotal == len(vectors) and index.removed == len(gone)
    queries = np.concatenate([near(data, 40, seed=4), data[np.array(gone[:20]) - 1]])
    found = set().union(*(set(index.search(unit(q).astype(np.float32), 20).tolist()) for q in queries))
    assert not found & set(gone)
    assert recall(index, vectors, near(data, 40, seed=5)) >= 0.95

    moved = {2: -data[1], 5: data[100] + 3.0, gone[0]: data[7] * -2}  # re-embeddings, one of a removed id
    index.remove(list(moved))
    index.add(np.array(list(moved), np.int64), np.stack(list(moved.values())))
    vectors.update(moved)
    for rid, v in moved.items():
        assert index.search(unit(v).astype(np.float32), 1).tolist() == [rid]
    assert 2 not in index.search(unit(data[1]).astype(np.float32), 20).tolist()


def test_a_saved_index_loads_with_the_same_answers_and_settings(filled, data, tmp_path):
    index, vectors = filled
    index.remove([1, 2, 3])
    db = tmp_path / "g.sqlite3"
    vector_index.save(index, db, {"generation": "g1", "seq": 7})
    loaded, description = vector_index.load(db)
    assert description["generation"] == "g1" and description["seq"] == 7 and description["removed"] == 3
    assert loaded.kind == "hnsw" and loaded.ntotal == index.ntotal and loaded.removed == 3
    assert loaded.settings == index.settings == {
        "connectivity": vector_index.CONNECTIVITY, "expansion_add": vector_index.EXPANSION_ADD,
        "expansion_search": vector_index.EXPANSION_SEARCH, "quantisation": vector_index.QUANTISATION}
    for q in near(data, 20, seed=6):
        q = unit(q).astype(np.float32)
        assert loaded.search(q, 20).tolist() == index.search(q, 20).tolist()
    loaded.add(np.array([10**6], np.int64), data[:1] * -1)         # a loaded index keeps growing
    assert loaded.search(unit(-data[0]).astype(np.float32), 1).tolist() == [10**6]


def test_damaged_missing_or_old_saved_files_mean_rebuild(filled, tmp_path):
    index, _ = filled
    db = tmp_path / "g.sqlite3"
    old = [db.with_name(db.name + end) for end in (".ivf", ".ivf.json")]   # a faiss IVF index from before
    for path in old:
        path.write_bytes(b"old")
    vector_index.save(index, db, {"generation": "g", "seq": 1})
    assert not any(path.exists() for path in old)
    index_file, description = vector_index.saved_paths(db)
    index_file.write_bytes(b"damaged")
    assert vector_index.load(db) is None
    vector_index.save(index, db, {"generation": "g", "seq": 1})
    description.unlink()
    assert vector_index.load(db) is None
    vector_index.discard(db)
    assert not index_file.exists()


def test_the_kind_follows_the_number_of_vectors(data):
    ids = np.arange(1, 401, dtype=np.int64)
    assert vector_index.build(ids, data[:400], 48, exact_limit=500).kind == "exact"
    index = vector_index.build(ids, data[:400], 48, exact_limit=400)
    assert index.kind == "hnsw"
    assert not vector_index.wants_rebuild(index, 400, exact_limit=400)
    assert vector_index.wants_rebuild(index, 199, exact_limit=400)          # shrunk: back to exact
    index.remove(range(1, 250))
    assert vector_index.wants_rebuild(index, index.ntotal, exact_limit=200)  # lost more than it holds
    assert vector_index.wants_rebuild(ExactIndex(48), 400, exact_limit=400)


# ----------------------------------------------------------------------------- in the store


def store_recall(store, data: dict[str, np.ndarray], queries: np.ndarray) -> float:
    ids = list(data)
    m = unit(np.stack([data[i] for i in ids]))
    hits = 0
    for q in queries:
        truth = {ids[j] for j in np.argsort(-(m @ unit(q)))[:10]}
        hits += len(truth & {h.proposition.id for h in store.nearest(q, k=10)})
    return hits / (10 * len(queries))


def test_the_store_searches_its_graph_index_through_adds_deletes_and_restarts(tmp_path, monkeypatch, data):
    monkeypatch.setattr(vector_index, "SAVE_AT_LEAST", 0)
    path = tmp_path / "g.sqlite3"
    store = SQLiteStore(path, exact_limit=1000)
    held = {f"v{i}": data[i] for i in range(len(data))}
    for start in range(0, 2000, 500):
        store.add_propositions([Proposition(f"v{i}", f"t{i}", embedding=data[i]) for i in range(start, start + 500)],
                               run="a" if start < 1500 else "b")
    queries = near(data[:2000], 40, seed=7)
    assert store_recall(store, {k: held[k] for k in list(held)[:2000]}, queries) >= 0.95
    assert store._index.kind == "hnsw"

    store.add_propositions([Proposition(f"v{i}", f"t{i}", embedding=data[i]) for i in range(2000, 3000)], run="b")
    store.add_propositions([Proposition("v3", "moved", embedding=-data[3])], run="a")            # re-embedded
    store.clear_run("b")                                                                     # 1,500 deleted
    live = {k: (-data[3] if k == "v3" else v) for k, v in held.items() if int(k[1:]) < 1500}
    assert store.nearest(-data[3], k=1)[0].proposition.text == "moved"
    assert store_recall(store, live, near(data[:1500], 40, seed=8)) >= 0.95
    found = {h.proposition.id for q in data[1500:1600] for h in store.nearest(q, k=5)}
    assert all(int(i[1:]) < 1500 for i in found)
    assert store._index.kind == "hnsw" and store._index.ntotal == 1500
    assert store._index.removed == 501               # v3 and v1500-v1999 (v2000-v2999 were never in it)
    store.close()
    assert vector_index.saved_paths(path)[0].exists()

    writer = SQLiteStore(path, exact_limit=1000)                     # writes after the save: stale file
    writer.add_propositions([Proposition("v4", "moved too", embedding=-data[4])], run="a")
    news = {f"w{i}": data[i][::-1].copy() for i in range(1100)}
    writer.add_propositions([Proposition(k, "new", embedding=v) for k, v in news.items()], run="c")
    reader = SQLiteStore(path, exact_limit=1000)
    assert reader.nearest(news["w5"], k=1)[0].proposition.id == "w5"
    assert reader._index_saved is not None                           # loaded, then caught up (not rebuilt):
    assert reader._index.kind == "hnsw" and reader._index.ntotal == 2600 and reader._index.removed == 502
    assert reader.nearest(-data[4], k=1)[0].proposition.text == "moved too"
    assert "v4" not in {h.proposition.id for h in reader.nearest(data[4], k=20)}
    live.update(news, v4=-data[4])
    assert store_recall(reader, live, np.concatenate([near(data[:1500], 20, seed=9),
                                                      near(np.stack(list(news.values())), 20, seed=10)])) >= 0.95
    reader.close()
    writer.close()


def test_a_store_that_shrinks_goes_back_to_exact_search(tmp_path, data):
    store = SQLiteStore(tmp_path / "g.sqlite3", exact_limit=500)
    store.add_propositions([Proposition(f"v{i}", "t", embedding=data[i]) for i in range(600)], run="big")
    store.nearest(data[0], k=1)
    assert store._index.kind == "hnsw"
    store.clear_run("big")
    store.add_propositions([Proposition("w", "t", embedding=data[1])], run="small")
    assert [h.proposition.id for h in store.nearest(data[1], k=5)] == ["w"]
    assert store._index.kind == "exact"


# ----------------------------------------------------------------------------- killed processes

CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    from ntm.longterm import Proposition, vector_index
    from ntm.longterm.sqlite_store import SQLiteStore

    vector_index.SAVE_AT_LEAST = 0
    path, mode = sys.argv[1], sys.argv[2]
    if mode == "save":                               # the 2nd save stops inside: graph file in place, no description
        real, saves = vector_index.atomic_write_text, []
        def stalling(path, text):
            saves.append(path)
            if len(saves) == 1:
                return real(path, text)
            index_file = vector_index.saved_paths(vector_index.Path(sys.argv[1]))[0]
            with open(index_file, "r+b") as f:           # and a torn graph file, as a damaged disk leaves
                f.truncate(f.seek(0, 2) // 2)
            print("saving", flush=True)
            sys.stdin.readline()                     # wait here for the kill
        vector_index.atomic_write_text = stalling
    store = SQLiteStore(path, exact_limit=100)
    rng = np.random.default_rng(int(sys.argv[3]))
    for r in range(1000):
        batch = [Proposition(f"{mode}-{r}-{i}", "x", "en", rng.normal(size=32), mode) for i in range(20)]
        store.add_propositions(batch)
        assert store.nearest(batch[0].embedding, k=1)[0].proposition.id == batch[0].id
        print("done", r, flush=True)                 # acknowledged and searched
        if mode == "save" and r in (5, 10):
            store.close()                            # saves the graph index
            store = SQLiteStore(path, exact_limit=100)
""")


def _child(path: Path, mode: str, seed: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(path), mode, str(seed)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _run_until(proc: subprocess.Popen, stop) -> list[int]:
    """Read the child's lines until ``stop(line, acknowledged)`` (120 s at most), then SIGKILL it."""
    acknowledged, deadline = [], time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        if line.startswith("done"):
            acknowledged.append(int(line.split()[1]))
        if stop(line, acknowledged):
            break
    else:
        pytest.fail("the child did not get there in 120 s")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return acknowledged


def _every_acknowledged_vector_is_found(path: Path, mode: str, seed: int, acknowledged: list[int]) -> SQLiteStore:
    store = SQLiteStore(path, exact_limit=100)
    rng = np.random.default_rng(seed)
    for r in acknowledged:
        vectors = [rng.normal(size=32) for _ in range(20)]
        for i in (0, 7, 19):
            assert store.nearest(vectors[i], k=1)[0].proposition.id == f"{mode}-{r}-{i}"
    assert store._index.kind == "hnsw"
    return store


def test_a_process_killed_while_saving_the_index_leaves_it_rebuilt_not_trusted(tmp_path, monkeypatch):
    monkeypatch.setattr(vector_index, "SAVE_AT_LEAST", 0)
    path = tmp_path / "g.sqlite3"
    acknowledged = _run_until(_child(path, "save", seed=11), lambda line, _: line.startswith("saving"))
    assert acknowledged == list(range(11))
    index_file, description = vector_index.saved_paths(path)
    assert index_file.exists() and not description.exists()      # the torn graph is never described
    store = _every_acknowledged_vector_is_found(path, "save", 11, acknowledged)
    assert store._index_saved is None                # built from the database
    store.close()
    assert description.exists() and vector_index.load(path)[0].ntotal == 220


def test_a_process_killed_while_writing_beside_a_saved_index_loses_no_acknowledged_vector(tmp_path, monkeypatch):
    monkeypatch.setattr(vector_index, "SAVE_AT_LEAST", 0)
    path = tmp_path / "g.sqlite3"
    first = _run_until(_child(path, "a", seed=21), lambda _, acked: len(acked) >= 8)
    _every_acknowledged_vector_is_found(path, "a", 21, first).close()       # saves the graph index
    assert vector_index.saved_paths(path)[1].exists()
    second = _run_until(_child(path, "b", seed=22), lambda _, acked: len(acked) >= 5)
    store = _every_acknowledged_vector_is_found(path, "b", 22, second)
    assert store._index_saved is not None            # the saved index, caught up with the writes after it
    _every_acknowledged_vector_is_found(path, "a", 21, first).close()
    store.close()
