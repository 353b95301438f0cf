"""Long generalisation evaluations in the background: one process per request, results on disk.

One click on the Generalisation page may evaluate at most ``ntm.evaluation.MAX_WORK``
sequence-steps per model while the page waits. A larger request (many sequences at long lengths,
hours of CPU on a shared server) runs here instead: in its own process, at most
``MAX_RUNNING`` at once, results written after every length so the page shows progress and a
reload, a second tab or a restarted app sees the same truth.

    <data_dir>/evaluations/<request id>/
        request.json    written by ``start_evaluation``: the models (label -> preset path and stamp),
                        lengths, sequences, seed; the process id and its start time
        progress.json   written by the process after every length: ``{"results": {label: [row, ...]},
                        "done": k, "total": n}`` (rows as ``ntm.evaluation.evaluate`` returns them)
        exit.json       the process's last act: outcome (done | cancelled | failed) and a message
        log.txt         its stdout and stderr

The request id is a hash of the request, presets' stamps included, so asking again for the same
thing finds the same evaluation, and re-saving a preset makes a new one. State is derived, as
for training jobs: exit.json's outcome, else running while the process lives, else interrupted.

    ev = start_evaluation({"NTM · copy": (path, stamp)}, [10, 100, 500], 1000, seed=1)
    ev = find_evaluation(...same arguments...)     # or get_evaluation(ev.id): fresh state
    cancel_evaluation(ev.id)

Importing this module does not import torch; the process (``python -m ntm.jobs.evaluations DIR``)
does.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..io import ROOT, atomic_write_json, data_dir
from .control import JobError
from .process import (ChildProcesses, alive, background_state, launching_parent, parent_env, process_start_time,
                      stop_group)
from .record import log_tail, read_json

MAX_RUNNING = 1                   # background evaluations at once (each uses one core)
MAX_BACKGROUND_WORK = 20_000_000  # sequence-steps per model in one background request
KEEP_FINISHED = 20                # finished evaluations kept on disk; older ones are removed
MODULE = "ntm.jobs.evaluations"
_children = ChildProcesses()


def evaluations_dir() -> Path:
    """``<data_dir>/evaluations``: one folder per request."""
    return data_dir() / "evaluations"


@dataclass
class Evaluation:
    """One background evaluation as read from its folder (a snapshot)."""

    id: str
    dir: Path
    request: dict[str, Any]
    state: str                                   # running | done | cancelled | failed | interrupted
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    done: int = 0
    total: int = 0
    message: str = ""

    @property
    def active(self) -> bool:
        return self.state == "running"

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


def request_of(models: dict[str, tuple[str, Any]], lengths: list[int], sequences: int, seed: int) -> dict[str, Any]:
    """The request as stored: models ``{label: (preset path, stamp)}`` in a JSON-stable form."""
    return {"models": {label: {"path": str(path), "stamp": json.loads(json.dumps(stamp, default=str))}
                       for label, (path, stamp) in models.items()},
            "lengths": [int(n) for n in lengths], "sequences": int(sequences), "seed": int(seed)}


def request_id(request: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:16]


def check_request(lengths: list[int], sequences: int, limit: int = MAX_BACKGROUND_WORK) -> None:
    """Refuses more than ``limit`` sequence-steps per model, even in the background.

    Raises:
        JobError: saying how much was asked and what to do.
    """
    work = int(sequences) * sum(lengths)
    if work > limit:
        raise JobError(f"{sequences} sequences at lengths summing to {sum(lengths)} is {work:,} sequence-steps per "
                       f"model, over the {limit:,} a background evaluation may run here: use fewer sequences or "
                       f"lengths, or run `python -m ntm evaluate` on a machine of your own")


def start_evaluation(models: dict[str, tuple[str, Any]], lengths: list[int], sequences: int,
                     seed: int) -> Evaluation:
    """Start evaluating ``models`` at ``lengths`` in a background process, or return the evaluation
    of the same request if there is one that is running or done.

    Raises:
        JobError: the request is too large, ``MAX_RUNNING`` evaluations already run, or the process
            could not be started.
    """
    if not models or not lengths:
        raise JobError("choose at least one preset and one length")
    check_request(lengths, sequences)
    request = request_of(models, lengths, sequences, seed)
    eid = request_id(request)
    existing = get_evaluation(eid)
    if existing is not None and existing.state in ("running", "done"):
        return existing
    running = [e for e in list_evaluations() if e.active]
    if len(running) >= MAX_RUNNING:
        raise JobError(f"{len(running)} background evaluation is already running (at most {MAX_RUNNING} at once "
                       f"here): wait for it to finish or cancel it")
    _prune()
    folder = evaluations_dir() / eid
    if folder.exists():
        shutil.rmtree(folder)             # a cancelled, failed or interrupted try of the same request
    folder.mkdir(parents=True)
    atomic_write_json(folder / "request.json", {**request, "created": time.time()})
    env = {**os.environ, **parent_env(), "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with open(folder / "log.txt", "ab") as log:
        try:
            pid = _children.start([sys.executable, "-m", MODULE, str(folder.resolve())], cwd=ROOT, env=env, log=log)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise JobError(f"could not start the evaluation process: {exc}") from exc
    atomic_write_json(folder / "request.json", {**request, "created": time.time(), "pid": pid,
                                                 "start_time": process_start_time(pid)})
    return get_evaluation(eid)


def get_evaluation(eid: str) -> Evaluation | None:
    """The evaluation with id ``eid`` as its folder says now, or None if there is none."""
    if not (len(eid) == 16 and all(c in "0123456789abcdef" for c in eid)):
        return None
    folder = evaluations_dir() / eid
    request = read_json(folder / "request.json")
    if request is None:
        return None
    _children.reap()
    progress = read_json(folder / "progress.json") or {}
    state, message = background_state(request, read_json(folder / "exit.json"),
                                      "the evaluation process stopped before it finished (the app or machine restarted)")
    total = len(request.get("models", {})) * len(request.get("lengths", []))
    return Evaluation(eid, folder, request, state, progress.get("results", {}), int(progress.get("done", 0)),
                      int(progress.get("total", total)), message)


def find_evaluation(models: dict[str, tuple[str, Any]], lengths: list[int], sequences: int,
                    seed: int) -> Evaluation | None:
    """The evaluation of exactly this request, if one was started."""
    return get_evaluation(request_id(request_of(models, lengths, sequences, seed)))


def list_evaluations() -> list[Evaluation]:
    """Every evaluation on disk, newest first."""
    root = evaluations_dir()
    found = [get_evaluation(p.name) for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    return sorted((e for e in found if e is not None), key=lambda e: -float(e.request.get("created", 0)))


def cancel_evaluation(eid: str, grace_seconds: float = 10.0) -> Evaluation | None:
    """Stop a running evaluation (SIGTERM, then SIGKILL after ``grace_seconds``); what it finished stays."""
    ev = get_evaluation(eid)
    if ev is None or not ev.active:
        return ev
    pid, start = ev.request.get("pid"), ev.request.get("start_time")
    if pid:
        stop_group(pid, start, grace_seconds, _children.reap)
        if not (ev.dir / "exit.json").exists():    # killed, or stopped before it could answer
            atomic_write_json(ev.dir / "exit.json", {"outcome": "cancelled", "message": "cancelled"})
    _children.reap()
    return get_evaluation(eid)


def _prune() -> None:
    """Remove the oldest finished evaluations beyond ``KEEP_FINISHED``."""
    finished = [e for e in list_evaluations() if not e.active]
    for ev in finished[KEEP_FINISHED:]:
        shutil.rmtree(ev.dir, ignore_errors=True)


# ---- the evaluation's own process ------------------------------------------------------------------

class _Stop(Exception):
    pass


def run(folder: Path) -> int:
    """Evaluate the request in ``folder``; write progress after each length and exit.json last."""
    stop = threading.Event()

    def on_signal(_signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    parent = launching_parent()

    def watch_parent():
        while not stop.is_set():
            if parent is not None and not alive(*parent):
                stop.set()
            time.sleep(0.5)

    threading.Thread(target=watch_parent, daemon=True).start()
    request = read_json(folder / "request.json") or {}
    results: dict[str, list[dict[str, Any]]] = {}
    total = len(request.get("models", {})) * len(request.get("lengths", []))
    done = 0
    try:
        from ..evaluation import evaluate      # torch: only in this process
        from ..presets import BundleError, load_preset
        presets = {}
        for label, model in request["models"].items():
            try:
                presets[label] = load_preset(model["path"])
            except BundleError as exc:
                raise _Stop(f"preset {label} cannot be opened: {exc}") from exc
            results[label] = []
        for length in request["lengths"]:          # every model at one length, then the next: the page's
            for label, preset in presets.items():  # curves grow from the short end while it runs
                if stop.is_set():
                    outcome = "interrupted" if parent is not None and not alive(*parent) else "cancelled"
                    atomic_write_json(folder / "exit.json", {"outcome": outcome, "message": outcome})
                    return 1
                results[label].append(evaluate(preset.model, preset.task, int(length), int(request["sequences"]),
                                               int(request["seed"])))
                done += 1
                atomic_write_json(folder / "progress.json", {"results": results, "done": done, "total": total})
    except _Stop as exc:
        atomic_write_json(folder / "exit.json", {"outcome": "failed", "message": str(exc)})
        return 1
    except Exception as exc:                   # noqa: BLE001 - recorded for the page, details in the log
        traceback.print_exc()
        atomic_write_json(folder / "exit.json", {"outcome": "failed",
                                                 "message": f"the evaluation stopped with an error ({type(exc).__name__}); "
                                                            f"its log is in the evaluation's folder"})
        return 1
    atomic_write_json(folder / "exit.json", {"outcome": "done", "message": f"{done} evaluations"})
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not (Path(args[0]) / "request.json").is_file():
        print("usage: python -m ntm.jobs.evaluations EVALUATION_FOLDER (made by start_evaluation)", file=sys.stderr)
        return 2
    return run(Path(args[0]))


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["MAX_RUNNING", "MAX_BACKGROUND_WORK", "Evaluation", "evaluations_dir", "request_of", "request_id",
           "check_request", "start_evaluation", "get_evaluation", "find_evaluation", "list_evaluations",
           "cancel_evaluation", "log_tail"]
