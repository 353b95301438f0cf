"""Server time of the Step-through page, printed as JSON.

    python bench/bench_app.py [--clicks 20] [--length 20]

Run from the project folder after ``pip install -e .`` (the script imports the installed ``ntm``).

For the copy preset at sequence length 20 (41 timesteps) — presets/copy if it is there, else an
untrained NTM of the same configuration (LSTM controller of 100 units, memory 128 x 20, heads "rw")
saved to a temporary folder — it measures:

  - cold_trace_ms: loading the preset and recording the trace for one input (what a new input
    costs once; the page caches it);
  - first_page_run_ms: the page's first run through AppTest (imports, model, trace, every figure);
  - step_apptest_ms: median wall time of ``at.button(key="st_next").click().run()`` over --clicks
    clicks. AppTest reruns the whole script (app.py and the page, recompiled each run), so this
    is an upper bound of what a click costs;
  - step_view_ms: median server time of the step view itself (the fragment that a Next click
    reruns in the real app: buttons, slider, every figure at t), as the page measures it.

The target is step_view_ms <= 100 ms. CPU load is reported because other processes on the
machine (training jobs) slow every figure down.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
from streamlit.testing.v1 import AppTest

from ntm.io import ROOT
from ntm.model import NTM, NTMConfig
from ntm.presets import BundleError, builtin_presets_dir, load_preset, save_preset
from ntm.tasks import make_task
from ntm.trace import record

COPY_CONFIG = dict(controller_size=100, memory_slots=128, memory_width=20, heads="rw")


def copy_preset(tmp: Path) -> tuple[Path, str]:
    """presets/copy when it is the paper's copy configuration, else an untrained stand-in."""
    try:
        preset = load_preset(builtin_presets_dir() / "copy")
        cfg = preset.config.get("model", {})
        if preset.model_type == "ntm" and all(cfg.get(k) == v for k, v in COPY_CONFIG.items()):
            return builtin_presets_dir(), "presets/copy (trained)"
    except BundleError:
        pass
    task = make_task("copy")
    torch.manual_seed(0)
    model = NTM(NTMConfig(task.input_size, task.output_size, **COPY_CONFIG))
    save_preset(tmp / "copy", model, task, {}, "bench/bench_app.py stand-in")
    return tmp, "untrained copy configuration (presets/copy absent)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=20, help="Next clicks to time")
    parser.add_argument("--length", type=int, default=20, help="copy sequence length (T = 2L + 1)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root, which = copy_preset(tmp / "presets")
        os.environ["NTM_EXPLORER_PRESETS"] = str(root)
        os.environ["NTM_EXPLORER_DATA"] = str(tmp / "data")

        t0 = time.perf_counter()
        preset = load_preset(root / "copy")
        batch = preset.task.sample(1, torch.Generator().manual_seed(0), length=args.length)
        trace = record(preset.model, batch.inputs, batch.targets, batch.mask)
        cold_trace_ms = (time.perf_counter() - t0) * 1000

        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.query_params.update({"preset": "copy", "seed": "0", "length": str(args.length)})
        at.run()
        at.switch_page("pages/step_through.py")
        t0 = time.perf_counter()
        at.run()
        first_run_ms = (time.perf_counter() - t0) * 1000
        assert not at.exception, at.exception
        assert [s.max for s in at.slider if s.label == "Timestep t"] == [trace.steps - 1]

        at.button(key="st_next").click().run()            # warm-up
        walls, views = [], []
        for _ in range(min(args.clicks, trace.steps - 2)):
            t0 = time.perf_counter()
            at.button(key="st_next").click().run()
            walls.append((time.perf_counter() - t0) * 1000)
            views.append(at.session_state["st_view_ms"])
        assert not at.exception, at.exception

    results = {
        "preset": which,
        "sequence_length": args.length,
        "timesteps": trace.steps,
        "cold_trace_ms": round(cold_trace_ms, 1),
        "first_page_run_ms": round(first_run_ms, 1),
        "step_apptest_ms": {"median": round(statistics.median(walls), 1), "min": round(min(walls), 1),
                            "max": round(max(walls), 1), "clicks": len(walls)},
        "step_view_ms": {"median": round(statistics.median(views), 1), "min": round(min(views), 1),
                         "max": round(max(views), 1)},
        "target_step_ms": 100,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
