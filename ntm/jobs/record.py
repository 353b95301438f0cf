"""A job as read from its folder: the ``Job`` record and its derived state.

Nothing here writes: the launcher (``control``) writes ``job.json``, the runner writes
``exit.json`` and the trainer the rest (see the package docstring for the folder layout). A job's
state is never stored; ``job_state`` derives it from what the folder and the process table say.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..io import data_dir, read_jsonl
from .process import alive

LOG_TAIL_LINES = 20
ACTIVE_STATES = ("starting", "running", "stopping", "saving")
RESUMABLE_STATES = ("cancelled", "interrupted", "diverged")
LAUNCH_GRACE_SECONDS = 30       # a launch without a pid yet is taken as starting for this long


def jobs_dir() -> Path:
    """``<data_dir>/jobs``: one folder per job."""
    return data_dir() / "jobs"


@dataclass
class Job:
    """One job, as read from its folder (a snapshot; call ``get_job`` again for fresh state)."""

    id: str
    dir: Path
    name: str
    created: float
    spec: dict[str, Any]                         # RunSpec.to_dict()
    preset_name: str
    preset_path: Path
    state: str                                   # see ``job_state``
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
        return read_jsonl(self.dir / "metrics.jsonl")

    def sample(self) -> dict[str, Any] | None:
        """The latest sample prediction (``sample.json``), or None before the first report."""
        return read_json(self.dir / "sample.json")


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``, or None if it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


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


def latest_launch(job_dir: Path) -> dict[str, Any]:
    """The entry of the latest launch in ``job.json`` ({} if there is none)."""
    record = read_json(job_dir / "job.json") or {}
    launches = record.get("launches") or [{}]
    return launches[-1]


def load_job(job_dir: Path) -> Job | None:
    """The job in ``job_dir``, or None if it holds no readable ``job.json``."""
    record = read_json(job_dir / "job.json")
    if record is None or "spec" not in record:
        return None
    launches = record.get("launches", [])
    last = launches[-1] if launches else {}
    pid = last.get("pid")
    is_alive = alive(pid, last.get("start_time"))
    status = read_json(job_dir / "status.json") or {}
    if status.get("pid") != pid:
        status = {**status, "state": None} if is_alive else status   # left from an earlier launch
    exit_record = read_json(job_dir / "exit.json")
    if exit_record is not None and exit_record.get("launch") != last.get("launch"):
        exit_record = None
    if pid is None and time.time() - float(last.get("started") or 0) < LAUNCH_GRACE_SECONDS:
        is_alive = True                   # being launched right now (job.json is written twice)
    if exit_record is not None and last.get("ray"):
        is_alive = False                  # a sweep's Ray run: its launch pid is the sweep, which goes on
    state, message = job_state(is_alive, status, exit_record, job_dir, bool(last.get("cancel_requested")))
    preset_path = Path(record["preset"]["path"])
    if exit_record and exit_record.get("preset"):
        preset_path = Path(exit_record["preset"])     # where it was saved (``name-2`` if the name was taken)
    return Job(id=record["id"], dir=job_dir, name=record.get("name", record["id"]),
               created=float(record.get("created", 0)), spec=record["spec"],
               preset_name=preset_path.name, preset_path=preset_path,
               state=state, status=status, exit=exit_record, pid=pid if is_alive else None,
               message=message, launches=len(launches))


def job_state(alive: bool, status: dict[str, Any], exit_record: dict[str, Any] | None,
              job_dir: Path, cancel_requested: bool = False) -> tuple[str, str]:
    """The job's state and a one-line message, from whether its process is alive, its
    status.json, its exit record and whether a cancel was asked for:

        process alive   starting (no status yet) | running | stopping (cancel seen) | saving (preset export)
        process gone    done | cancelled | interrupted | failed   from exit.json of the latest launch;
                        without one (killed, machine stopped): failed if the log ends in a traceback,
                        cancelled if a cancel was asked for, else interrupted.
    """
    trainer_state = status.get("state")
    if alive:
        return {None: ("starting", "starting the training process"),
                "running": ("running", ""),
                "done": ("saving", "training finished; evaluating and saving the preset"),
                }.get(trainer_state, ("stopping", "stopping: writing a checkpoint"))
    if exit_record is not None:
        outcome = exit_record.get("outcome")
        if outcome in ("done", "cancelled", "interrupted", "failed", "diverged"):
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
