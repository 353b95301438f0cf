"""What only the embedded backend promises: the graph survives restarts, a crash mid-write
leaves the previous file whole, several processes can share one file."""

from __future__ import annotations

import json
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
from ntm.longterm import InvalidGraphData, LongTermStoreError, Proposition, Relation, open_store
from ntm.longterm.embedded import EmbeddedStore, LongTermStoreCorrupt


def vec(seed: int, dim: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=dim).astype(np.float32)


def test_default_path_is_under_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NTM_EXPLORER_DATA", str(tmp_path / "data"))
    store = open_store("json")
    store.add_propositions([Proposition("a", "x", embedding=vec(1))])
    assert store.path == tmp_path / "data" / "longterm" / "graph.json" and store.path.exists()


def test_graph_survives_a_restart(tmp_path):
    path = tmp_path / "g.json"
    store = EmbeddedStore(path)
    store.add_propositions([Proposition(f"p{i}", f"t{i}", "en", vec(i)) for i in range(20)], run="r")
    store.add_relations([Relation("p0", "p1", "CONTRADICTS", 0.25)], run="r")
    before = store.export_json()
    store.close()
    again = EmbeddedStore(path)
    assert again.export_json() == before
    assert again.nearest(vec(3), k=1)[0].proposition.id == "p3"
    assert again.dimension == 8


def test_a_failed_save_leaves_file_and_memory_as_before(tmp_path, monkeypatch):
    path = tmp_path / "g.json"
    store = EmbeddedStore(path)
    store.add_propositions([Proposition("a", "kept", embedding=vec(1))])
    before_bytes = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr("ntm.longterm.embedded.os.replace", crash)
    with pytest.raises(LongTermStoreError, match=r"cannot write the long-term store g\.json \(simulated"):
        store.add_propositions([Proposition("b", "lost", embedding=vec(2))])
    monkeypatch.undo()
    assert path.read_bytes() == before_bytes
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert store.get("b") is None and store.get("a").text == "kept"       # memory rolled back too
    store.add_propositions([Proposition("c", "after", embedding=vec(3))])
    assert EmbeddedStore(path).stats()["propositions"] == 2


WRITER = textwrap.dedent("""
    import builtins, io, os, sys, time
    import numpy as np

    if os.environ.get("SLOW_DISK"):
        # A slow disk: every binary write trickles out in 64 KB pieces, so a kill at a random
        # moment usually lands in the middle of writing a file, whatever code does the writing.
        class Slow:
            def __init__(self, f):
                self._f = f
            def write(self, data):
                for i in range(0, len(data), 65536):
                    self._f.write(data[i:i + 65536])
                    self._f.flush()
                    time.sleep(0.002)
                return len(data)
            def __getattr__(self, name):
                return getattr(self._f, name)
            def __enter__(self):
                return self
            def __exit__(self, *exc):
                return self._f.__exit__(*exc)
        def slowed(opener):
            def open_(*args, **kwargs):
                f = opener(*args, **kwargs)
                mode = args[1] if len(args) > 1 else kwargs.get("mode", "r")
                return Slow(f) if "w" in mode and "b" in mode else f
            return open_
        builtins.open = io.open = slowed(io.open)
        os.fdopen = slowed(os.fdopen)

    from ntm.longterm import Proposition
    from ntm.longterm.embedded import EmbeddedStore
    store = EmbeddedStore(sys.argv[1])
    prefix, batch, rounds = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rng = np.random.default_rng(abs(hash(prefix)) % 2**32)
    for r in range(rounds):
        store.add_propositions([Proposition(f"{prefix}-{r}-{i}", "x" * 200, "en", rng.normal(size=384))
                                for i in range(batch)], run=prefix)
        print(r, flush=True)
""")


def _writer(path: Path, prefix: str, batch: int, rounds: int, slow_disk: bool = False) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **({"SLOW_DISK": "1"} if slow_disk else {})}
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), prefix, str(batch), str(rounds)],
                            cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_process_killed_while_writing_leaves_a_whole_file(tmp_path):
    """SIGKILL a writer on a slow disk at arbitrary moments (most land mid-write): the file
    always loads, with whole acknowledged batches only."""
    path = tmp_path / "g.json"
    batch = 200
    seen_counts = []
    for attempt in range(4):
        proc = _writer(path, f"w{attempt}", batch, rounds=1000, slow_disk=True)
        assert proc.stdout.readline(), proc.stderr.read()      # at least one batch acknowledged
        time.sleep(0.25 + 0.13 * attempt)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        store = EmbeddedStore(path)                            # must load: never half a file
        count = store.stats()["propositions"]
        assert count % batch == 0 and count > (seen_counts[-1] if seen_counts else 0)
        graph = store.graph()
        assert all(p.embedding is not None and p.embedding.shape == (384,) for p in graph.nodes)
        seen_counts.append(count)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert EmbeddedStore(path).stats()["propositions"] == seen_counts[-1]
    # A temporary file from a killed write may remain; it is never read as the store.
    assert all(name.startswith(".g.json.") for name in leftovers)


def test_two_processes_writing_one_file_lose_nothing(tmp_path):
    path = tmp_path / "g.json"
    procs = [_writer(path, name, batch=5, rounds=15) for name in ("left", "right")]
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    store = EmbeddedStore(path)
    assert store.stats()["propositions"] == 2 * 5 * 15
    assert store.runs() == ["left", "right"]


def test_two_instances_see_each_others_writes(tmp_path):
    a, b = EmbeddedStore(tmp_path / "g.json"), EmbeddedStore(tmp_path / "g.json")
    a.add_propositions([Proposition("x", "from a", embedding=vec(1))])
    assert b.get("x").text == "from a"
    b.add_propositions([Proposition("y", "from b", embedding=vec(2))])
    assert {p.id for p in a.graph().nodes} == {"x", "y"}


def test_unreadable_files_say_what_to_do(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "ntm-explorer/longterm-embedded", "version": 1, "nodes": [')
    with pytest.raises(LongTermStoreCorrupt, match="move the file aside"):
        EmbeddedStore(broken)
    export = tmp_path / "export.json"
    export.write_text(json.dumps({"nodes": [], "edges": []}))
    with pytest.raises(LongTermStoreCorrupt, match="use import_json"):
        EmbeddedStore(export)
    store = EmbeddedStore(tmp_path / "g.json")
    store.add_propositions([Proposition("a", "x", embedding=vec(1))])
    with pytest.raises(InvalidGraphData, match="own file"):
        store.export_json(tmp_path / "g.json")


def test_dimension_can_be_fixed_up_front(tmp_path):
    store = EmbeddedStore(tmp_path / "g.json", dimension=8)
    assert store.dimension == 8
    with pytest.raises(InvalidGraphData):
        store.add_propositions([Proposition("a", "x", embedding=vec(1, dim=4))])
    store.add_propositions([Proposition("a", "x", embedding=vec(1))])
    with pytest.raises(InvalidGraphData, match="dimension=384"):
        EmbeddedStore(tmp_path / "g.json", dimension=384)
