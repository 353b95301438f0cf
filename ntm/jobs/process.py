"""Process utilities for jobs: start a runner in a session of its own, tell a live process from a
reused pid, signal a process group, and reap the children this process started.

A pid alone does not name a process for long: once it exits, the kernel may give the number to an
unrelated process. So a job records its pid with the process's start time (``process_start_time``)
and is taken as alive only while both match (``alive``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any, Callable

PARENT_PID_ENV = "NTM_EXPLORER_PARENT_PID"      # the launching process, for the runner to watch
PARENT_START_ENV = "NTM_EXPLORER_PARENT_START"  # and its start time (pid reuse guard)


def process_start_time(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), or None if there is
    no such process (or only its zombie). Recorded with a pid so a later, unrelated process reusing
    it is not mistaken for the job."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    after = stat.rsplit(")", 1)[-1].split()     # fields 3.. (the name may contain spaces and ')')
    if after[0] == "Z":                           # a zombie has finished; only its status remains
        return None
    return int(after[19])                         # field 22: starttime


def alive(pid: int | None, start_time: int | None) -> bool:
    """Whether process ``pid`` runs and, when ``start_time`` is given, is the one started then."""
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


def signal_group(pid: int, sig: int) -> None:
    """Send ``sig`` to the process group led by ``pid`` (a runner and anything it started), or to
    ``pid`` alone if it leads none; a process that is gone is ignored."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def background_state(record: dict[str, Any], exit_record: dict[str, Any] | None, gone: str,
                     launch_grace: float = 30.0) -> tuple[str, str]:
    """``(state, message)`` of a background process (an evaluation, a sweep) from its ``record``
    (``pid``, ``start_time``, ``created``) and ``exit.json``: the exit record's outcome; else
    "running" while the process lives (or is being launched, within ``launch_grace`` seconds);
    else "interrupted" with the message ``gone``."""
    if exit_record is not None:
        return str(exit_record.get("outcome", "failed")), str(exit_record.get("message", ""))
    pid = record.get("pid")
    if alive(pid, record.get("start_time")) or (
            pid is None and time.time() - float(record.get("created", 0)) < launch_grace):
        return "running", ""
    return "interrupted", gone


def stop_group(pid: int, start_time: int | None, grace_seconds: float,
               while_waiting: Callable[[], None] = lambda: None) -> None:
    """SIGTERM to the process group led by ``pid``, wait up to ``grace_seconds`` for it to end
    (calling ``while_waiting``, e.g. to reap children), then SIGKILL what is left."""
    signal_group(int(pid), signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while alive(pid, start_time) and time.monotonic() < deadline:
        while_waiting()
        time.sleep(0.1)
    if alive(pid, start_time):
        signal_group(int(pid), signal.SIGKILL)


def parent_env() -> dict[str, str]:
    """Environment entries that tell a child which process launched it (see ``launching_parent``)."""
    return {PARENT_PID_ENV: str(os.getpid()), PARENT_START_ENV: str(process_start_time(os.getpid()) or "")}


def launching_parent() -> tuple[int, int | None] | None:
    """(pid, start time) of the process that launched this one with ``parent_env``, or None."""
    pid = int(os.environ.get(PARENT_PID_ENV) or 0)
    start = os.environ.get(PARENT_START_ENV) or None
    return (pid, int(start) if start else None) if pid else None


class ChildProcesses:
    """The processes one launcher started, held so that their exit status is collected (``reap``)
    and none lingers as a zombie. Safe to share between threads (Streamlit sessions)."""

    def __init__(self) -> None:
        self._procs: dict[int, subprocess.Popen] = {}
        self._lock = threading.Lock()

    def start(self, argv: list[str], *, cwd: Path, env: dict[str, str], log: IO[bytes]) -> int:
        """Start ``argv`` as the leader of a new session (so ``signal_group`` reaches all of it),
        with stdout and stderr to ``log``; returns its pid.

        Raises:
            OSError: the process could not be started.
        """
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        with self._lock:
            self._procs[proc.pid] = proc
        return proc.pid

    def reap(self) -> None:
        """Collect the exit status of the children that have finished."""
        with self._lock:
            for pid, proc in list(self._procs.items()):
                if proc.poll() is not None:
                    del self._procs[pid]

    def __len__(self) -> int:
        with self._lock:
            return len(self._procs)
