"""Crash-safe file writes: a reader sees the old file or the new one, never half of either.

Every file the project writes for later (checkpoints, presets, metrics, job status) goes through
here: write to a temporary file in the same directory, flush and fsync it, then ``os.replace``
it over the target (atomic on POSIX), then fsync the directory so the rename itself survives a
power cut.

A writer killed between creating its temporary file and the rename leaves that file behind
(``.<name>.<8 random characters>.tmp``, invisible to readers, but up to the size of a checkpoint).
Each write sweeps its folder for such files older than ``STALE_TEMP_SECONDS`` (at most once per
folder every ``STALE_TEMP_SECONDS`` per process), so orphans do not pile up.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

# torch and safetensors are imported inside the tensor helpers, so that modules which only need
# atomic writes (the long-term store, its page) do not pay for importing torch.

ROOT = Path(__file__).resolve().parent.parent   # the project folder (the one place it is computed)
DATA_ENV = "NTM_EXPLORER_DATA"          # where the app keeps what users make (jobs, presets, graph)

# A temporary file of ``atomic_write_bytes``: tempfile.mkstemp(prefix=".<name>.", suffix=".tmp")
# puts 8 characters from [a-z0-9_] between them. Only names of this shape are ever swept.
TEMP_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")
# A temporary file untouched for this long belongs to a writer that died: a live one writes its
# whole content in one call and renames it within seconds, even for a large checkpoint.
STALE_TEMP_SECONDS = 15 * 60
_last_sweep: dict[Path, float] = {}     # folder -> time.monotonic() of this process's last sweep


def data_dir() -> Path:
    """Folder for data users create: ``$NTM_EXPLORER_DATA``, else ``.data/`` in the project."""
    return Path(os.environ.get(DATA_ENV) or ROOT / ".data")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temp_files(folder: str | os.PathLike, older_than: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Delete the temporary files of killed writers in ``folder``: names matching ``TEMP_NAME``
    (regular files only) last modified more than ``older_than`` seconds ago. Other files, and
    sub-folders, are never touched. Returns the paths removed."""
    removed = []
    cutoff = time.time() - older_than
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not TEMP_NAME.fullmatch(entry.name):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:             # gone already (another sweeper), or not ours to delete
            continue
    return removed


def _sweep_now_and_then(folder: Path) -> None:
    now = time.monotonic()
    last = _last_sweep.get(folder)
    if last is None or now - last >= STALE_TEMP_SECONDS:
        _last_sweep[folder] = now
        remove_stale_temp_files(folder)


def _process_umask() -> int:
    """The process's umask (read once: reading it means setting it, which is not thread-safe)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _process_umask()


def _mode_for(path: Path) -> int:
    """The permission bits ``path`` should have after a rewrite: its own if it exists, else what
    ``open(path, "w")`` would give (0o666 less the umask). ``mkstemp`` makes every temporary file
    0o600, which ``os.replace`` would otherwise pass on to a preset or a store others read."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o666 & ~UMASK


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader, or the file after a crash, is the old content
    or the new one, never a mix (temporary file in the same folder, fsync, ``os.replace``). The
    file keeps its permission bits, and a new one gets the usual ones (``_mode_for``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _sweep_now_and_then(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with contextlib.suppress(OSError):     # a filesystem without modes: the write still goes on
            os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def append_jsonl(path: str | os.PathLike, record: dict[str, Any]) -> None:
    """Append one JSON line and fsync it. A crash can at worst leave a partial last line,
    which ``read_jsonl`` skips."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Every complete JSON line of a file (a torn last line from a crash is skipped)."""
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    except FileNotFoundError:
        return []
    return out


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_tensors(path: str | os.PathLike, tensors: dict[str, "torch.Tensor"],
                 metadata: dict[str, str] | None = None) -> str:
    """Write a safetensors file atomically; returns its sha256."""
    from safetensors.torch import save as st_save
    data = st_save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, metadata=metadata)
    atomic_write_bytes(path, data)
    return sha256_bytes(data)


def load_tensors(path: str | os.PathLike, expected_sha256: str | None = None) -> dict[str, "torch.Tensor"]:
    """Read a safetensors file, checking its hash when one is given.

    The hash is streamed from the open file before its content is read into memory, so a wrong
    (for instance huge) file costs no memory; anything but a regular file is refused unread.

    Raises:
        ValueError: not a regular file, truncated, corrupted, or not the file the manifest names.
        FileNotFoundError: it is missing.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load

    path = Path(path)
    if not stat.S_ISREG(os.stat(path).st_mode):       # a FIFO or device would block or never end
        raise ValueError(f"{path} is not a regular file")
    with open(path, "rb") as f:
        if expected_sha256 is not None:
            h = hashlib.sha256()
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
            if h.hexdigest() != expected_sha256:
                raise ValueError(f"{path} does not match the checksum recorded beside it "
                                 f"(truncated or overwritten)")
            f.seek(0)
        data = f.read()
    try:
        return st_load(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{path} is not a readable safetensors file ({exc})") from exc
