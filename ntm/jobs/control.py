"""Starting, listing, cancelling, resuming and removing jobs: the API the app calls.

Every call reads the job folders afresh (``record.load_job``); the only state kept in this process
is the set of runner processes it started, held so they are reaped (``process.ChildProcesses``).
Starts and resumes are serialised across threads and processes by a lock file in the jobs folder,
so two sessions cannot both pass the concurrency limit.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any, Iterator

from ..io import ROOT, atomic_write_json
from .process import ChildProcesses, alive, parent_env, process_start_time, signal_group
from .record import Job, jobs_dir, latest_launch, load_job, read_json

MAX_JOBS_ENV = "NTM_EXPLORER_MAX_JOBS"
PRESET_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
JOB_ID_RE = re.compile(r"[0-9A-Za-z_-]+")
RUNNER_MODULE = "ntm.jobs.runner"
POLL_SECONDS = 0.05             # how often cancel_job looks whether the process is gone

# Ranges the app accepts for the main hyperparameters (the library accepts any positive value;
# these keep a job from a browser small enough for a 2-core machine and a few minutes).
LIMITS: dict[str, tuple[float, float]] = {
    "batch_size": (1, 256),
    "num_batches": (1, 200_000),
    "lr": (1e-5, 1.0),
    "report_interval": (1, 10_000),
    "checkpoint_interval": (0, 100_000),
    "controller_size": (4, 512),
    "memory_slots": (4, 512),
    "memory_width": (2, 128),
    "hidden_size": (4, 1024),
    "layers": (1, 6),
    "nr_cells": (4, 1024),
    "cell_size": (2, 128),
    "read_heads": (1, 8),
}

_children = ChildProcesses()     # the runners this process started, reaped by every read below


class JobError(ValueError):
    """A job cannot be started, resumed or cancelled; the message says why and what to do."""


# ---- reading ------------------------------------------------------------------------------------

def max_jobs() -> int:
    """Jobs that may run at once: ``$NTM_EXPLORER_MAX_JOBS``, else one per two cores (at least 1)."""
    raw = os.environ.get(MAX_JOBS_ENV, "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            raise JobError(f"{MAX_JOBS_ENV} must be a whole number; got {raw!r}") from None
        return max(value, 1)
    return max((os.cpu_count() or 2) // 2, 1)


def list_jobs() -> list[Job]:
    """Every job under ``jobs_dir()``, newest first."""
    _children.reap()
    root = jobs_dir()
    if not root.is_dir():
        return []
    found = [job for d in root.iterdir() if d.is_dir() and (job := load_job(d)) is not None]
    return sorted(found, key=lambda j: (j.created, j.id), reverse=True)


def get_job(job_id: str) -> Job:
    """The job ``job_id`` as its folder says now.

    Raises:
        JobError: not a job id, or no such job.
    """
    _children.reap()
    if not isinstance(job_id, str) or not JOB_ID_RE.fullmatch(job_id):
        raise JobError(f"not a job id: {job_id!r}")
    job = load_job(jobs_dir() / job_id)
    if job is None:
        raise JobError(f"no job {job_id!r} (it was removed, or belongs to another data folder)")
    return job


def active_jobs() -> list[Job]:
    return [j for j in list_jobs() if j.active]


# ---- checks -------------------------------------------------------------------------------------

def check_preset_name(name: str) -> str:
    """The preset name, stripped, if it is a safe folder name not taken by a preset or a job.

    Raises:
        JobError: why the name cannot be used.
    """
    from ..presets import list_presets   # torch, but only when a name is checked, not on import

    name = (name or "").strip()
    if not PRESET_NAME_RE.fullmatch(name) or name in (".", ".."):
        raise JobError(f"preset name {name!r} is not a safe folder name: use 1-64 letters, digits, "
                       f"'-', '_' or '.', starting with a letter or digit (e.g. my-copy-1)")
    if any(p.name == name for p in list_presets()):
        raise JobError(f"a preset named {name!r} already exists; choose another name")
    for job in list_jobs():
        if job.preset_name == name and job.state not in ("failed", "done"):
            raise JobError(f"job {job.id} ({job.state}) will save a preset named {name!r}; choose another name")
    return name


def free_preset_name(base: str) -> str:
    """``base``, or ``base-2``, ``base-3``... whichever ``check_preset_name`` accepts first (``base``
    itself when none of the first 999 is free, so that the check names the problem)."""
    for n in range(1, 1000):
        name = base if n == 1 else f"{base}-{n}"
        try:
            return check_preset_name(name)
        except JobError:
            continue
    return base


def check_limits(spec: Any) -> None:
    """Raises JobError if a main hyperparameter of ``spec`` (a ``RunSpec``) is outside ``LIMITS``."""
    values = {**vars(spec.settings), **spec.model}
    for key, (lo, hi) in LIMITS.items():
        if key in values and values[key] is not None and not (lo <= values[key] <= hi):
            raise JobError(f"{key} must be between {lo:g} and {hi:g}; got {values[key]!r}")


def check_device(spec: Any) -> None:
    """Raises JobError if ``spec``'s device (``settings.device``, cpu when absent) is not on this machine."""
    device = getattr(spec.settings, "device", "cpu")
    if device != "cpu":
        from ..device import DeviceError, resolve_device   # torch, only for a job that asks for a GPU
        try:
            resolve_device(device)
        except DeviceError as exc:
            raise JobError(str(exc)) from None


# ---- starting, cancelling, resuming -------------------------------------------------------------

def start_job(spec: Any, preset_name: str, name: str | None = None, export_sequences: int = 100) -> Job:
    """Validate ``spec`` (a ``RunSpec`` from ``ntm.training.resolve_params``) and start it.

    ``export_sequences``: sequences per length for the generalisation table saved with the preset.

    Raises:
        JobError: a bad preset name, a value outside ``LIMITS``, a device this machine lacks, or
            the concurrency limit reached; nothing is started and no folder is left behind.
    """
    from ..presets import user_presets_dir

    if not (callable(getattr(spec, "to_dict", None)) and hasattr(spec, "settings")):
        raise JobError(f"start_job needs a RunSpec (ntm.training.resolve_params); got {type(spec).__name__}")
    check_limits(spec)
    check_device(spec)
    if spec.settings.threads == 0:
        spec.settings.threads = 1          # one torch thread per job: the app and others share the cores
    with _jobs_lock():
        preset_name = check_preset_name(preset_name)
        _check_capacity()
        job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
        job_dir = jobs_dir() / job_id
        job_dir.mkdir(parents=True)
        record = {"id": job_id, "name": name or f"{spec.model_type.upper()} on {spec.task} → {preset_name}",
                  "created": time.time(), "spec": spec.to_dict(),
                  "preset": {"name": preset_name, "path": str((user_presets_dir() / preset_name).resolve())},
                  "export_sequences": int(export_sequences),
                  "launches": []}
        atomic_write_json(job_dir / "job.json", record)
        try:
            _launch(job_dir, record, resume=False)
        except BaseException:
            shutil.rmtree(job_dir, ignore_errors=True)
            raise
    return get_job(job_id)


def resume_job(job_id: str, num_batches: int | None = None, lr: float | None = None) -> Job:
    """Start a cancelled, interrupted or diverged job again from its last checkpoint.

    ``num_batches``: a new total (e.g. to train longer than first asked). ``lr``: a new learning
    rate (after the loss diverged to NaN, e.g. half the old one).
    """
    with _jobs_lock():
        job = get_job(job_id)
        if not job.resumable:
            raise JobError(f"job {job.id} is {job.state}; only cancelled, interrupted or diverged jobs can be resumed")
        _check_capacity()
        record = read_json(job.dir / "job.json")
        if num_batches is not None:
            lo, hi = LIMITS["num_batches"]
            if not (isinstance(num_batches, int) and lo <= num_batches <= hi):
                raise JobError(f"num_batches must be between {lo:g} and {hi:g}; got {num_batches!r}")
            record["spec"]["settings"]["num_batches"] = num_batches
        if lr is not None:
            lo, hi = LIMITS["lr"]
            if not (isinstance(lr, (int, float)) and lo <= lr <= hi):
                raise JobError(f"lr must be between {lo:g} and {hi:g}; got {lr!r}")
            record["spec"]["settings"]["lr"] = float(lr)
        _launch(job.dir, record, resume=True)
    return get_job(job_id)


def cancel_job(job_id: str, grace_seconds: float = 10.0) -> Job:
    """Ask a job to stop (SIGTERM to its process group: it checkpoints and records "cancelled"),
    wait up to ``grace_seconds``, then SIGKILL what is left. A job that is not running is left as is."""
    job = get_job(job_id)
    if job.pid is None:
        return job
    with _jobs_lock():                     # recorded, so a kill before the runner could answer still reads "cancelled"
        record = read_json(job.dir / "job.json")
        if record and record.get("launches"):
            record["launches"][-1]["cancel_requested"] = time.time()
            atomic_write_json(job.dir / "job.json", record)
    signal_group(job.pid, signal.SIGTERM)
    if not _wait_gone(job, grace_seconds):
        signal_group(job.pid, signal.SIGKILL)
        _wait_gone(job, 5.0)
    return get_job(job_id)


def remove_job(job_id: str) -> None:
    """Delete a finished job's folder (its saved preset stays)."""
    job = get_job(job_id)
    if job.active:
        raise JobError(f"job {job.id} is {job.state}; cancel it before removing it")
    shutil.rmtree(job.dir)


# ---- internals ----------------------------------------------------------------------------------

def _wait_gone(job: Job, seconds: float) -> bool:
    """Wait up to ``seconds`` for the job's process to end; whether it did."""
    start_time = latest_launch(job.dir).get("start_time")
    deadline = time.monotonic() + seconds
    while alive(job.pid, start_time):
        if time.monotonic() > deadline:
            return False
        _children.reap()
        time.sleep(POLL_SECONDS)
    _children.reap()
    return True


def _launch(job_dir: Path, record: dict[str, Any], resume: bool) -> None:
    """Start the runner for ``job_dir`` and record the launch in job.json (caller holds the lock).

    The launch is recorded before the process starts (the runner reads which launch it is, and
    whether to resume, from it), then again with its pid and start time. The runner is started
    from the project folder as ``python -m ntm.jobs.runner``, so it finds this very package
    whether or not the project is installed."""
    (job_dir / "exit.json").unlink(missing_ok=True)
    launch = len(record["launches"]) + 1
    entry = {"launch": launch, "pid": None, "start_time": None, "started": time.time(), "resume": resume,
             "parent_pid": os.getpid()}
    record["launches"].append(entry)
    atomic_write_json(job_dir / "job.json", record)
    env = {**os.environ, **parent_env(), "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with open(job_dir / "log.txt", "ab") as log:
        log.write(f"== launch {launch} ({'resume' if resume else 'start'}) at "
                  f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        log.flush()
        try:
            pid = _children.start([sys.executable, "-m", RUNNER_MODULE, str(job_dir.resolve())],
                                  cwd=ROOT, env=env, log=log)
        except OSError as exc:
            record["launches"].pop()
            atomic_write_json(job_dir / "job.json", record)
            raise JobError(f"could not start the training process: {exc}") from exc
    entry.update(pid=pid, start_time=process_start_time(pid))
    atomic_write_json(job_dir / "job.json", record)


def _check_capacity() -> None:
    running = active_jobs()
    limit = max_jobs()
    if len(running) >= limit:
        names = ", ".join(j.name for j in running)
        raise JobError(f"{len(running)} job{'s' if len(running) > 1 else ''} already running ({names}); at most "
                       f"{limit} at once on this machine's {os.cpu_count()} cores. Wait for it to finish or "
                       f"cancel it (the limit is set by {MAX_JOBS_ENV}).")


@contextlib.contextmanager
def _jobs_lock() -> Iterator[None]:
    """Serialise starts across sessions and processes (check the limit, then launch)."""
    root = jobs_dir()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
