"""ntm.io: atomic writes, JSON lines, safetensors with hash checks, the data folder, and the sweep of
temporary files left by killed writers."""

import os
import time

import pytest
import torch

import ntm.io as io
from ntm.io import (ROOT, append_jsonl, atomic_write_bytes, atomic_write_json, atomic_write_text, data_dir,
                    load_tensors, read_jsonl, remove_stale_temp_files, save_tensors, sha256_file)


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# ---- atomic writes ----------------------------------------------------------------------------

def test_atomic_write_replaces_the_file_and_creates_its_folder(tmp_path):
    target = tmp_path / "a" / "b" / "f.txt"
    atomic_write_text(target, "old")
    atomic_write_text(target, "new ✓")
    assert target.read_text(encoding="utf-8") == "new ✓"
    assert leftovers(target.parent) == []


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_gets_the_permissions_the_umask_gives(tmp_path, monkeypatch, umask, mode):
    """Not mkstemp's 0o600: a preset or store written here is readable as any file the user makes."""
    monkeypatch.setattr(io, "UMASK", umask)
    atomic_write_text(tmp_path / "new.txt", "x")
    assert (tmp_path / "new.txt").stat().st_mode & 0o777 == mode


def test_a_rewritten_file_keeps_its_permissions(tmp_path):
    path = tmp_path / "kept.json"
    atomic_write_json(path, {"a": 1})
    for mode in (0o600, 0o640, 0o644):
        path.chmod(mode)
        atomic_write_json(path, {"a": 2})
        assert path.stat().st_mode & 0o777 == mode
    assert path.read_text().strip().endswith("}")


@pytest.mark.parametrize("fail_at", ["fsync", "replace"])
def test_a_failed_write_leaves_the_old_file_whole_and_no_temp_file(tmp_path, monkeypatch, fail_at):
    target = tmp_path / "state.json"
    atomic_write_json(target, {"batches": 1, "payload": "x" * 10_000})
    before = target.read_bytes()

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(io.os, fail_at, broken)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_json(target, {"batches": 2})
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_an_interrupted_write_leaves_no_temp_file(tmp_path, monkeypatch):
    """KeyboardInterrupt (Ctrl-C) mid-write is a BaseException, not an Exception: still cleaned up."""
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"old")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(io.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_atomic_write_json_round_trips(tmp_path):
    obj = {"a": [1, 2.5, None], "b": {"c": "é"}}
    atomic_write_json(tmp_path / "x.json", obj)
    import json
    assert json.loads((tmp_path / "x.json").read_text(encoding="utf-8")) == obj


# ---- JSON lines -------------------------------------------------------------------------------

def test_jsonl_appends_and_reads_back_in_order(tmp_path):
    path = tmp_path / "sub" / "metrics.jsonl"
    for i in range(3):
        append_jsonl(path, {"batches": i, "loss": 1.0 / (i + 1)})
    assert [r["batches"] for r in read_jsonl(path)] == [0, 1, 2]


def test_read_jsonl_skips_a_torn_last_line_and_blank_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    append_jsonl(path, {"batches": 1})
    with open(path, "a", encoding="utf-8") as f:
        f.write("\n{\"batches\": 2, \"lo")          # a crash in the middle of a line
    assert read_jsonl(path) == [{"batches": 1}]


def test_read_jsonl_of_a_missing_file_is_empty(tmp_path):
    assert read_jsonl(tmp_path / "none.jsonl") == []


# ---- safetensors --------------------------------------------------------------------------------

def test_tensors_round_trip_with_their_hash(tmp_path):
    tensors = {"w": torch.randn(3, 4), "step": torch.tensor([7], dtype=torch.int64)}
    sha = save_tensors(tmp_path / "t.safetensors", tensors)
    assert sha == sha256_file(tmp_path / "t.safetensors")
    back = load_tensors(tmp_path / "t.safetensors", sha)
    assert set(back) == {"w", "step"}
    assert all(torch.equal(back[k], tensors[k]) for k in tensors)


def test_a_wrong_hash_is_refused(tmp_path):
    sha = save_tensors(tmp_path / "t.safetensors", {"w": torch.zeros(2)})
    save_tensors(tmp_path / "t.safetensors", {"w": torch.ones(2)})      # overwritten since
    with pytest.raises(ValueError, match="checksum"):
        load_tensors(tmp_path / "t.safetensors", sha)


def test_a_truncated_file_is_refused(tmp_path):
    path = tmp_path / "t.safetensors"
    save_tensors(path, {"w": torch.randn(64)})
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        load_tensors(path)


def test_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_tensors(tmp_path / "none.safetensors", "0" * 64)


@pytest.mark.timeout(20)
def test_anything_but_a_regular_file_is_refused_unread(tmp_path):
    fifo = tmp_path / "weights.safetensors"
    os.mkfifo(fifo)                               # opening it for reading would block forever
    with pytest.raises(ValueError, match="not a regular file"):
        load_tensors(fifo, "0" * 64)
    with pytest.raises(ValueError, match="not a regular file"):
        load_tensors(tmp_path)                    # a folder


# ---- the data folder ----------------------------------------------------------------------------

def test_data_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("NTM_EXPLORER_DATA", str(tmp_path / "mine"))
    assert data_dir() == tmp_path / "mine"
    monkeypatch.setenv("NTM_EXPLORER_DATA", "")
    assert data_dir() == ROOT / ".data"
    monkeypatch.delenv("NTM_EXPLORER_DATA")
    assert data_dir() == ROOT / ".data"


def test_root_is_the_project_folder():
    assert (ROOT / "pyproject.toml").is_file() and (ROOT / "ntm" / "io.py").is_file()


# ---- temporary files of killed writers -----------------------------------------------------------

def age(path, seconds):
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_the_writer_s_temp_names_match_the_sweep_pattern(tmp_path, monkeypatch):
    """The sweep recognises our temp files by name, so the name must be what mkstemp makes."""
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(os.path.basename(src))
        real_replace(src, dst)

    monkeypatch.setattr(io.os, "replace", spy)
    atomic_write_text(tmp_path / "checkpoint.json", "{}")
    assert len(seen) == 1 and io.TEMP_NAME.fullmatch(seen[0]), seen


def test_stale_temp_files_are_removed_and_nothing_else(tmp_path):
    old_orphan = tmp_path / ".weights-00001000.safetensors.k3j_9a0z.tmp"
    fresh = tmp_path / ".status.json.abcdefgh.tmp"            # a writer may be using it right now
    old_not_ours = [tmp_path / "notes.tmp", tmp_path / ".status.json.tmp", tmp_path / "data.json"]
    old_folder = tmp_path / ".x.json.abcdefgh.tmp"
    old_folder_file = old_folder / ".y.json.abcdefgh.tmp"
    old_folder.mkdir()
    for p in [old_orphan, fresh, *old_not_ours, old_folder_file]:
        p.write_bytes(b"x" * 100)
    for p in [old_orphan, *old_not_ours, old_folder, old_folder_file]:
        age(p, io.STALE_TEMP_SECONDS + 60)
    removed = remove_stale_temp_files(tmp_path)
    assert removed == [old_orphan]
    assert not old_orphan.exists()
    assert fresh.exists() and all(p.exists() for p in old_not_ours) and old_folder_file.exists()


def test_a_write_sweeps_its_folder_once_in_a_while(tmp_path, monkeypatch):
    monkeypatch.setattr(io, "_last_sweep", {})
    orphan = tmp_path / ".checkpoint.json.abcd1234.tmp"
    orphan.write_bytes(b"half a checkpoint")
    age(orphan, io.STALE_TEMP_SECONDS + 1)
    atomic_write_json(tmp_path / "checkpoint.json", {"ok": True})
    assert not orphan.exists()
    assert leftovers(tmp_path) == []
    # Within the same window the folder is not scanned again (writes stay cheap) ...
    orphan.write_bytes(b"another")
    age(orphan, io.STALE_TEMP_SECONDS + 1)
    atomic_write_json(tmp_path / "checkpoint.json", {"ok": True})
    assert orphan.exists()
    # ... and once the window has passed, it is.
    io._last_sweep[tmp_path] -= io.STALE_TEMP_SECONDS
    atomic_write_json(tmp_path / "checkpoint.json", {"ok": True})
    assert not orphan.exists()


def test_sweeping_a_missing_folder_is_harmless(tmp_path):
    assert remove_stale_temp_files(tmp_path / "gone") == []
