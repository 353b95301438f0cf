"""The job's own process: ``python -m ntm.jobs.runner <job_dir>`` (started by ``start_job`` and
``resume_job``, from the project folder).

It reads the spec and its launch (number, start or resume) from ``job.json``, trains with
``ntm.training.Trainer`` in the job folder, saves the model as a preset, and as its last act
writes ``exit.json``: launch, exit code, outcome (done | cancelled | interrupted | failed),
message and where the preset went. SIGTERM or SIGINT stop it cleanly (checkpoint, "cancelled");
so does the end of the process that launched it (checkpoint, "interrupted"), so no job outlives
the app.

This is the only module of ``ntm.jobs`` that imports torch and ``ntm.training``, and it does so
inside ``Runner.run``, after the signal handlers are installed: a cancel during those slow
imports is still a clean "cancelled".

Test hook: ``NTM_EXPLORER_FAULT`` holds comma-separated faults, ``crash-after-batches:N`` (raise
once batch N is done), ``nan-after-batches:N`` (put a NaN into a weight once batch N is done, so
the next loss is NaN and the run ends "diverged") and ``delay-per-batch:SECONDS`` (sleep after
each batch, to make a tiny job last long enough to watch). They reach the trainer through its
``on_batch`` callback.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from ..io import atomic_write_json
from .command import spec_command
from .process import alive, launching_parent
from .record import read_json

FAULT_ENV = "NTM_EXPLORER_FAULT"
PARENT_POLL_SECONDS = 0.5


class _Stop(Exception):
    """Raised when a stop arrives outside the training loop (e.g. mid-export)."""


class Runner:
    """Runs the latest launch of the job in ``job_dir`` (see the module docstring)."""

    def __init__(self, job_dir: Path):
        self.job_dir = job_dir
        self.record = read_json(job_dir / "job.json")
        if self.record is None or not self.record.get("launches"):
            raise SystemExit(f"error: {job_dir / 'job.json'} is missing, unreadable or records no launch")
        latest = self.record["launches"][-1]
        self.launch = int(latest["launch"])
        self.resume = bool(latest.get("resume"))
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
        parent = launching_parent()
        if parent is None:
            return
        while alive(*parent):
            time.sleep(PARENT_POLL_SECONDS)
        self.parent_gone = True
        print(f"the app (pid {parent[0]}) that started this job is gone: stopping", flush=True)
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

            from ..training import RESUME_OVERRIDES, DeviceError, RunSpec, Trainer

            torch.set_num_threads(1)
            if self.stop_requested:
                return self.stopped("before training started")
            spec = RunSpec.from_dict(self.record["spec"])
            preset_path = Path(self.record["preset"]["path"])
            command = spec_command(spec, self.job_dir, preset_path)
            if self.resume:
                command += " --resume"
            # On resume job.json's spec wins for what may change (resume_job(..., lr=) lowers the rate;
            # the device stays the one the job was started with).
            overrides = {k: getattr(spec.settings, k) for k in RESUME_OVERRIDES} if self.resume else None
            try:
                self.trainer = trainer = Trainer(spec, self.job_dir, resume=self.resume, progress=False,
                                                 command=command, resume_overrides=overrides)
            except DeviceError as exc:           # e.g. a GPU job resumed where there is no GPU: no traceback
                return self.exit(1, "failed", str(exc))
            trainer.on_batch = fault_hook(os.environ.get(FAULT_ENV, ""), trainer)
            if self.stop_requested:
                trainer.request_stop()
            print(f"{'resuming at' if trainer.resumed else 'starting'} batch {trainer.batches} of "
                  f"{spec.settings.num_batches}", flush=True)
            self.phase = "train"
            status = trainer.run()
            if status["state"] == "diverged":
                return self.exit(1, "diverged", status["message"])
            if status["state"] != "done":
                return self.stopped(f"at batch {trainer.batches} of {trainer.spec.settings.num_batches}")
            self.phase = "export"
            if self.stop_requested:
                raise _Stop()
            print(f"trained {trainer.batches} batches; evaluating and saving preset {preset_path}", flush=True)
            target = free_preset_path(preset_path)
            path = trainer.export_preset(target, sequences=int(self.record.get("export_sequences", 100)))
            self.phase = "finished"
            return self.exit(0, "done", f"saved as preset {path.name}", preset=str(path))
        except _Stop:
            self.phase = "finished"         # a second stop signal now only sets the flag
            return self.stopped("while saving the preset (training was complete)")
        except BaseException as exc:  # noqa: BLE001 - the log and the exit record must say what happened
            self.phase = "finished"
            traceback.print_exc()
            sys.stdout.flush()
            return self.exit(1, "failed", f"{type(exc).__name__}: {exc}")


def free_preset_path(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3``... if a preset appeared there while the job ran."""
    candidate, n = path, 2
    while (candidate / "config.json").exists():
        candidate, n = path.with_name(f"{path.name}-{n}"), n + 1
    return candidate


def fault_hook(faults: str, trainer: Any = None) -> Callable[[int], None] | None:
    """The trainer's ``on_batch`` callback for ``NTM_EXPLORER_FAULT`` (see the module docstring),
    or None when no fault is asked for. ``nan-after-batches:N`` poisons a weight of ``trainer``'s
    model with NaN once batch N is done (once per launch), so the next loss is NaN.

    Raises:
        ValueError: an unknown fault.
    """
    crash_after, delay, nan_after = None, 0.0, None
    for part in filter(None, (p.strip() for p in faults.split(","))):
        kind, _, value = part.partition(":")
        if kind == "crash-after-batches":
            crash_after = int(value)
        elif kind == "delay-per-batch":
            delay = float(value)
        elif kind == "nan-after-batches":
            nan_after = int(value)
        else:
            raise ValueError(f"{FAULT_ENV}: unknown fault {part!r}")
    if crash_after is None and not delay and nan_after is None:
        return None
    poisoned = []

    def on_batch(batches: int) -> None:
        if crash_after is not None and batches >= crash_after:
            raise RuntimeError(f"injected fault ({FAULT_ENV}=crash-after-batches:{crash_after})")
        if nan_after is not None and batches >= nan_after and not poisoned and trainer is not None:
            import torch
            with torch.no_grad():
                next(trainer.model.parameters()).view(-1)[0] = float("nan")
            poisoned.append(batches)
        if delay:
            time.sleep(delay)

    return on_batch


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m ntm.jobs.runner <job_dir>   (started by ntm.jobs.start_job and resume_job)",
              file=sys.stderr)
        return 2
    return Runner(Path(argv[0])).run()


if __name__ == "__main__":
    sys.exit(main())
