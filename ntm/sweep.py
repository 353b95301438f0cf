"""Sweeps: a set of training runs (tasks x model types x seeds x settings) started, watched and
cancelled as one, on this machine or on a Ray cluster.

Every run of a sweep is an ordinary training job (``ntm.jobs``): it has a job folder with the same
``metrics.jsonl``, ``status.json``, checkpoint and ``exit.json`` as a run started from the Train
page, and saves a preset, so everything that reads jobs (the Train page's curves, the observatory)
shows a sweep's runs beside single runs. What a sweep adds is the queue and the place they run:

    local (default)  runs are started as jobs whenever the jobs' concurrency limit allows
                     (``NTM_EXPLORER_MAX_JOBS``), until all have run
    Ray              ``ray=ADDRESS`` (or ``RAY_ADDRESS`` in the environment; ``"local"`` starts a
                     Ray instance on this machine): every run is one Ray task (one CPU); each
                     run's folder and preset are copied back into its job folder as it finishes.
                     The workers must have this project installed (``pip install -e .`` or the
                     wheel) with the same torch.

A sweep has its own process (``python -m ntm.sweep <folder>``), so it keeps going when the page is
closed; cancelling it (SIGTERM) cancels its running jobs, or its Ray tasks, and starts nothing more.

    <data_dir>/sweeps/<sweep id>/
        sweep.json    the spec, where it runs, its process, and per run: label, job id once started
        exit.json     the sweep process's last act: outcome (done | cancelled | failed), message
        log.txt       its output

    spec = SweepSpec("copy-seeds", tasks=["copy"], seeds=[1, 2, 3, 4], params={"num_batches": 2000},
                     grid={"lr": [1e-4, 3e-4]})
    sweep = start_sweep(spec)                 # or start_sweep(spec, ray="10.0.0.5:6379")
    get_sweep(sweep.id).runs                  # each run's label and job
    cancel_sweep(sweep.id)

Importing this module loads neither torch nor ray; expanding a spec into runs imports
``ntm.training`` (to validate every run before anything starts), and only a Ray sweep imports ray.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import shutil
import signal
import sys
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .io import ROOT, atomic_write_bytes, atomic_write_json, data_dir
from .jobs import JobError, cancel_job, get_job, jobs_dir, start_job
from .jobs.process import ChildProcesses, background_state, parent_env, process_start_time, stop_group
from .jobs.record import read_json

SWEEP_ID_RE = re.compile(r"[0-9]{8}-[0-9]{6}-[0-9a-f]{6}")
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,47}")
MAX_RUNS = 256
POLL_SECONDS = 1.0
MODULE = "ntm.sweep"
_children = ChildProcesses()


class SweepError(ValueError):
    """A sweep cannot be built, started or cancelled; the message says why and what to do."""


@dataclass
class SweepSpec:
    """What a sweep runs: every combination of ``tasks`` x ``model_types`` x ``seeds`` x ``grid``.

    ``params`` are ``-p`` settings shared by every run (e.g. ``num_batches``, ``memory_slots``);
    ``grid`` maps a ``-p`` key to the values to try. ``export_sequences``: sequences per length
    for each run's generalisation table.
    """

    name: str
    tasks: list[str] = field(default_factory=lambda: ["copy"])
    model_types: list[str] = field(default_factory=lambda: ["ntm"])
    seeds: list[int] = field(default_factory=lambda: [1000])
    params: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    export_sequences: int = 100

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SweepSpec":
        return cls(**d)


@dataclass
class Run:
    """One run of a sweep: what it is and, once started, its job."""

    label: str                      # "copy · ntm · seed 2 · lr=0.0003"
    preset_name: str
    spec: dict[str, Any]            # RunSpec.to_dict()
    job: str | None = None


def expand(spec: SweepSpec) -> list[Run]:
    """The runs of ``spec``, each validated as ``python -m ntm train`` would.

    Raises:
        SweepError: a bad name, an empty axis, too many runs, or a run whose parameters are wrong
            (the message names the run and the parameter).
    """
    from .training import resolve_params      # torch: when a sweep is built, not on import

    if not isinstance(spec.name, str) or not NAME_RE.fullmatch(spec.name):
        raise SweepError(f"sweep name {spec.name!r} must be 1-48 letters, digits, '-', '_' or '.', "
                         f"starting with a letter or digit")
    axes = {"tasks": spec.tasks, "model_types": spec.model_types, "seeds": spec.seeds,
            **{f"grid {k}": v for k, v in spec.grid.items()}}
    for axis, values in axes.items():
        if not isinstance(values, list) or not values:
            raise SweepError(f"{axis}: give at least one value")
    if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in spec.seeds):
        raise SweepError(f"seeds must be whole numbers >= 0; got {spec.seeds!r}")
    overlap = sorted(set(spec.params) & set(spec.grid))
    if overlap:
        raise SweepError(f"{', '.join(overlap)} is both a shared parameter and a grid axis: keep one")
    count = len(spec.tasks) * len(spec.model_types) * len(spec.seeds)
    for values in spec.grid.values():
        count *= len(values)
    if count > MAX_RUNS:
        raise SweepError(f"the sweep has {count} runs, more than {MAX_RUNS}: split it")
    runs = []
    keys = list(spec.grid)
    for task, model_type, seed, *values in itertools.product(spec.tasks, spec.model_types, spec.seeds,
                                                             *spec.grid.values()):
        setting = dict(zip(keys, values))
        pairs = [f"{k}={v}" for k, v in {**spec.params, **setting}.items()]
        label = " · ".join([task, model_type, f"seed {seed}", *(f"{k}={v}" for k, v in setting.items())])
        try:
            run_spec = resolve_params(task, model_type, pairs, settings_overrides={"threads": 1})
        except ValueError as exc:
            raise SweepError(f"run {label}: {exc}") from None
        run_spec.seed = int(seed)
        runs.append(Run(label, f"{spec.name}-{len(runs) + 1}", run_spec.to_dict()))
    return runs


# ---- the API the app and the command line call ----------------------------------------------------

@dataclass
class Sweep:
    """A sweep as read from its folder (a snapshot)."""

    id: str
    dir: Path
    spec: SweepSpec
    ray: str | None
    state: str                      # running | done | cancelled | failed | interrupted
    runs: list[Run]
    message: str = ""

    @property
    def active(self) -> bool:
        return self.state == "running"

    def jobs(self) -> list[Any]:
        """The ``ntm.jobs.Job`` of every run started so far."""
        out = []
        for run in self.runs:
            if run.job:
                try:
                    out.append(get_job(run.job))
                except JobError:
                    pass
        return out


def sweeps_dir() -> Path:
    return data_dir() / "sweeps"


def start_sweep(spec: SweepSpec, ray: str | None = None) -> Sweep:
    """Check every run of ``spec`` and start the sweep's process.

    ``ray``: a Ray cluster address, ``"local"`` for a Ray instance on this machine, or None to run
    here as jobs (``RAY_ADDRESS`` in the environment counts as an address).

    Raises:
        SweepError: the spec is wrong (nothing is started), or the process could not be started.
    """
    runs = expand(spec)
    ray = ray or os.environ.get("RAY_ADDRESS") or None
    if ray is not None:
        try:
            import ray as _ray  # noqa: F401 - only to say early that it is missing
        except ImportError:
            raise SweepError("running a sweep on Ray needs the ray package: pip install 'ray==2.60.0'") from None
    sweep_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
    folder = sweeps_dir() / sweep_id
    folder.mkdir(parents=True)
    record = {"id": sweep_id, "created": time.time(), "spec": spec.to_dict(), "ray": ray,
              "runs": [asdict(r) for r in runs], "pid": None, "start_time": None}
    atomic_write_json(folder / "sweep.json", record)
    env = {**os.environ, **parent_env(), "PYTHONUNBUFFERED": "1"}
    with open(folder / "log.txt", "ab") as log:
        try:
            pid = _children.start([sys.executable, "-m", MODULE, str(folder.resolve())], cwd=ROOT, env=env, log=log)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise SweepError(f"could not start the sweep process: {exc}") from exc
    _update(folder, pid=pid, start_time=process_start_time(pid))
    return get_sweep(sweep_id)


def get_sweep(sweep_id: str) -> Sweep:
    """The sweep ``sweep_id`` as its folder says now.

    Raises:
        SweepError: not a sweep id, or no such sweep.
    """
    _children.reap()
    if not isinstance(sweep_id, str) or not SWEEP_ID_RE.fullmatch(sweep_id):
        raise SweepError(f"not a sweep id: {sweep_id!r}")
    folder = sweeps_dir() / sweep_id
    record = read_json(folder / "sweep.json")
    if record is None:
        raise SweepError(f"no sweep {sweep_id!r} (it was removed, or belongs to another data folder)")
    state, message = background_state(record, read_json(folder / "exit.json"),
                                      "the sweep process stopped before it finished")
    return Sweep(sweep_id, folder, SweepSpec.from_dict(record["spec"]), record.get("ray"), state,
                 [Run(**r) for r in record.get("runs", [])], message)


def list_sweeps() -> list[Sweep]:
    root = sweeps_dir()
    found = []
    for p in (root.iterdir() if root.is_dir() else []):
        try:
            found.append(get_sweep(p.name))
        except SweepError:
            pass
    return sorted(found, key=lambda s: s.id, reverse=True)


def cancel_sweep(sweep_id: str, grace_seconds: float = 30.0) -> Sweep:
    """Stop a sweep: nothing more starts, its running jobs (or Ray tasks) are cancelled."""
    sweep = get_sweep(sweep_id)
    record = read_json(sweep.dir / "sweep.json") or {}
    pid, start = record.get("pid"), record.get("start_time")
    if sweep.active and pid:
        stop_group(pid, start, grace_seconds, _children.reap)
    for job in get_sweep(sweep_id).jobs():            # whatever the process could not stop itself
        if job.active:
            cancel_job(job.id)
    if not (sweep.dir / "exit.json").exists():
        atomic_write_json(sweep.dir / "exit.json", {"outcome": "cancelled", "message": "cancelled"})
    _children.reap()
    return get_sweep(sweep_id)


def _update(folder: Path, **changes: Any) -> dict[str, Any]:
    record = read_json(folder / "sweep.json") or {}
    record.update(changes)
    atomic_write_json(folder / "sweep.json", record)
    return record


# ---- the sweep's own process ----------------------------------------------------------------------

class _Process:
    """Runs the sweep in ``folder`` (see the module docstring)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.record = read_json(folder / "sweep.json") or {}
        self.spec = SweepSpec.from_dict(self.record["spec"])
        self.runs = [Run(**r) for r in self.record["runs"]]
        self.stop = threading.Event()

    def save_runs(self) -> None:
        self.record = _update(self.folder, runs=[asdict(r) for r in self.runs])

    def finish(self, outcome: str, message: str) -> int:
        atomic_write_json(self.folder / "exit.json", {"outcome": outcome, "message": message})
        print(f"sweep {outcome}: {message}", flush=True)
        return 0 if outcome == "done" else 1

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())
        try:
            return self.run_ray(self.record["ray"]) if self.record.get("ray") else self.run_local()
        except Exception as exc:                # noqa: BLE001 - the page shows the message, the log the rest
            traceback.print_exc()
            return self.finish("failed", f"{type(exc).__name__}: {exc}")

    # -- local: jobs as capacity allows --
    def run_local(self) -> int:
        from .training import RunSpec

        while True:
            pending = [r for r in self.runs if r.job is None]
            running = [r for r in self.runs if r.job and get_job(r.job).active]
            if self.stop.is_set():
                for r in running:
                    cancel_job(r.job)
                return self.finish("cancelled", f"cancelled with {len(pending)} run(s) not started")
            if not pending and not running:
                failed = [r.label for r in self.runs if get_job(r.job).state != "done"]
                if failed:
                    return self.finish("failed", f"{len(failed)} of {len(self.runs)} runs did not finish: "
                                                 + "; ".join(failed[:5]))
                return self.finish("done", f"{len(self.runs)} runs done")
            for r in pending:
                try:
                    job = start_job(RunSpec.from_dict(r.spec), r.preset_name, name=f"{self.spec.name}: {r.label}",
                                    export_sequences=self.spec.export_sequences)
                except JobError as exc:
                    if "already running" in str(exc):
                        break                  # at the concurrency limit: wait for a job to end
                    r.job = None
                    return self.finish("failed", f"run {r.label} could not start: {exc}")
                r.job = job.id
                self.save_runs()
                print(f"started {r.label} as job {job.id}", flush=True)
            self.stop.wait(POLL_SECONDS)

    # -- Ray: one task per run, results copied back --
    def run_ray(self, address: str) -> int:
        import ray

        ray.init(address=None if address == "local" else address, include_dashboard=False,
                 log_to_driver=False, logging_level="WARNING",
                 **({"num_cpus": os.cpu_count() or 1} if address == "local" else {}))
        remote = ray.remote(num_cpus=1, max_retries=0)(train_remote)
        pid, start = os.getpid(), process_start_time(os.getpid())
        pending = {}
        for r in self.runs:
            job_dir = _new_job_dir()
            r.job = job_dir.name
            atomic_write_json(job_dir / "job.json", {
                "id": job_dir.name, "name": f"{self.spec.name}: {r.label} (Ray)", "created": time.time(),
                "spec": r.spec, "preset": {"name": r.preset_name, "path": str(_preset_dir(r.preset_name))},
                "export_sequences": self.spec.export_sequences,
                "launches": [{"launch": 1, "pid": pid, "start_time": start, "started": time.time(),
                              "resume": False, "ray": address}]})
            atomic_write_json(job_dir / "status.json", {"state": "running", "pid": pid, "batches": 0,
                                                        "num_batches": r.spec["settings"]["num_batches"],
                                                        "message": f"running on Ray ({address})",
                                                        "updated": time.time()})
            pending[remote.remote(r.spec, self.spec.export_sequences)] = (r, job_dir)
        self.save_runs()
        failures = []
        while pending:
            if self.stop.is_set():
                for ref, (r, job_dir) in pending.items():
                    ray.cancel(ref, force=True)
                    _write_exit(job_dir, "cancelled", "cancelled with its sweep")
                return self.finish("cancelled", f"cancelled with {len(pending)} run(s) unfinished")
            done, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_SECONDS)
            for ref in done:
                r, job_dir = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as exc:      # noqa: BLE001 - a run's failure is its job's outcome
                    failures.append(r.label)
                    _write_exit(job_dir, "failed", f"the Ray task failed: {type(exc).__name__}: {exc}")
                    continue
                preset = _copy_back(result, job_dir, r.preset_name)
                _write_exit(job_dir, "done", f"trained on Ray; saved as preset {preset.name}", preset=str(preset))
                print(f"{r.label}: done on Ray, job {job_dir.name}", flush=True)
        if failures:
            return self.finish("failed", f"{len(failures)} of {len(self.runs)} runs failed: " + "; ".join(failures[:5]))
        return self.finish("done", f"{len(self.runs)} runs done on Ray")


def train_remote(spec: dict[str, Any], export_sequences: int) -> dict[str, dict[str, bytes]]:
    """One run, on a Ray worker: train in a temporary folder, export the preset, and return both
    folders' files (``{"run": {name: bytes}, "preset": {name: bytes}}``; a few MB for our models)."""
    import tempfile

    import torch

    from .training import RunSpec, Trainer

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir, preset_dir = Path(tmp) / "run", Path(tmp) / "preset"
        trainer = Trainer(RunSpec.from_dict(spec), run_dir, progress=False, command="(a sweep run on Ray)")
        trainer.run()
        trainer.export_preset(preset_dir, sequences=export_sequences)
        return {name: {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
                for name, folder in (("run", run_dir), ("preset", preset_dir))}


def _new_job_dir() -> Path:
    job_dir = jobs_dir() / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
    job_dir.mkdir(parents=True)
    return job_dir


def _preset_dir(name: str) -> Path:
    from .presets import user_presets_dir   # torch: only in the sweep's process

    return (user_presets_dir() / name).resolve()


def _copy_back(result: dict[str, dict[str, bytes]], job_dir: Path, preset_name: str) -> Path:
    """Write a Ray run's files into its job folder and its preset into the user presets folder
    (``name-2``... if the name was taken meanwhile). Only plain file names are accepted."""
    from .jobs.runner import free_preset_path

    def write_all(files: dict[str, bytes], folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            if Path(name).name != name or name in (".", ".."):
                raise SweepError(f"a Ray result named a file {name!r} outside its folder")
            atomic_write_bytes(folder / name, data)

    write_all(result["run"], job_dir)
    status = json.loads(result["run"].get("status.json", b"{}") or b"{}")
    atomic_write_json(job_dir / "status.json", {**status, "pid": read_json(job_dir / "job.json")["launches"][-1]["pid"]})
    preset = free_preset_path(_preset_dir(preset_name))
    write_all(result["preset"], preset)
    return preset


def _write_exit(job_dir: Path, outcome: str, message: str, preset: str | None = None) -> None:
    atomic_write_json(job_dir / "exit.json", {"launch": 1, "exit_code": 0 if outcome == "done" else 1,
                                              "outcome": outcome, "message": message, "preset": preset})


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not (Path(args[0]) / "sweep.json").is_file():
        print("usage: python -m ntm.sweep SWEEP_FOLDER (made by ntm.sweep.start_sweep)", file=sys.stderr)
        return 2
    return _Process(Path(args[0])).run()


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["SweepError", "SweepSpec", "Run", "Sweep", "expand", "sweeps_dir", "start_sweep", "get_sweep",
           "list_sweeps", "cancel_sweep", "train_remote"]
