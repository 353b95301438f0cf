"""DNC and sparse DNC speed and memory, printed as JSON.

    python bench/bench_dnc.py [--part all|scaling|training] [--seconds 12] [--repeats 3] [--threads T]
                              [--no-compile] [--slots 128,1024,...] [--models sdnc,dnc]

Run from the project folder after ``pip install -e .`` (the script imports the installed ``ntm``).

scaling: milliseconds per timestep (forward + backward of one length-20 copy episode, 41 timesteps,
    divided by 41; wall time and this process's CPU time) and peak memory, against N = 128 ... 65,536
    slots, for the dense DNC and the sparse DNC (K = 4 sparse reads, K_L = 4 temporal links), both
    with the copy configuration's controller and slot width (LSTM 100, W = 20, one read head), batch
    1, eager. Each point is timed
    in one fresh process and its memory measured in another (see ``run_point``): "episode_mb" is the
    peak resident memory (``ru_maxrss``) minus the resident memory just before the episode. The
    dense DNC stops where the next N is projected (from the growth between its last two points) to
    need more than half the free memory or more than a second per step; the reason is recorded.
    ``--slots`` and ``--models`` choose the points; every point records the load average (1, 5,
    15 minutes) when it started, as the machine is shared.
training: sequences per second in pytorch-dnc's copy configuration (memory 128 x 20, one read
    head, LSTM 100), Adam, gradient clipping, over whole cycles of the training lengths 1-20 (one
    length per batch), at batch 1 and 16, eager and with ``compile_step`` (warm-up not timed);
    median of ``--repeats`` windows. The reference is pytorch-dnc in the same configuration and
    loop: measured in the same run when its package is installed (``pip install dnc==1.1.0``;
    a fresh state each sequence with ``reset_experience``, a linear read-out to the task's width),
    else its figures recorded on this machine by the issue (13.4 seq/s at batch 1, 139 at batch 16).
    The models' windows take turns (see ``training``), so they share the machine's load; this
    machine's speed drifts a lot (by 3x between sessions), so only same-run ratios compare. The
    load average before and after is in the output.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch

from _sidebyside import interleave, load_average, paired_speedup, summary
from ntm.dnc import DNCConfig, DNCModel, SDNCConfig, SDNCModel
from ntm.tasks import loss, make_task

REFERENCE = {"batch1_seq_per_s": 13.4, "batch16_seq_per_s": 139.0}
SLOTS = [128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536]
STEP_BUDGET_MS = 1000.0          # the dense DNC stops before a step would take longer than this


def make_model(kind: str, task, n: int = 128):
    torch.manual_seed(0)
    common = dict(input_size=task.input_size, output_size=task.output_size, hidden_size=100, nr_cells=n,
                  cell_size=20, read_heads=1)
    if kind == "dnc":
        return DNCModel(DNCConfig(**common))
    return SDNCModel(SDNCConfig(**common, sparse_reads=4, temporal_reads=4))


# ---- scaling: one point per process -------------------------------------------------------------

def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def measure_point(kind: str, n: int, repeats: int, what: str) -> dict:
    """Time (``what="time"``) or peak memory (``"memory"``) of length-20 copy episodes (41 timesteps)
    at batch 1, in this process."""
    task = make_task("copy")
    model = make_model(kind, task, n)
    batch = task.sample(1, torch.Generator().manual_seed(3), length=20)
    steps = batch.inputs.shape[1]
    before = _rss_mb()
    times, cpu_times = [], []
    for i in range(repeats + 1 if what == "time" else 1):    # the first episode warms the allocator up
        model.zero_grad(set_to_none=True)
        t0, c0 = time.perf_counter(), time.process_time()
        out, _, _ = model(batch.inputs)
        loss(out, batch).backward()
        if i:
            times.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)
        if times and sum(times) > 60:
            break
    if what == "time":     # CPU time: this process's own work, less sensitive than wall time to the others' load
        return {"ms_per_step": round(statistics.median(times) * 1000 / steps, 3),
                "cpu_ms_per_step": round(statistics.median(cpu_times) * 1000 / steps, 3), "episodes": len(times)}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"peak_rss_mb": round(peak, 1), "episode_mb": round(peak - before, 1)}


def run_point(kind: str, n: int, repeats: int, threads: int) -> dict:
    """One point in two fresh processes: one timed, one whose peak resident memory is the episode's.

    The memory run fixes glibc's mmap threshold at 64 KiB, so every freed tensor goes back to the
    system and the peak counts live tensors, not allocator fragmentation; that makes allocation
    slower (every large tensor is fresh pages), which is why the timed run is a separate process.
    """
    point = {"model": kind, "slots": n}
    for what in ("time", "memory"):
        cmd = [sys.executable, __file__, "--point", kind, str(n), what, "--repeats", str(repeats),
               "--threads", str(threads)]
        env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"} if what == "memory" else None
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=True, env=env)
        point.update(json.loads(done.stdout))
    return point


def _available_mb() -> float:
    with open("/proc/meminfo") as f:
        info = dict(line.split(":", 1) for line in f)
    return int(info["MemAvailable"].split()[0]) / 1024


def _project(a: dict, b: dict, n: int, key: str) -> float:
    """``key`` at N = n, from the power law through points a and b (growth exponent from their ratio)."""
    exponent = math.log(max(b[key], 1e-3) / max(a[key], 1e-3)) / math.log(b["slots"] / a["slots"])
    return b[key] * (n / b["slots"]) ** exponent


def scaling(repeats: int, slots: list[int], threads: int, models: list[str]) -> dict:
    results: dict = {"slots": slots, "load_average_before": load_average(), "dnc": [], "sdnc": [],
                     "dense_stopped": None}
    for kind in models:
        for n in slots:
            points = results[kind]
            if kind == "dnc" and len(points) >= 2:
                a, b = points[-2], points[-1]
                mem, ms = _project(a, b, n, "episode_mb"), _project(a, b, n, "ms_per_step")
                if mem > _available_mb() / 2 or ms > STEP_BUDGET_MS:
                    results["dense_stopped"] = {
                        "slots": n, "projected_episode_mb": round(mem), "projected_ms_per_step": round(ms, 1),
                        "available_mb": round(_available_mb()),
                        "reason": ("memory" if mem > _available_mb() / 2 else "time") + " projected from the "
                                  "last two points exceeds the budget (half the free memory, 1 s per step)"}
                    break
            load = load_average()
            try:
                points.append({**run_point(kind, n, repeats, threads), "load_average": load})
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                points.append({"model": kind, "slots": n, "error": type(exc).__name__, "load_average": load})
                if kind == "dnc":
                    results["dense_stopped"] = {"slots": n, "reason": f"the run failed ({type(exc).__name__})"}
                break
            print(json.dumps(points[-1]), file=sys.stderr, flush=True)
    results["load_average_after"] = load_average()
    return results


# ---- training throughput ---------------------------------------------------------------------------

def warm_up(model, task, batch_size: int) -> float:
    t0 = time.perf_counter()
    g = torch.Generator().manual_seed(1)
    for length in (1, 20):
        batch = task.sample(batch_size, g, length=length)
        out, _, _ = model(batch.inputs)
        loss(out, batch).backward()
    return time.perf_counter() - t0


def throughput_window(model, task, batch_size: int, seconds: float) -> float:
    """Sequences per second over whole cycles of the training lengths 1..20."""
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
    return done / (time.perf_counter() - t0)


class PytorchDNCCopy(torch.nn.Module):
    """pytorch-dnc's DNC in the copy configuration, called as its copy task does, with a linear
    read-out from its output (input width) to the task's output width."""

    def __init__(self, task):
        super().__init__()
        from dnc import DNC  # the reference, optional
        torch.manual_seed(0)
        self.rnn = DNC(input_size=task.input_size, hidden_size=100, rnn_type="lstm", num_layers=1, nr_cells=128,
                       cell_size=20, read_heads=1, batch_first=True, gpu_id=-1)
        self.readout = torch.nn.Linear(task.input_size, task.output_size)

    def forward(self, inputs):
        out, _ = self.rnn(inputs, (None, None, None), reset_experience=True, pass_through_memory=True)
        return self.readout(out), None, None


def reference_model(task):
    """pytorch-dnc in the copy configuration, or None when its package is not installed."""
    try:
        return PytorchDNCCopy(task)
    except ImportError:
        return None


def fwd_bwd_ms(models: dict, task, repeats: int = 10) -> dict:
    """Median milliseconds of one forward + backward of a length-20 copy episode at batch 1, the
    models' episodes interleaved."""
    batch = task.sample(1, torch.Generator().manual_seed(3), length=20)
    times: dict = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            t0 = time.perf_counter()
            out, _, _ = model(batch.inputs)
            loss(out, batch).backward()
            times[name].append((time.perf_counter() - t0) * 1000)
    return {name: round(statistics.median(v), 2) for name, v in times.items()}


def training(seconds: float, repeats: int, compile_too: bool) -> dict:
    """Every model of one batch size is built and warmed up first; then their timed windows take
    turns (``_sidebyside.interleave``: reference, eager, compiled, then the other way round,
    ``repeats`` rounds), so that all of them run under the same load. ``paired_speedup`` is the
    median over rounds of our window's rate over the reference's window of the same round."""
    task = make_task("copy")
    out: dict = {"load_average_before": load_average()}
    ref_rates: dict = {}
    modes = ["eager", "compiled"] if compile_too else ["eager"]
    for b in (1, 16):
        models: dict = {}
        ref = reference_model(task)
        if ref is not None:
            models["reference"] = ref
        for mode in modes:
            models[mode] = make_model("dnc", task)
            if mode == "compiled":
                models[mode].compile_step()
        warm = {name: round(warm_up(model, task, b), 1) for name, model in models.items()}
        rates = interleave(lambda name: throughput_window(models[name], task, b, seconds), list(models), repeats)
        for name, values in rates.items():
            entry = out.setdefault(name, {"warmup_seconds": {}})
            entry["warmup_seconds"][f"batch{b}"] = warm[name]
            entry[f"batch{b}"] = summary(values, seconds)
            if name != "reference" and "reference" in rates:
                entry.setdefault("paired_speedup", {})[f"batch{b}"] = paired_speedup(values, rates["reference"])
        if b == 1:
            out["fwd_bwd_len20_ms_batch1"] = fwd_bwd_ms(models, task)
        if "reference" in rates:
            ref_rates[f"batch{b}_seq_per_s"] = out["reference"][f"batch{b}"]["seq_per_s"]
    if "reference" in out:
        out["reference"]["source"] = "pytorch-dnc 1.1.0 measured in this run, windows interleaved with ours"
    else:
        out["reference"] = {"source": "recorded by the issue on this machine (pytorch-dnc not installed)",
                            **REFERENCE}
        ref_rates = REFERENCE
    for mode in modes:
        out[mode]["speedup_vs_reference"] = {
            f"batch{b}": round(out[mode][f"batch{b}"]["seq_per_s"] / ref_rates[f"batch{b}_seq_per_s"], 2)
            for b in (1, 16)}
    out["load_average_after"] = load_average()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["all", "scaling", "training"], default="all")
    parser.add_argument("--seconds", type=float, default=12.0, help="seconds per timed training window")
    parser.add_argument("--repeats", type=int, default=3, help="timed windows (training) or episodes (scaling)")
    parser.add_argument("--max-n", type=int, default=SLOTS[-1], help="largest memory size to measure")
    parser.add_argument("--slots", default=None,
                        help="comma-separated memory sizes to measure (default: powers of two 128 ... --max-n)")
    parser.add_argument("--models", default="sdnc,dnc", help="comma-separated: sdnc, dnc (scaling)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="torch threads (default: torch's); 1 is steadier on a machine shared with other work")
    parser.add_argument("--no-compile", action="store_true", help="measure the eager step only")
    parser.add_argument("--point", nargs=3, metavar=("MODEL", "N", "WHAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.point:
        print(json.dumps(measure_point(args.point[0], int(args.point[1]), args.repeats, args.point[2])))
        return
    results = {"benchmark": "dnc", "torch": torch.__version__, "threads": torch.get_num_threads(),
               "cpu_count": os.cpu_count(), "machine": platform.machine(), "recorded_reference": REFERENCE}
    if args.part in ("all", "training"):
        results["training"] = training(args.seconds, args.repeats, not args.no_compile)
    if args.part in ("all", "scaling"):
        slots = [int(n) for n in args.slots.split(",")] if args.slots else [n for n in SLOTS if n <= args.max_n]
        models = [m for m in args.models.split(",") if m in ("sdnc", "dnc")]
        results["scaling"] = scaling(args.repeats, slots, args.threads, models)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
