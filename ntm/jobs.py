"""Background training jobs: one OS process per job, one folder per job, state read from disk.

A job is a training run (``ntm.training.Trainer``) started from the app. It runs in its own
process (``python -m ntm.jobs run <job_dir>``), writes only into its own folder, and when it
finishes saves its model as a user preset. Pages never hold a job in memory: every view is
rebuilt from the folder, so a reload, a second tab or an app restart sees the same truth.

    <data_dir>/jobs/<job_id>/
        job.json        written by the launcher (this module, in the app's process): the spec
                        (``RunSpec.to_dict()``), name, created, the preset to save to, and one
                        entry per launch with the process id and its start time (pid reuse guard)
        log.txt         the process's stdout and stderr, appended at every launch
        exit.json       written by the runner as its last act: launch, exit code, outcome
                        (done | cancelled | interrupted | failed), message, preset path
        status.json, metrics.jsonl, sample.json, checkpoint.json + *.safetensors
                        the run folder of ``ntm.training.Trainer``

Every JSON file is written atomically (``ntm.io``), so a reader never sees half of one.

A job's state is derived, never stored (``job_state``):

    process alive   starting (no status yet) | running | stopping (cancel seen) | saving (preset export)
    process gone    done | cancelled | interrupted | failed   from exit.json of the latest launch;
                    without one (killed, machine stopped): failed if the log ends in a traceback,
                    cancelled if a cancel was asked for, else interrupted. Cancelled and interrupted jobs resume from their checkpoint.

Lifecycle:

    job = start_job(spec, "my-copy")          # validates, refuses beyond the concurrency limit
    cancel_job(job.id)                        # SIGTERM to its process group: checkpoint, "cancelled"
    resume_job(job.id)                        # a new launch with Trainer(resume=True)

No orphans: the runner watches the process that started it (``NTM_EXPLORER_PARENT_PID``); when
that is gone it checkpoints, records "interrupted" and exits.

Test hook (honoured only by the runner): ``NTM_EXPLORER_FAULT`` holds comma-separated faults,
``crash-after-batches:N`` (raise in batch N+1) and ``delay-per-batch:SECONDS`` (sleep in each
batch, to make a tiny job last long enough to watch).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

# Nothing here imports torch at module level: the runner takes SIGTERM before its slow imports,
# so a cancel during start-up is still a clean "cancelled".
ROOT = Path(__file__).resolve().parent.parent

MAX_JOBS_ENV = "NTM_EXPLORER_MAX_JOBS"
PARENT_PID_ENV = "NTM_EXPLORER_PARENT_PID"
PARENT_START_ENV = "NTM_EXPLORER_PARENT_START"
FAULT_ENV = "NTM_EXPLORER_FAULT"

LOG_TAIL_LINES = 20
PARENT_POLL_SECONDS = 0.5
ACTIVE_STATES = ("starting", "running", "stopping", "saving")
RESUMABLE_STATES = ("cancelled", "interrupted")
PRESET_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

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
}


class JobError(ValueError):
    """A job cannot be started, resumed or cancelled; the message says why and what to do."""


# ---- the job as the app sees it -------------------------------------------------------------

@dataclass
class Job:
    """One job, as read from its folder (a snapshot; call ``get_job`` again for fresh state)."""

    id: str
    dir: Path
    name: str
    created: float
    spec: dict[str, Any]
    preset_name: str
    preset_path: Path
    state: str                                   # see the module docstring
    status: dict[str, Any] = field(default_factory=dict)   # status.json of the latest launch
    exit: dict[str, Any] | None = None           # exit.json of the latest launch
    pid: int | None = None                       # the live process, if any
    message: str = ""
    launches: int = 0

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def resumable(self) -> bool:
        return self.state in RESUMABLE_STATES

    @property
    def task(self) -> str:
        return self.spec["task"]

    @property
    def model_type(self) -> str:
        return self.spec["model_type"]

    @property
    def num_batches(self) -> int:
        return int(self.status.get("num_batches") or self.spec["settings"]["num_batches"])

    @property
    def batches(self) -> int:
        return int(self.status.get("batches") or 0)

    @property
    def fraction(self) -> float:
        """Share of the batches done, in [0, 1]."""
        return min(self.batches / max(self.num_batches, 1), 1.0)

    @property
    def total_sequences(self) -> int:
        return self.num_batches * int(self.spec["settings"]["batch_size"])

    @property
    def sequences(self) -> int:
        return int(self.status.get("sequences") or 0)

    @property
    def eta_seconds(self) -> float | None:
        return self.status.get("eta_seconds") if self.state == "running" else None

    @property
    def preset_saved(self) -> bool:
        return self.state == "done" and (self.preset_path / "config.json").is_file()

    @property
    def log_path(self) -> Path:
        return self.dir / "log.txt"

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return log_tail(self.log_path, lines)

    def metrics(self) -> list[dict[str, Any]]:
        """The metrics lines (``ntm.training``: batches, sequences, loss, cost_bits, ...)."""
        from .io import read_jsonl

        return read_jsonl(self.dir / "metrics.jsonl")

    def sample(self) -> dict[str, Any] | None:
        """The latest sample prediction (``sample.json``), or None before the first report."""
        return _read_json(self.dir / "sample.json")


def jobs_dir() -> Path:
    from .presets import data_dir

    return data_dir() / "jobs"


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
    _reap()
    root = jobs_dir()
    if not root.is_dir():
        return []
    jobs = [job for d in root.iterdir() if d.is_dir() and (job := _load(d)) is not None]
    return sorted(jobs, key=lambda j: (j.created, j.id), reverse=True)


def get_job(job_id: str) -> Job:
    _reap()
    job = _load(jobs_dir() / _check_id(job_id))
    if job is None:
        raise JobError(f"no job {job_id!r} (it was removed, or belongs to another data folder)")
    return job


def active_jobs() -> list[Job]:
    return [j for j in list_jobs() if j.active]


# ---- starting, cancelling, resuming -----------------------------------------------------------

def check_preset_name(name: str) -> str:
    """The preset name, stripped, if it is a safe folder name not taken by a preset or a job.

    Raises:
        JobError: why the name cannot be used.
    """
    from .presets import list_presets

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


def check_limits(spec: Any) -> None:
    """Raises JobError if a main hyperparameter of ``spec`` (a ``RunSpec``) is outside ``LIMITS``."""
    values = {**vars(spec.settings), **spec.model}
    for key, (lo, hi) in LIMITS.items():
        if key in values and values[key] is not None and not (lo <= values[key] <= hi):
            raise JobError(f"{key} must be between {lo:g} and {hi:g}; got {values[key]!r}")


def start_job(spec: Any, preset_name: str, name: str | None = None, export_sequences: int = 100) -> Job:
    """Validate ``spec`` (a ``RunSpec`` from ``ntm.training.resolve_params``) and start it.

    ``export_sequences``: sequences per length for the generalisation table saved with the preset.

    Raises:
        JobError: a bad preset name, a value outside ``LIMITS``, or the concurrency limit reached;
            nothing is started and no folder is left behind.
    """
    from .presets import user_presets_dir
    from .training import RunSpec

    if not isinstance(spec, RunSpec):
        raise JobError(f"start_job needs a RunSpec; got {type(spec).__name__}")
    check_limits(spec)
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


def resume_job(job_id: str, num_batches: int | None = None) -> Job:
    """Start a cancelled or interrupted job again from its last checkpoint.

    ``num_batches``: a new total (e.g. to train longer than first asked).
    """
    with _jobs_lock():
        job = get_job(job_id)
        if not job.resumable:
            raise JobError(f"job {job.id} is {job.state}; only cancelled or interrupted jobs can be resumed")
        _check_capacity()
        record = _read_json(job.dir / "job.json")
        if num_batches is not None:
            lo, hi = LIMITS["num_batches"]
            if not (isinstance(num_batches, int) and lo <= num_batches <= hi):
                raise JobError(f"num_batches must be between {lo:g} and {hi:g}; got {num_batches!r}")
            record["spec"]["settings"]["num_batches"] = num_batches
        _launch(job.dir, record, resume=True)
    return get_job(job_id)


def cancel_job(job_id: str, grace_seconds: float = 10.0) -> Job:
    """Ask a job to stop (SIGTERM to its process group: it checkpoints and records "cancelled"),
    wait up to ``grace_seconds``, then SIGKILL what is left. A job that is not running is left as is."""
    job = get_job(job_id)
    if job.pid is None:
        return job
    with _jobs_lock():                     # recorded, so a kill before the runner could answer still reads "cancelled"
        record = _read_json(job.dir / "job.json")
        if record and record.get("launches"):
            record["launches"][-1]["cancel_requested"] = time.time()
            atomic_write_json(job.dir / "job.json", record)
    _signal_group(job.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        _reap()
        if not _alive(job.pid, _launch_start(job.dir)):
            return get_job(job_id)
        time.sleep(0.05)
    _signal_group(job.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(job.pid, _launch_start(job.dir)):
        _reap()
        time.sleep(0.05)
    return get_job(job_id)


def remove_job(job_id: str) -> None:
    """Delete a finished job's folder (its saved preset stays)."""
    job = get_job(job_id)
    if job.active:
        raise JobError(f"job {job.id} is {job.state}; cancel it before removing it")
    shutil.rmtree(job.dir)


def log_tail(path: str | os.PathLike, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a text file ('' if there is none)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(size - 64 * 1024, 0))
            text = f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    # tqdm-style carriage returns: keep what the terminal would show.
    shown = [line.rsplit("\r", 1)[-1] for line in text.splitlines()]
    return "\n".join(shown[-lines:])


def spec_command(spec: dict[str, Any], run_dir: str | os.PathLike, preset_path: str | os.PathLike) -> str:
    """The ``python -m ntm train`` command equivalent to a job, for the preset's README."""
    from .training import TrainSettings

    defaults = vars(TrainSettings())
    args = ["python", "-m", "ntm", "train", "--task", spec["task"], "--model-type", spec["model_type"],
            "--seed", str(spec["seed"])]
    for key, value in spec["settings"].items():
        if value != defaults.get(key):
            args += ["-p", f"{key}={value}"]
    for key, value in {**spec.get("model", {}), **spec.get("task_params", {})}.items():
        args += ["-p", f"{key}={value}"]
    args += ["--checkpoint-path", str(run_dir), "--no-progress", "--preset-out", str(preset_path)]
    return " ".join(shlex.quote(a) for a in args)


def atomic_write_json(path: Path, obj: Any) -> None:
    from .io import atomic_write_json as write

    write(path, obj)


# ---- internals: processes -------------------------------------------------------------------

_children: dict[int, subprocess.Popen] = {}     # processes this process started, to reap them
_children_lock = threading.Lock()


def _reap() -> None:
    """Collect the exit status of finished children so they do not linger as zombies."""
    with _children_lock:
        for pid, proc in list(_children.items()):
            if proc.poll() is not None:
                del _children[pid]


def process_start_time(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), or None if there is
    no such process. Recorded with a pid so a later, unrelated process reusing it is not mistaken
    for the job."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    after = stat.rsplit(")", 1)[-1].split()     # fields 3.. (the name may contain spaces and ')')
    if after[0] == "Z":                           # a zombie has finished; only its status remains
        return None
    return int(after[19])                         # field 22: starttime


def _alive(pid: int | None, start_time: int | None) -> bool:
    if not pid:
        return False
    if Path("/proc/self/stat").exists():
        now = process_start_time(pid)
        return now is not None and (start_time is None or now == start_time)
    try:                                          # no /proc: best effort
        os.kill(pid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)                       # the runner leads its own session and group
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _launch(job_dir: Path, record: dict[str, Any], resume: bool) -> None:
    """Start the runner for ``job_dir`` and record the launch in job.json (caller holds the lock).

    The launch is recorded before the process starts (so the runner reads a complete job.json),
    then again with its pid and start time."""
    (job_dir / "exit.json").unlink(missing_ok=True)
    launch = len(record["launches"]) + 1
    entry = {"launch": launch, "pid": None, "start_time": None, "started": time.time(), "resume": resume,
             "parent_pid": os.getpid()}
    record["launches"].append(entry)
    atomic_write_json(job_dir / "job.json", record)
    env = dict(os.environ)
    env.update({PARENT_PID_ENV: str(os.getpid()), PARENT_START_ENV: str(process_start_time(os.getpid()) or ""),
                "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)})
    argv = [sys.executable, "-m", "ntm.jobs", "run", str(job_dir), str(launch)] + (["resume"] if resume else [])
    with open(job_dir / "log.txt", "ab") as log:
        log.write(f"== launch {launch} ({'resume' if resume else 'start'}) at "
                  f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        log.flush()
        try:
            proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            record["launches"].pop()
            atomic_write_json(job_dir / "job.json", record)
            raise JobError(f"could not start the training process: {exc}") from exc
    with _children_lock:
        _children[proc.pid] = proc
    entry.update(pid=proc.pid, start_time=process_start_time(proc.pid))
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


# ---- internals: reading a job folder ----------------------------------------------------------

def _check_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not re.fullmatch(r"[0-9A-Za-z_-]+", job_id):
        raise JobError(f"not a job id: {job_id!r}")
    return job_id


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _launch_start(job_dir: Path) -> int | None:
    record = _read_json(job_dir / "job.json") or {}
    launches = record.get("launches") or [{}]
    return launches[-1].get("start_time")


def _load(job_dir: Path) -> Job | None:
    record = _read_json(job_dir / "job.json")
    if record is None or "spec" not in record:
        return None
    launches = record.get("launches", [])
    last = launches[-1] if launches else {}
    pid = last.get("pid")
    alive = _alive(pid, last.get("start_time"))
    status = _read_json(job_dir / "status.json") or {}
    if status.get("pid") != pid:
        status = {**status, "state": None} if alive else status   # left from an earlier launch
    exit_record = _read_json(job_dir / "exit.json")
    if exit_record is not None and exit_record.get("launch") != last.get("launch"):
        exit_record = None
    if pid is None and time.time() - float(last.get("started") or 0) < 30:
        alive = True                      # being launched right now (job.json is written twice)
    state, message = job_state(alive, status, exit_record, job_dir, bool(last.get("cancel_requested")))
    preset_path = Path(record["preset"]["path"])
    if exit_record and exit_record.get("preset"):
        preset_path = Path(exit_record["preset"])     # where it was saved (``name-2`` if the name was taken)
    return Job(id=record["id"], dir=job_dir, name=record.get("name", record["id"]),
               created=float(record.get("created", 0)), spec=record["spec"],
               preset_name=preset_path.name, preset_path=preset_path,
               state=state, status=status, exit=exit_record, pid=pid if alive else None,
               message=message, launches=len(launches))


def job_state(alive: bool, status: dict[str, Any], exit_record: dict[str, Any] | None,
              job_dir: Path, cancel_requested: bool = False) -> tuple[str, str]:
    """The job's state and a one-line message, from whether its process is alive, its
    status.json, its exit record and whether a cancel was asked for (see the module docstring)."""
    trainer_state = status.get("state")
    if alive:
        return {None: ("starting", "starting the training process"),
                "running": ("running", ""),
                "done": ("saving", "training finished; evaluating and saving the preset"),
                }.get(trainer_state, ("stopping", "stopping: writing a checkpoint"))
    if exit_record is not None:
        outcome = exit_record.get("outcome")
        if outcome in ("done", "cancelled", "interrupted", "failed"):
            return outcome, exit_record.get("message", "")
        return "failed", f"unknown outcome {outcome!r} (exit code {exit_record.get('exit_code')})"
    # No exit record: the process was killed, or died before it could write one.
    tail = log_tail(job_dir / "log.txt")
    if "Traceback (most recent call last)" in tail or trainer_state == "failed":
        return "failed", status.get("message") or "the training process crashed (see the log)"
    has_ckpt = (job_dir / "checkpoint.json").is_file()
    where = "its last checkpoint" if has_ckpt else "the start (no checkpoint was written)"
    if cancel_requested:
        return "cancelled", f"cancelled; resume continues from {where}"
    return "interrupted", f"the training process stopped without finishing (killed, or the app stopped); " \
                          f"resume continues from {where}"


# ---- the runner (the job's own process) ---------------------------------------------------------

class _Stop(Exception):
    """Raised in the runner when a stop arrives outside the training loop (e.g. mid-export)."""


class _Runner:
    def __init__(self, job_dir: Path, launch: int, resume: bool):
        self.job_dir = job_dir
        self.record = _read_json(job_dir / "job.json")
        if self.record is None:
            raise SystemExit(f"error: {job_dir / 'job.json'} is missing or unreadable")
        self.launch = launch
        self.resume = resume
        self.trainer = None
        self.phase = "setup"
        self.stop_requested = False
        self.parent_gone = False

    # SIGTERM/SIGINT outside Trainer.run (which installs its own handler, request_stop).
    def on_signal(self, signum: int, _frame: Any) -> None:
        self.stop_requested = True
        if self.trainer is not None:
            self.trainer.request_stop()
        if self.phase == "export":
            raise _Stop()

    def watch_parent(self) -> None:
        """Stop (checkpoint, "interrupted") when the app that started the job is gone."""
        pid = int(os.environ.get(PARENT_PID_ENV) or 0)
        start = os.environ.get(PARENT_START_ENV) or None
        if not pid:
            return
        start = int(start) if start else None
        while _alive(pid, start):
            time.sleep(PARENT_POLL_SECONDS)
        self.parent_gone = True
        print(f"the app (pid {pid}) that started this job is gone: stopping", flush=True)
        os.kill(os.getpid(), signal.SIGTERM)

    def exit(self, code: int, outcome: str, message: str, preset: str | None = None) -> int:
        atomic_write_json(self.job_dir / "exit.json", {
            "launch": self.launch, "exit_code": code, "outcome": outcome, "message": message,
            "preset": preset, "finished": time.time(), "pid": os.getpid()})
        print(f"== {outcome}: {message}", flush=True)
        return code

    def stopped(self, where: str) -> int:
        if self.parent_gone:
            return self.exit(0, "interrupted", f"the app stopped {where}; resume to continue")
        return self.exit(0, "cancelled", f"cancelled {where}")

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.on_signal)
        threading.Thread(target=self.watch_parent, daemon=True).start()
        try:
            import torch

            from .training import RunSpec, Trainer

            torch.set_num_threads(1)
            if self.stop_requested:
                return self.stopped("before training started")
            spec = RunSpec.from_dict(self.record["spec"])
            preset_path = Path(self.record["preset"]["path"])
            command = spec_command(self.record["spec"], self.job_dir, preset_path)
            if self.resume:
                command += " --resume"
            self.trainer = trainer = Trainer(spec, self.job_dir, resume=self.resume, progress=False,
                                             command=command)
            _inject_faults(trainer, os.environ.get(FAULT_ENV, ""))
            if self.stop_requested:
                trainer.request_stop()
            print(f"{'resuming at' if trainer.resumed else 'starting'} batch {trainer.batches} of "
                  f"{spec.settings.num_batches}", flush=True)
            self.phase = "train"
            status = trainer.run()
            if status["state"] != "done":
                return self.stopped(f"at batch {trainer.batches} of {trainer.spec.settings.num_batches}")
            self.phase = "export"
            if self.stop_requested:
                raise _Stop()
            print(f"trained {trainer.batches} batches; evaluating and saving preset {preset_path}", flush=True)
            target = _free_preset_path(preset_path)
            path = trainer.export_preset(target, sequences=int(self.record.get("export_sequences", 100)))
            self.phase = "finished"
            return self.exit(0, "done", f"saved as preset {path.name}", preset=str(path))
        except _Stop:
            self.phase = "finished"         # a second stop signal now only sets the flag
            return self.stopped("while saving the preset (training was complete)")
        except BaseException as exc:  # noqa: BLE001 - the log and the exit record must say what happened
            self.phase = "finished"
            import traceback

            traceback.print_exc()
            sys.stdout.flush()
            return self.exit(1, "failed", f"{type(exc).__name__}: {exc}")


def _free_preset_path(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3``... if a preset appeared there while the job ran."""
    candidate, n = path, 2
    while (candidate / "config.json").exists():
        candidate, n = path.with_name(f"{path.name}-{n}"), n + 1
    return candidate


def _inject_faults(trainer: Any, spec: str) -> None:
    """The ``NTM_EXPLORER_FAULT`` test hook (see the module docstring)."""
    crash_after, delay = None, 0.0
    for part in filter(None, (p.strip() for p in spec.split(","))):
        kind, _, value = part.partition(":")
        if kind == "crash-after-batches":
            crash_after = int(value)
        elif kind == "delay-per-batch":
            delay = float(value)
        else:
            raise ValueError(f"{FAULT_ENV}: unknown fault {part!r}")
    if crash_after is None and not delay:
        return
    real = trainer.train_batch

    def train_batch():
        if crash_after is not None and trainer.batches >= crash_after:
            raise RuntimeError(f"injected fault ({FAULT_ENV}=crash-after-batches:{crash_after})")
        if delay:
            time.sleep(delay)
        return real()

    trainer.train_batch = train_batch


def main(argv: list[str] | None = None) -> int:
    """``python -m ntm.jobs run <job_dir> <launch> [resume]`` (started by ``start_job``/``resume_job``)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (3, 4) or argv[0] != "run" or not argv[2].isdigit() or argv[3:] not in ([], ["resume"]):
        print("usage: python -m ntm.jobs run <job_dir> <launch> [resume]", file=sys.stderr)
        return 2
    return _Runner(Path(argv[1]), int(argv[2]), resume=argv[3:] == ["resume"]).run()


if __name__ == "__main__":
    sys.exit(main())
