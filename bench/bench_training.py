"""Training speed of the copy configuration against pytorch-ntm, side by side, printed as JSON.

    python bench/bench_training.py [--reference PATH] [--seconds 12] [--repeats 3] [--no-compile]
                                   [--threads T] [--no-profile]

Run from the project folder after ``pip install -e .`` (the script imports the installed ``ntm``).

The copy configuration is pytorch-ntm's ``CopyTaskParams``: LSTM controller of 100 units, memory
128 x 20, one read and one write head, RMSprop (lr 1e-4, momentum 0.9, alpha 0.95), gradients
clamped to [-10, 10], sequence lengths 1-20. For it and for our NTM (eager, and with
``compile_step``) this measures:
  - training throughput, sequences per second, at batch 1 and 16: whole cycles of the lengths
    1..20 (one length per batch), each batch a full optimiser step (sample, zero the gradients,
    forward, loss, backward, clip, step);
  - forward + backward milliseconds of one length-20 copy sequence (41 timesteps) at batch 1;
  - a profile of that episode (aten operations, of them views, and autograd nodes per timestep)
    and, for our compiled step at batch 1, where a training step's time goes.

``--reference PATH`` is a local checkout of pytorch-ntm (github.com/loudinthecloud/pytorch-ntm);
none of its code is part of this project. Its package is also called ``ntm``, so every model runs
in a worker process of its own (this script with ``--worker``): the reference's worker has the
checkout first on ``sys.path``, ours never see it. pytorch-ntm was written for PyTorch 0.4 and an
old ``attrs``; the adaptations its worker makes at run time, without touching its files, are in
``_load_reference``. Its sequences come from its own ``tasks.copytask.dataloader``, and its net,
loss (``nn.BCELoss``) and optimiser from its ``CopyTaskModelTraining``; the step calls the net as
its ``train.py`` does (the bit-error count that ``train_batch`` also makes for its log is left out,
as it is from ours). Without ``--reference`` only our models are measured and the output says so.

The models' windows take turns (``_sidebyside.interleave``: reference, eager, compiled, then the
other way round), so they share the machine's load; only same-run ratios compare. Each model and
batch size has a fresh worker; compilation happens in its warm-up, which is not timed and is
reported separately.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from _sidebyside import interleave, load_average, paired_speedup, summary

# The figures this bench compared against before it measured pytorch-ntm itself (recorded, not
# measured in the same run): kept for history only.
HISTORICAL_REFERENCE = {"batch1_seq_per_s": 16.0, "batch16_seq_per_s": 81.0, "fwd_bwd_len20_ms": 108.0,
                        "source": "historical figures quoted before the reference was measured side by side"}
TARGETS = {"batch1": 10.0, "batch16": 20.0}          # issue 14: compiled vs pytorch-ntm
LR, MOMENTUM, ALPHA, CLIP = 1e-4, 0.9, 0.95, 10.0     # pytorch-ntm's CopyTaskParams and clip_grads
LENGTHS = range(1, 21)
PROFILE_LENGTH = 20


class BenchError(Exception):
    """A failure to report in one line: the --reference path is not a pytorch-ntm checkout, or a
    model's worker failed to load or stopped."""


def check_checkout(path: str) -> Path:
    root = Path(path)
    missing = [p for p in ("ntm/aio.py", "tasks/copytask.py") if not (root / p).is_file()]
    if missing:
        raise BenchError(f"--reference {path} is not a checkout of pytorch-ntm (no {' or '.join(missing)} in it). "
                          "Clone github.com/loudinthecloud/pytorch-ntm and pass its folder.")
    return root


# ---- the models, each in its own worker process ----------------------------------------------------

class OursCopy:
    """Our NTM in the copy configuration and its training step (as ``ntm.training.Trainer`` runs it)."""

    def __init__(self, batch_size: int, compiled: bool):
        from ntm.model import NTM, NTMConfig
        from ntm.tasks import loss, make_task
        self.task, self.loss, self.batch_size = make_task("copy"), loss, batch_size
        torch.manual_seed(0)
        self.model = NTM(NTMConfig(self.task.input_size, self.task.output_size, controller_size=100,
                                   memory_slots=128, memory_width=20, heads="rw"))
        if compiled:
            self.model.compile_step()
        self.optimizer = torch.optim.RMSprop(self.model.parameters(), lr=LR, momentum=MOMENTUM, alpha=ALPHA)
        self.generator = torch.Generator().manual_seed(2)

    def sample(self, length: int):
        return self.task.sample(self.batch_size, self.generator, length=length)

    def forward(self, batch):
        out, _, _ = self.model(batch.inputs)
        return out

    def objective(self, out, batch):
        return self.loss(out, batch)

    def parameters(self):
        return self.model.parameters()


class ReferenceCopy:
    """pytorch-ntm's copy task model, loss, optimiser and data, called as its ``train.py`` calls them."""

    def __init__(self, batch_size: int, checkout: Path):
        copytask = _load_reference(checkout)
        torch.manual_seed(0)
        self.params = copytask.CopyTaskParams(batch_size=batch_size)
        training = copytask.CopyTaskModelTraining(params=self.params)
        self.net, self.criterion, self.optimizer = training.net, training.criterion, training.optimizer
        self.dataloader, self.batch_size = copytask.dataloader, batch_size
        import numpy as np
        np.random.seed(2)

    def sample(self, length: int):
        _, x, y = next(self.dataloader(1, self.batch_size, self.params.sequence_width, length, length))
        return x, y

    def forward(self, batch):
        x, y = batch
        self.net.init_sequence(self.batch_size)
        for t in range(x.size(0)):          # the sequence and its delimiter, outputs ignored
            self.net(x[t])
        out = torch.zeros(y.size())
        for t in range(y.size(0)):          # the answer, with no input
            out[t], _ = self.net()
        return out

    def objective(self, out, batch):
        return self.criterion(out, batch[1])

    def parameters(self):
        return self.net.parameters()


def _load_reference(checkout: Path):
    """Import pytorch-ntm's ``tasks.copytask`` from the checkout (its ``ntm`` package, not ours).

    Run-time adaptations for today's libraries (its files are not changed):
      - ``attr.attrib(convert=...)`` was removed from attrs (19.2); it is mapped to ``converter=``
        while its modules are imported.
    """
    import importlib
    import warnings

    import attr
    sys.path[:] = [str(checkout)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.parent]
    warnings.filterwarnings("ignore", message=".*nn.functional.sigmoid is deprecated.*")
    original = attr.attrib

    def attrib(*args, convert=None, **kwargs):
        if convert is not None:
            kwargs["converter"] = convert
        return original(*args, **kwargs)

    attr.attrib = attrib
    try:
        copytask = importlib.import_module("tasks.copytask")
    finally:
        attr.attrib = original
    package = sys.modules["ntm"]
    if Path(package.__file__).resolve().parent != checkout.resolve() / "ntm":
        raise BenchError("pytorch-ntm's ntm package was shadowed by another one")
    return copytask


def train_step(model, batch) -> None:
    """One optimiser step: zero the gradients, forward, loss, backward, clamp to [-10, 10], step."""
    model.optimizer.zero_grad()
    model.objective(model.forward(batch), batch).backward()
    torch.nn.utils.clip_grad_value_(model.parameters(), CLIP)
    model.optimizer.step()


def warm_up(model) -> float:
    """A training step at every length, untimed: compilation and the allocator's warm-up."""
    t0 = time.perf_counter()
    for length in LENGTHS:
        train_step(model, model.sample(length))
    return round(time.perf_counter() - t0, 1)


def window(model, seconds: float) -> float:
    """Sequences per second over whole cycles of the lengths 1..20, one length per batch, so the
    figure is the training distribution's mean, not the luck of which lengths were drawn."""
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for length in LENGTHS:
            train_step(model, model.sample(length))
            done += model.batch_size
    return done / (time.perf_counter() - t0)


def fwd_bwd_ms(model, repeats: int) -> list[float]:
    """Milliseconds of forward + backward of one length-20 sequence (no optimiser step)."""
    batch = model.sample(PROFILE_LENGTH)
    times = []
    for _ in range(repeats):
        model.optimizer.zero_grad()
        t0 = time.perf_counter()
        model.objective(model.forward(batch), batch).backward()
        times.append((time.perf_counter() - t0) * 1000)
    return times


_VIEW_OPS: dict[str, bool] = {}


def _is_view(name: str) -> bool:
    """Whether an aten operator returns a view of its input (its schema's result aliases without writing)."""
    if name not in _VIEW_OPS:
        try:
            schemas = torch._C._jit_get_schemas_for_operator(name)
        except RuntimeError:
            schemas = []
        _VIEW_OPS[name] = any(s.returns and s.returns[0].alias_info is not None
                              and not s.returns[0].alias_info.is_write for s in schemas)
    return _VIEW_OPS[name]


def profile(model) -> dict:
    """Per timestep of one length-20 episode (41 steps), forward and backward: aten operator calls
    (every dispatcher call, nested ones included, as ``torch.profiler`` lists them), of them views,
    and autograd graph nodes."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile
    batch = model.sample(PROFILE_LENGTH)
    steps = 2 * PROFILE_LENGTH + 1
    model.optimizer.zero_grad()
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        loss = model.objective(model.forward(batch), batch)
        nodes, todo = set(), [loss.grad_fn]
        while todo:
            node = todo.pop()
            if node is None or node in nodes:
                continue
            nodes.add(node)
            todo.extend(next_fn for next_fn, _ in node.next_functions)
        loss.backward()
    ops = [e.name for e in prof.events() if e.name.startswith("aten::")]
    views = sum(_is_view(name) for name in ops)
    accumulate = sum(type(n).__name__ == "AccumulateGrad" for n in nodes)
    return {"aten_ops_per_step": round(len(ops) / steps, 1), "views_per_step": round(views / steps, 1),
            "autograd_nodes_per_step": round((len(nodes) - accumulate) / steps, 1)}


def phases(model, cycles: int) -> dict:
    """Where a training step's time goes: milliseconds per step (the mean over ``cycles`` cycles of
    the lengths 1..20) of sampling, zeroing the gradients, forward, loss, backward, clipping and
    the optimiser step; and per timestep, forward and backward."""
    parts = dict.fromkeys(("sample", "zero_grad", "forward", "loss", "backward", "clip", "optimizer_step"), 0.0)
    steps, n = 0, 0
    for _ in range(cycles):
        for length in LENGTHS:
            marks = [time.perf_counter()]
            batch = model.sample(length)
            marks.append(time.perf_counter())
            model.optimizer.zero_grad()
            marks.append(time.perf_counter())
            out = model.forward(batch)
            marks.append(time.perf_counter())
            loss = model.objective(out, batch)
            marks.append(time.perf_counter())
            loss.backward()
            marks.append(time.perf_counter())
            torch.nn.utils.clip_grad_value_(model.parameters(), CLIP)
            marks.append(time.perf_counter())
            model.optimizer.step()
            marks.append(time.perf_counter())
            for name, a, b in zip(parts, marks, marks[1:]):
                parts[name] += (b - a) * 1000
            steps += 2 * length + 1
            n += 1
    result = {"ms_per_training_step": {k: round(v / n, 3) for k, v in parts.items()},
              "mean_timesteps_per_sequence": steps / n,
              "forward_ms_per_timestep": round(parts["forward"] / steps, 3),
              "backward_ms_per_timestep": round(parts["backward"] / steps, 3)}
    result["ms_per_training_step"]["total"] = round(sum(parts.values()) / n, 3)
    return result


def worker(name: str, batch_size: int, checkout: str | None) -> None:
    """Serve one model: read a JSON command a line from stdin, answer with a JSON line.

    Whatever the libraries print goes to stderr; stdout carries only the answers."""
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    try:
        model = ReferenceCopy(batch_size, Path(checkout)) if name == "reference" else \
            OursCopy(batch_size, compiled=(name == "compiled"))
    except Exception as exc:            # reported by the parent as a clear message
        answers.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        answers.flush()
        return
    answers.write(json.dumps({"ready": True}) + "\n")
    answers.flush()
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["do"] == "warmup":
            answer = {"seconds": warm_up(model)}
        elif cmd["do"] == "window":
            answer = {"seq_per_s": window(model, cmd["seconds"])}
        elif cmd["do"] == "fwd_bwd":
            answer = {"ms": fwd_bwd_ms(model, cmd["repeats"])}
        elif cmd["do"] == "profile":
            answer = profile(model)
        elif cmd["do"] == "phases":
            answer = phases(model, cmd["cycles"])
            if name == "compiled":
                answer.update(compiled_breakdown(model))
                answer["framework_floor_us_per_timestep"] = framework_floor(model.batch_size)
        else:
            return
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def compiled_breakdown(model) -> dict:
    """Microseconds per timestep of one profiled length-20 forward + backward of the compiled step,
    split by ``torch.profiler``'s events: Dynamo's guard check before each call, AOTAutograd's
    wrappers around the forward and backward graphs, the graphs' own time (the generated code and
    its C++ kernels: a handful of fused kernels per graph, so this is almost all kernel time), the
    aten calls the graphs make (matrix products through extern kernels, buffers), and the rest
    (the Python loop over timesteps, the loss, stacking the outputs, gradient accumulation). The
    profiler adds its own cost to every event, so the total exceeds an unprofiled step; the
    figures are medians of three profiles."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile
    batch = model.sample(PROFILE_LENGTH)
    steps = 2 * PROFILE_LENGTH + 1
    runs = []
    for i in range(4):                  # the first profile pays the profiler's own start-up: dropped
        model.optimizer.zero_grad()
        t0 = time.perf_counter()
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            model.objective(model.forward(batch), batch).backward()
        if i:
            runs.append(_split_profile(prof, (time.perf_counter() - t0) * 1e6, steps))
    return {"us_per_timestep": {k: round(statistics.median(r[k] for r in runs), 1) for k in runs[0]},
            "profiles": len(runs)}


def framework_floor(batch_size: int) -> float:
    """Microseconds per timestep, forward and backward, of a compiled step that does almost nothing
    (``h -> tanh(h W)``, W 100 x 100), called 41 times and then back-propagated once as an episode
    is: what Dynamo's guards, AOTAutograd's wrappers and the autograd engine cost per call on this
    machine, whatever the step computes."""
    w = torch.randn(100, 100, requires_grad=True)
    step = torch.compile(lambda h, w: torch.tanh(h @ w), dynamic=False)
    h0 = torch.randn(batch_size, 100)
    steps = 2 * PROFILE_LENGTH + 1
    times = []
    for i in range(23):                 # 3 untimed: compilation
        t0 = time.perf_counter()
        h = h0
        for _ in range(steps):
            h = step(h, w)
        h.sum().backward()
        if i >= 3:
            times.append((time.perf_counter() - t0) * 1e6 / steps)
    return round(statistics.median(times), 1)


def _split_profile(prof, wall: float, steps: int) -> dict:
    parts = dict.fromkeys(("guards", "forward_wrapper", "forward_graph_kernels", "forward_graph_aten_calls",
                           "backward_wrapper", "backward_graph_kernels", "backward_graph_aten_calls"), 0.0)
    totals = {"forward": 0.0, "backward": 0.0}

    def inside(event, name: str) -> bool:
        while event is not None:
            if event.name == name:
                return True
            event = event.cpu_parent
        return False

    for e in prof.events():
        if e.name == "TorchDynamo Cache Lookup":
            parts["guards"] += e.cpu_time_total
        elif e.name.startswith("Torch-Compiled Region"):
            totals["forward"] += e.cpu_time_total
        elif e.name.startswith("autograd::engine::evaluate_function: CompiledFunctionBackward"):
            totals["backward"] += e.cpu_time_total
        elif e.name.startswith("## Call CompiledFxGraph"):
            side = "backward" if inside(e, "CompiledFunctionBackward") else "forward"
            parts[f"{side}_graph_kernels"] += e.self_cpu_time_total
            parts[f"{side}_graph_aten_calls"] += e.cpu_time_total - e.self_cpu_time_total
    for side in ("forward", "backward"):
        parts[f"{side}_wrapper"] = totals[side] - parts[f"{side}_graph_kernels"] - parts[f"{side}_graph_aten_calls"]
    parts["rest"] = wall - sum(totals.values()) - parts["guards"]
    return {**{k: v / steps for k, v in parts.items()}, "profiled_total": wall / steps}


# ---- the parent: workers side by side --------------------------------------------------------------

class Worker:
    def __init__(self, name: str, batch_size: int, args):
        cmd = [sys.executable, __file__, "--worker", name, "--batch", str(batch_size),
               "--threads", str(args.threads)]
        if args.reference:
            cmd += ["--reference", args.reference]
        self.name = name
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = self._answer()
        if "error" in ready:
            self.close()
            raise BenchError(f"the {name} model failed to load: {ready['error']}")

    def ask(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._answer()

    def _answer(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise BenchError(f"the {self.name} worker stopped (exit status {self.proc.wait()}); its messages are above")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


def side_by_side(args) -> dict:
    names = (["reference"] if args.reference else []) + ["eager"] + ([] if args.no_compile else ["compiled"])
    out: dict = {"load_average_before": load_average(), "order": names}
    for b in (1, 16):
        workers = {}
        try:
            for name in names:
                workers[name] = Worker(name, b, args)
            warm = {name: w.ask(do="warmup")["seconds"] for name, w in workers.items()}
            rates = interleave(lambda name: workers[name].ask(do="window", seconds=args.seconds)["seq_per_s"],
                               names, args.repeats)
            for name, values in rates.items():
                entry = out.setdefault(name, {"warmup_seconds": {}})
                entry["warmup_seconds"][f"batch{b}"] = warm[name]
                entry[f"batch{b}"] = summary(values, args.seconds)
                if name != "reference" and "reference" in rates:
                    entry.setdefault("paired_speedup", {})[f"batch{b}"] = paired_speedup(values, rates["reference"])
            if b == 1:
                times = interleave(lambda name: workers[name].ask(do="fwd_bwd", repeats=5)["ms"], names, 4)
                for name, chunks in times.items():
                    out[name]["fwd_bwd_len20_ms"] = round(statistics.median(t for c in chunks for t in c), 2)
                if not args.no_profile:
                    for name, w in workers.items():
                        out[name]["profile_len20_batch1"] = w.ask(do="profile")
            if not args.no_profile and "compiled" in workers:
                out["compiled"][f"phases_batch{b}"] = workers["compiled"].ask(do="phases", cycles=3)
            out[f"load_average_after_batch{b}"] = load_average()
        finally:
            for w in workers.values():
                w.close()
    if "reference" in out:
        ref = out["reference"]
        ref["source"] = "pytorch-ntm measured in this run, windows interleaved with ours"
        for name in names[1:]:
            out[name]["speedup_of_medians"] = {
                "batch1": round(out[name]["batch1"]["seq_per_s"] / ref["batch1"]["seq_per_s"], 2),
                "batch16": round(out[name]["batch16"]["seq_per_s"] / ref["batch16"]["seq_per_s"], 2),
                "fwd_bwd_len20": round(ref["fwd_bwd_len20_ms"] / out[name]["fwd_bwd_len20_ms"], 2)}
        best = "compiled" if "compiled" in out else "eager"
        out["targets"] = {f"{k}_paired_speedup_at_least": v for k, v in TARGETS.items()}
        out["targets"]["model"] = best
        out["targets"]["met"] = {k: out[best]["paired_speedup"][k] >= v for k, v in TARGETS.items()}
    else:
        out["reference"] = {"measured": False, "note": "pytorch-ntm was not measured (no --reference PATH): "
                            "there is no ratio in this output"}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", metavar="PATH", help="a local checkout of pytorch-ntm to measure beside ours")
    parser.add_argument("--seconds", type=float, default=12.0, help="seconds per timed window")
    parser.add_argument("--repeats", type=int, default=3, help="timed windows (rounds) per figure")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads per worker (default 1: on this shared 2-core machine 2 threads make "
                             "every model's small operations wait on each other, pytorch-ntm's most)")
    parser.add_argument("--no-compile", action="store_true", help="measure the eager step only")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiles")
    parser.add_argument("--worker", choices=["reference", "eager", "compiled"], help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.worker:
        worker(args.worker, args.batch, args.reference)
        return
    try:
        if args.reference:
            check_checkout(args.reference)
        results = {"benchmark": "training-speed", "command": "python bench/bench_training.py " + " ".join(sys.argv[1:]),
                   "torch": torch.__version__, "threads": args.threads,
                   "cpu_count": os.cpu_count(), "machine": platform.machine(),
                   "historical_reference": HISTORICAL_REFERENCE, **side_by_side(args)}
    except BenchError as exc:
        print(f"bench_training: {exc}", file=sys.stderr)
        raise SystemExit(2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
