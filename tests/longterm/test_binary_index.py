"""The embedded store's large-graph index (``vector_index.BinaryIndex``: sign bits scanned by
Hamming distance, re-scored in int8, above ``exact_limit``): it finds what an exact scan finds,
honours removals and re-embeddings, compacts its dead rows, refuses vectors of another
dimension, and a store using it stays right through adds, deletes, restarts, files of older
saved indexes and a process killed while writing."""

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
from ntm.longterm.vector_index import BinaryIndex, ExactIndex


def clustered(n: int, dim: int, seed: int, per_topic: int = 50) -> np.ndarray:
    """Vectors around n // per_topic random centres, as sentence embeddings group by topic."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, n // per_topic), dim))
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
    index = BinaryIndex(data.shape[1])
    index.add(ids, data)
    return index, {int(i): v for i, v in zip(ids, data)}


def test_at_20000_clustered_384_dim_vectors_it_finds_what_an_exact_scan_finds():
    data = clustered(20_000, 384, seed=12, per_topic=100)         # more candidates than a topic holds
    index = BinaryIndex(384)
    index.add(np.arange(len(data), dtype=np.int64), data)
    vectors = dict(enumerate(data))
    assert index.kind == "binary" and index.ntotal == 20_000 and index.dim == 384
    assert recall(index, vectors, near(data, 40, seed=13)) >= 0.95


def test_its_top_10_after_exact_re_scoring_is_the_exact_top_10(filled, data):
    index, vectors = filled                                       # 3,000 rows: the scan keeps 1,000
    exact = ExactIndex(data.shape[1])
    exact.add(np.array(list(vectors)), np.stack(list(vectors.values())))
    for q in near(data, 30, seed=3):
        assert top10(index, vectors, q) == set(exact.search(unit(q).astype(np.float32), 10).tolist())
    small = BinaryIndex(48)                                       # fewer rows than candidates: every
    small.add(np.arange(1, 201, dtype=np.int64), data[:200])      # row is re-scored, and int8 keeps
    for q in near(data[:200], 20, seed=4):                        # the exact top 10 within the top 20
        q = unit(q).astype(np.float32)
        assert set(small.search(q, 20).tolist()) >= {i + 1 for i in np.argsort(-(unit(data[:200]) @ q))[:10]}


def test_removed_vectors_are_never_found_and_re_embedded_ones_are_found_where_they_now_are(filled, data):
    index, vectors = filled
    gone = list(range(1, len(data) + 1, 3))
    index.remove(gone + [10**9])                                  # an id never held is ignored
    for rid in gone:
        del vectors[rid]
    assert index.ntotal == len(vectors)
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


def test_dead_rows_are_compacted_once_they_outnumber_the_live_ones(filled, data):
    index, vectors = filled
    index.remove(range(1, 1501))                                  # half: not yet
    assert index.ntotal == 1500 and index._rows == 3000
    index.remove([1501])                                          # one more dead than live: compacted
    assert index.ntotal == index._rows == 1499
    for rid in range(1, 1502):
        del vectors[rid]
    assert recall(index, vectors, near(data[1501:], 40, seed=6)) >= 0.95
    assert set(index.search(unit(data[2000]).astype(np.float32), 5).tolist()) <= set(range(1502, 3001))
    index.add(np.array([7], np.int64), -data[:1])                # re-added after compaction
    assert index.search(unit(-data[0]).astype(np.float32), 1).tolist() == [7]
    index.remove(range(1, 10**4))
    assert index.ntotal == 0 and index.search(unit(data[0]).astype(np.float32), 5).tolist() == []


def test_vectors_and_queries_of_another_dimension_are_refused(filled, data):
    index, _ = filled
    with pytest.raises(ValueError, match="48"):
        index.add(np.array([10**6], np.int64), np.ones((1, 47), np.float32))
    with pytest.raises(ValueError, match="48"):
        index.search(np.ones(49, np.float32), 5)
    assert index.ntotal == len(data)
    odd = BinaryIndex(45)                                         # D not a multiple of 8: bits padded
    odd.add(np.arange(100, dtype=np.int64), clustered(100, 45, seed=7))
    assert odd.search(unit(clustered(100, 45, seed=7)[9]).astype(np.float32), 1).tolist() == [9]


def test_the_kind_follows_the_number_of_vectors(data):
    ids = np.arange(1, 401, dtype=np.int64)
    assert vector_index.build(ids, data[:400], 48, exact_limit=500).kind == "exact"
    index = vector_index.build(ids, data[:400], 48, exact_limit=400)
    assert index.kind == "binary"
    assert not vector_index.wants_rebuild(index, 400, exact_limit=400)
    assert vector_index.wants_rebuild(index, 199, exact_limit=400)          # shrunk: back to exact
    assert vector_index.wants_rebuild(ExactIndex(48), 400, exact_limit=400)
    assert vector_index.wants_rebuild(None, 0, exact_limit=400)


# ----------------------------------------------------------------------------- in the store


def store_recall(store, data: dict[str, np.ndarray], queries: np.ndarray) -> float:
    ids = list(data)
    m = unit(np.stack([data[i] for i in ids]))
    hits = 0
    for q in queries:
        truth = {ids[j] for j in np.argsort(-(m @ unit(q)))[:10]}
        hits += len(truth & {h.proposition.id for h in store.nearest(q, k=10)})
    return hits / (10 * len(queries))


def test_the_store_searches_its_binary_index_through_adds_deletes_and_restarts(tmp_path, data):
    path = tmp_path / "g.sqlite3"
    store = SQLiteStore(path, exact_limit=1000)
    held = {f"v{i}": data[i] for i in range(len(data))}
    for start in range(0, 2000, 500):
        store.add_propositions([Proposition(f"v{i}", f"t{i}", embedding=data[i]) for i in range(start, start + 500)],
                               run="a" if start < 1500 else "b")
    queries = near(data[:2000], 40, seed=7)
    assert store_recall(store, {k: held[k] for k in list(held)[:2000]}, queries) >= 0.95
    assert store._index.kind == "binary"

    store.add_propositions([Proposition(f"v{i}", f"t{i}", embedding=data[i]) for i in range(2000, 3000)], run="b")
    store.add_propositions([Proposition("v3", "moved", embedding=-data[3])], run="a")            # re-embedded
    store.clear_run("b")                                                                     # 1,500 deleted
    live = {k: (-data[3] if k == "v3" else v) for k, v in held.items() if int(k[1:]) < 1500}
    assert store.nearest(-data[3], k=1)[0].proposition.text == "moved"
    assert store_recall(store, live, near(data[:1500], 40, seed=8)) >= 0.95
    found = {h.proposition.id for q in data[1500:1600] for h in store.nearest(q, k=5)}
    assert all(int(i[1:]) < 1500 for i in found)
    assert store._index.kind == "binary" and store._index.ntotal == 1500
    store.close()

    writer = SQLiteStore(path, exact_limit=1000)
    writer.add_propositions([Proposition("v4", "moved too", embedding=-data[4])], run="a")
    news = {f"w{i}": data[i][::-1].copy() for i in range(1100)}
    writer.add_propositions([Proposition(k, "new", embedding=v) for k, v in news.items()], run="c")
    reader = SQLiteStore(path, exact_limit=1000)                   # built from the database on open
    assert reader.nearest(news["w5"], k=1)[0].proposition.id == "w5"
    assert reader._index.kind == "binary" and reader._index.ntotal == 2600
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
    assert store._index.kind == "binary"
    store.clear_run("big")
    store.add_propositions([Proposition("w", "t", embedding=data[1])], run="small")
    assert [h.proposition.id for h in store.nearest(data[1], k=5)] == ["w"]
    assert store._index.kind == "exact"


def test_files_of_indexes_saved_by_earlier_versions_are_removed_on_open(tmp_path, data):
    path = tmp_path / "g.sqlite3"
    store = SQLiteStore(path, exact_limit=100)
    store.add_propositions([Proposition(f"v{i}", "t", embedding=data[i]) for i in range(300)])
    store.close()
    old = vector_index.old_files(path)
    assert {p.name for p in old} >= {"g.sqlite3.hnsw", "g.sqlite3.hnsw.json", "g.sqlite3.ivf", "g.sqlite3.ivf.json"}
    for p in old:
        p.write_bytes(b"an index of an earlier version")
    store = SQLiteStore(path, exact_limit=100)
    assert not any(p.exists() for p in old)
    assert store.nearest(data[7], k=1)[0].proposition.id == "v7" and store._index.kind == "binary"
    store.close()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("g.sqlite3.")) == []


# ----------------------------------------------------------------------------- a killed process

CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    from ntm.longterm import Proposition
    from ntm.longterm.sqlite_store import SQLiteStore

    path, mode = sys.argv[1], sys.argv[2]
    store = SQLiteStore(path, exact_limit=100)
    rng = np.random.default_rng(int(sys.argv[3]))
    for r in range(1000):
        batch = [Proposition(f"{mode}-{r}-{i}", "x", "en", rng.normal(size=32), mode) for i in range(20)]
        store.add_propositions(batch)
        assert store.nearest(batch[0].embedding, k=1)[0].proposition.id == batch[0].id
        print("done", r, flush=True)                 # acknowledged and searched
""")


def _run_until(path: Path, mode: str, seed: int, count: int) -> list[int]:
    """Run the writer until it has acknowledged ``count`` batches (120 s at most), then SIGKILL it."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), mode, str(seed)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    acknowledged, deadline = [], time.monotonic() + 120
    while time.monotonic() < deadline and len(acknowledged) < count:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        if line.startswith("done"):
            acknowledged.append(int(line.split()[1]))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(acknowledged) >= count, "the child did not get there in 120 s"
    return acknowledged


def _every_acknowledged_vector_is_found(path: Path, mode: str, seed: int, acknowledged: list[int]) -> None:
    store = SQLiteStore(path, exact_limit=100)
    rng = np.random.default_rng(seed)
    for r in acknowledged:
        vectors = [rng.normal(size=32) for _ in range(20)]
        for i in (0, 7, 19):
            assert store.nearest(vectors[i], k=1)[0].proposition.id == f"{mode}-{r}-{i}"
    assert store._index.kind == "binary"
    store.close()


def test_a_process_killed_while_writing_loses_no_acknowledged_vector(tmp_path):
    path = tmp_path / "g.sqlite3"
    first = _run_until(path, "a", seed=21, count=8)
    _every_acknowledged_vector_is_found(path, "a", 21, first)
    second = _run_until(path, "b", seed=22, count=5)
    _every_acknowledged_vector_is_found(path, "b", 22, second)
    _every_acknowledged_vector_is_found(path, "a", 21, first)
