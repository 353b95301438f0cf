"""Training speed of the copy configuration, printed as JSON.

    python bench/bench_training.py [--seconds 20] [--no-compile]

Run from the project folder after ``pip install -e .`` (the script imports the installed ``ntm``).

Measures, for the paper's copy configuration (LSTM controller of 100 units, memory 128 x 20,
one read and one write head):
  - training throughput (sequences per second, optimizer step and gradient clipping included)
    at batch 1 and 16, on the copy task's training distribution (lengths 1-20, one length per
    batch, timed over whole cycles of the twenty lengths);
  - forward + backward milliseconds for one length-20 copy sequence (41 timesteps), batch 1.
Compilation (torch.compile) happens in a warm-up that is not timed and reported separately.
The reference figures are those of the widely used PyTorch NTM implementation measured on the
same kind of machine (2 CPU cores): 16 seq/s at batch 1, 81 seq/s at batch 16, 108 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import torch

from ntm.model import NTM, NTMConfig
from ntm.tasks import loss, make_task

REFERENCE = {"batch1_seq_per_s": 16.0, "batch16_seq_per_s": 81.0, "fwd_bwd_len20_ms": 108.0}


def make_model(task, compile_step: bool) -> NTM:
    torch.manual_seed(0)
    model = NTM(NTMConfig(task.input_size, task.output_size, controller_size=100, memory_slots=128,
                          memory_width=20, heads="rw"))
    if compile_step:
        model.compile_step()
    return model


def warm_up(model, task, batch_size: int) -> float:
    """Run every length once so compilation and allocator warm-up are out of the timings."""
    t0 = time.perf_counter()
    g = torch.Generator().manual_seed(1)
    for length in (1, 20):
        batch = task.sample(batch_size, g, length=length)
        out, _, _ = model(batch.inputs)
        loss(out, batch).backward()
    return time.perf_counter() - t0


def throughput(model, task, batch_size: int, seconds: float, repeats: int) -> dict:
    """The median of ``repeats`` timed windows (this machine's speed drifts by +-15 % from one
    window to the next, so one window is not a figure)."""
    runs = [_throughput_window(model, task, batch_size, seconds) for _ in range(repeats)]
    rates = sorted(r["seq_per_s"] for r in runs)
    return {"seq_per_s": statistics.median(rates), "min": rates[0], "max": rates[-1],
            "windows": repeats, "seconds_each": seconds}


def _throughput_window(model, task, batch_size: int, seconds: float) -> dict:
    """Sequences per second over whole cycles of the training lengths 1..20 (one length per batch,
    each length equally often), so the figure is the training distribution's mean, not the luck
    of which lengths a short run happened to draw."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(2)
    lo, hi = task.train_lengths
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for length in range(lo, hi + 1):
            batch = task.sample(batch_size, g, length=length)
            opt.zero_grad(set_to_none=True)
            out, _, _ = model(batch.inputs)
            loss(out, batch).backward()
            torch.nn.utils.clip_grad_value_(model.parameters(), 10.0)
            opt.step()
            done += batch_size
    elapsed = time.perf_counter() - t0
    return {"seq_per_s": round(done / elapsed, 1), "sequences": done, "seconds": round(elapsed, 1)}


def fwd_bwd_ms(model, task, repeats: int = 30) -> float:
    batch = task.sample(1, torch.Generator().manual_seed(3), length=20)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out, _, _ = model(batch.inputs)
        loss(out, batch).backward()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds per timed window")
    parser.add_argument("--repeats", type=int, default=3, help="timed windows per figure (median reported)")
    parser.add_argument("--no-compile", action="store_true", help="measure the eager step only")
    args = parser.parse_args()
    task = make_task("copy")
    results = {"benchmark": "training-speed", "torch": torch.__version__, "threads": torch.get_num_threads(),
               "cpu_count": os.cpu_count(), "machine": platform.machine(), "reference": REFERENCE, "modes": {}}
    modes = ["eager"] if args.no_compile else ["eager", "compiled"]
    for mode in modes:
        entry = {"warmup_seconds": {}}
        for b in (1, 16):
            # A fresh model per batch size, as in a training run (which uses one batch size).
            model = make_model(task, compile_step=(mode == "compiled"))
            entry["warmup_seconds"][f"batch{b}"] = round(warm_up(model, task, b), 1)
            entry[f"batch{b}"] = throughput(model, task, b, args.seconds, args.repeats)
            if b == 1:
                entry["fwd_bwd_len20_ms"] = fwd_bwd_ms(model, task)
        entry["speedup_vs_reference"] = {
            "batch1": round(entry["batch1"]["seq_per_s"] / REFERENCE["batch1_seq_per_s"], 2),
            "batch16": round(entry["batch16"]["seq_per_s"] / REFERENCE["batch16_seq_per_s"], 2),
            "fwd_bwd_len20": round(REFERENCE["fwd_bwd_len20_ms"] / entry["fwd_bwd_len20_ms"], 2),
        }
        results["modes"][mode] = entry
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
