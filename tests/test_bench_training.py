"""bench/bench_training.py: a --reference that is not a pytorch-ntm checkout is refused with a clear
message before anything is measured (no traceback, nothing on stdout)."""

import subprocess
import sys

from ntm.io import ROOT


def test_reference_that_is_not_a_checkout_is_refused_clearly(tmp_path):
    (tmp_path / "ntm").mkdir()          # a folder called ntm is not enough: no ntm/aio.py, no tasks/copytask.py
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_training.py"), "--reference", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "is not a checkout of pytorch-ntm" in done.stderr
    assert "ntm/aio.py" in done.stderr and "tasks/copytask.py" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
