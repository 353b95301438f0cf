"""What only the SQLite store (the default embedded backend) promises: the old JSON store
migrates into it with nothing lost, a process killed mid-write loses no acknowledged write,
several processes and instances share one database, and its nearest-neighbour index stays in
step with the database (the graph index itself: test_binary_index.py). The shared behaviour is in
test_store.py (the ``store`` fixture runs it on this backend too)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ntm.io import ROOT
from ntm.longterm import (
    DimensionMismatch, InvalidGraphData, LongTermStoreCorrupt, Proposition, Relation, open_store,
)
from ntm.longterm.embedded import EmbeddedStore
from ntm.longterm.sqlite_store import SQLiteStore


def vec(seed: int, dim: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=dim).astype(np.float32)


def legacy_graph(path: Path, n: int = 30) -> EmbeddedStore:
    """A JSON store as the old default wrote it: two runs, relations, logs, a node without embedding."""
    old = EmbeddedStore(path)
    old.add_propositions([Proposition(f"p{i:02d}", f"text {i} 'q' \\ 中文", "en", vec(i)) for i in range(n)], run="r1")
    old.add_propositions([Proposition("bare", "no embedding", None, None)], run="r2")
    old.add_relations([Relation(f"p{i:02d}", f"p{i + 1:02d}", "ENTAILS", 0.5 + i / 100) for i in range(n - 1)], run="r1")
    old.add_relations([Relation("bare", "p00", "CONTRADICTS", 0.25)], run="r2")
    return old


# ----------------------------------------------------------------------------- migration


def test_the_default_store_is_sqlite_and_the_old_json_store_migrates_with_nothing_lost(tmp_path, monkeypatch):
    monkeypatch.setenv("NTM_EXPLORER_DATA", str(tmp_path / "data"))
    json_path = tmp_path / "data" / "longterm" / "graph.json"
    old = legacy_graph(json_path)
    before, json_bytes = old.export_json(), json_path.read_bytes()

    store = open_store()
    assert isinstance(store, SQLiteStore) and store.path == tmp_path / "data" / "longterm" / "graph.sqlite3"
    assert store.export_json() == before                          # nodes, edges, runs, logs, D: all of it
    assert store.runs() == ["r1", "r2"] and store.dimension == 8
    assert store.nearest(vec(7), k=1)[0].proposition.id == "p07"
    assert json_path.read_bytes() == json_bytes                   # the old file is left as it was
    store.add_propositions([Proposition("new", "after the move", embedding=vec(99))], run="r3")
    store.close()

    again = open_store()                                         # opening again migrates nothing twice
    assert again.stats() == {"propositions": 32, "relations": 30, "training_logs": 5}
    again.close()


def test_a_json_path_opens_the_database_beside_it_and_later_json_writes_migrate_too(tmp_path):
    json_path = tmp_path / "g.json"
    old = legacy_graph(json_path, n=5)
    store = SQLiteStore(json_path)
    assert store.path == tmp_path / "g.sqlite3" and store.stats()["propositions"] == 6
    store.close()
    old.add_propositions([Proposition("late", "written by old code", embedding=vec(50))], run="old")
    store = SQLiteStore(json_path)
    assert store.get("late").text == "written by old code" and store.stats()["propositions"] == 7
    assert store.export_json()["training_logs"] == old.export_json()["training_logs"]


def test_a_damaged_legacy_file_stops_the_open_and_migrates_nothing(tmp_path):
    (tmp_path / "g.json").write_text('{"format": "ntm-explorer/longterm-embedded", "version": 1, "nodes": [')
    with pytest.raises(LongTermStoreCorrupt, match="move the file aside"):
        SQLiteStore(tmp_path / "g.sqlite3")
    (tmp_path / "g.json").unlink()
    assert SQLiteStore(tmp_path / "g.sqlite3").stats()["propositions"] == 0


def test_a_legacy_file_of_another_dimension_is_refused(tmp_path):
    store = SQLiteStore(tmp_path / "g.sqlite3")
    store.add_propositions([Proposition("x", "x", embedding=vec(1, dim=4))])
    store.close()
    legacy_graph(tmp_path / "g.json", n=3)
    with pytest.raises(DimensionMismatch, match="move one of them aside"):
        SQLiteStore(tmp_path / "g.sqlite3")
    assert sqlite3.connect(tmp_path / "g.sqlite3").execute("SELECT count(*) FROM propositions").fetchone() == (1,)


# ----------------------------------------------------------------------------- the file


def test_graph_survives_a_restart(tmp_path):
    store = SQLiteStore(tmp_path / "g.sqlite3")
    store.add_propositions([Proposition(f"p{i}", f"t{i}", "en", vec(i)) for i in range(20)], run="r")
    store.add_relations([Relation("p0", "p1", "CONTRADICTS", 0.25)], run="r")
    before = store.export_json()
    store.close()
    again = SQLiteStore(tmp_path / "g.sqlite3")
    assert again.export_json() == before and again.dimension == 8
    assert again.nearest(vec(3), k=1)[0].proposition.id == "p3"


def test_unreadable_files_say_what_to_do(tmp_path):
    (tmp_path / "junk.sqlite3").write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(LongTermStoreCorrupt, match="move the file aside"):
        SQLiteStore(tmp_path / "junk.sqlite3")
    other = sqlite3.connect(tmp_path / "other.sqlite3")
    other.execute("CREATE TABLE customers(name TEXT)")
    other.commit()
    other.close()
    with pytest.raises(LongTermStoreCorrupt, match="another program"):
        SQLiteStore(tmp_path / "other.sqlite3")
    store = SQLiteStore(tmp_path / "g.sqlite3")
    with pytest.raises(InvalidGraphData, match="own file"):
        store.export_json(tmp_path / "g.sqlite3")
    store.close()
    with pytest.raises(Exception, match="closed; open it again"):
        store.get("a")


def test_dimension_can_be_fixed_up_front(tmp_path):
    store = SQLiteStore(tmp_path / "g.sqlite3", dimension=8)
    assert store.dimension == 8
    with pytest.raises(InvalidGraphData):
        store.add_propositions([Proposition("a", "x", embedding=vec(1, dim=4))])
    store.add_propositions([Proposition("a", "x", embedding=vec(1))])
    with pytest.raises(InvalidGraphData, match="dimension=384"):
        SQLiteStore(tmp_path / "g.sqlite3", dimension=384)


# ----------------------------------------------------------------------------- crashes and processes

WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from ntm.longterm import Proposition
    from ntm.longterm.sqlite_store import SQLiteStore

    put = SQLiteStore._put_propositions

    def announcing(self, cur, seq, props, log):     # rows written, transaction still open
        put(self, cur, seq, props, log)
        print("inside", flush=True)

    SQLiteStore._put_propositions = announcing
    store = SQLiteStore(sys.argv[1])
    prefix, batch, rounds = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rng = np.random.default_rng(abs(hash(prefix)) % 2**32)
    for r in range(rounds):
        store.add_propositions([Proposition(f"{prefix}-{r}-{i}", "x" * 200, "en", rng.normal(size=384), prefix)
                                for i in range(batch)])
        print("done", r, flush=True)        # acknowledged: add_propositions has returned
""")


def _writer(path: Path, prefix: str, batch: int, rounds: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), prefix, str(batch), str(rounds)],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("when", ["inside a transaction", "between writes"])
def test_a_process_killed_while_writing_loses_no_acknowledged_write(tmp_path, when):
    """SIGKILL a writer of 3 MB transactions after a varying number of acknowledged batches,
    either as soon as its next transaction has written its rows (before the commit) or just
    after an acknowledgement: the database opens, passes SQLite's integrity check, and holds
    every acknowledged batch whole (and no part of any other)."""
    path = tmp_path / "g.sqlite3"
    batch = 2000
    for attempt, wanted in enumerate((1, 3, 2)):
        prefix = f"w{attempt}"
        proc = _writer(path, prefix, batch, rounds=1000)
        acknowledged = []
        while True:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            if line.startswith("done"):
                acknowledged.append(int(line.split()[1]))
            if len(acknowledged) >= wanted and (when == "between writes" or line.startswith("inside")):
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)
        store = SQLiteStore(path)
        ids = [p.id for p in store.graph(include_embeddings=False).nodes if p.run == prefix]
        rounds_found = {int(i.split("-")[1]) for i in ids}
        assert set(acknowledged) <= rounds_found                       # nothing acknowledged is lost
        assert len(ids) == batch * len(rounds_found)                   # every batch whole
        assert rounds_found == set(range(len(rounds_found)))           # no gap
        assert store.training_logs(prefix) and all(g.count == batch for g in store.training_logs(prefix))
        assert len(store.nearest(vec(attempt, dim=384), k=5)) == 5
        store.close()


def test_two_processes_writing_one_database_lose_nothing(tmp_path):
    path = tmp_path / "g.sqlite3"
    SQLiteStore(path).close()
    procs = [_writer(path, name, batch=5, rounds=15) for name in ("left", "right")]
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    store = SQLiteStore(path)
    assert store.stats()["propositions"] == 2 * 5 * 15 and store.runs() == ["left", "right"]


@pytest.mark.parametrize("exact_limit", [20_000, 1])
def test_two_instances_see_each_others_writes_and_searches_follow(tmp_path, exact_limit):
    a = SQLiteStore(tmp_path / "g.sqlite3", exact_limit=exact_limit)
    b = SQLiteStore(tmp_path / "g.sqlite3", exact_limit=exact_limit)
    a.add_propositions([Proposition(f"x{i}", f"from a {i}", embedding=vec(i)) for i in range(40)], run="a")
    assert b.nearest(vec(5), k=1)[0].proposition.id == "x5"          # b's index is built
    a.add_propositions([Proposition("x5", "moved", embedding=vec(100))], run="a")      # re-embedded
    a.add_propositions([Proposition("y", "new in a", embedding=vec(200))], run="other")
    assert b.nearest(vec(100), k=1)[0].proposition.text == "moved"
    assert b.nearest(vec(5), k=1)[0].proposition.id != "x5"
    assert b.nearest(vec(200), k=1)[0].proposition.id == "y"
    a.clear_run("other")
    assert "y" not in {h.proposition.id for h in b.nearest(vec(200), k=41)}
    a.clear()
    assert b.nearest(vec(5), k=3) == [] and b.stats()["propositions"] == 0
    b.add_propositions([Proposition("z", "after clear", embedding=vec(300))])
    assert [h.proposition.id for h in a.nearest(vec(300), k=3)] == ["z"]


# The nearest-neighbour index's own tests (recall, removal, saved/damaged/stale files) are in
# test_binary_index.py.
