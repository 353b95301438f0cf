"""Fixtures and constants shared by every test folder.

    ROOT    the project folder, the library's ``ntm.io.ROOT``. Test modules write
            ``from ntm.io import ROOT``: ``import conftest`` is not reliable, it names whichever
            conftest.py pytest loaded last (tests/browser's, when that folder is collected).
    wait_until      (fixture) ``wait_until(condition, timeout, what)``: poll ``condition`` every
                    ``interval`` seconds until it returns something true (returned), or fail after
                    ``timeout`` seconds saying ``what`` was awaited. Tests wait on this, never on sleep().
    jobs_data_dir   (fixture) a fresh ``$NTM_EXPLORER_DATA`` for training jobs, with no job limit or
                    injected fault from the environment; every job process still alive at the end is
                    killed and reaped, whatever the test did.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any, Callable

import pytest

from ntm.io import ROOT  # noqa: F401  (re-exported for fixtures defined here)

# The app's last-resort handler (pages/_shared.run_page) turns an unexpected error into a short
# message for users; under test every such error must fail the test instead, so it propagates.
# tests/app/test_app_navigation.py checks the handler itself with this variable removed.
os.environ.setdefault("NTM_EXPLORER_RAISE", "1")


def _poll(condition: Callable[[], Any], timeout: float, what: str | Callable[[], str] = "a condition",
          interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what() if callable(what) else what}")
        time.sleep(interval)


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    return _poll


@pytest.fixture
def jobs_data_dir(tmp_path, monkeypatch):
    from ntm import jobs
    from ntm.jobs.runner import FAULT_ENV

    monkeypatch.setenv("NTM_EXPLORER_DATA", str(tmp_path / "data"))
    monkeypatch.delenv(jobs.MAX_JOBS_ENV, raising=False)
    monkeypatch.delenv(FAULT_ENV, raising=False)
    yield tmp_path / "data"
    left = [job.pid for job in jobs.list_jobs() if job.pid]
    for pid in left:
        jobs.signal_group(pid, signal.SIGKILL)
    _poll(lambda: not any(jobs.process_start_time(pid) for pid in left), 10, "killed job processes to end")
    jobs.list_jobs()                        # reaps them


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test (tiny models run fastest so on a shared machine), restored
    afterwards: ``threads=1`` in a training spec sets it for the whole process."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def decode_plotly_array(value):
    """A figure array from Plotly JSON (st.plotly_chart's): a list, or a typed {dtype, bdata, shape}."""
    import base64

    import numpy as np

    if isinstance(value, dict):
        shape = tuple(int(n) for n in str(value.get("shape", "-1")).split(","))
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).reshape(shape)
    return np.asarray(value)


@pytest.fixture
def plotly_array():
    """``decode_plotly_array``, for tests that read figures' JSON back."""
    return decode_plotly_array
