"""Command line: ``python -m ntm train | evaluate | presets | trace | sweep``.

    python -m ntm train --task copy --seed 1000 -p controller_size=100 --num-batches 2000
    python -m ntm train --model-type dnc -p nr_cells=64 -p cell_size=20 -p read_heads=1 --preset-out presets/x
    python -m ntm train --task copy --device auto          # a GPU when there is one (cpu by default)
    python -m ntm evaluate --preset presets/copy --task copy --length 80 --sequences 100 --seed 1 --json
    python -m ntm presets
    python -m ntm evaluate --preset repeat-copy --length 10 --repeats 15     # repeat copy: both knobs
    python -m ntm evaluate --preset copy --length 20 --sequences 1000 --seed 12345 --failures
    python -m ntm evaluate --preset copy --sequences 1000 --seed 12345 --update-preset   # its README table
    python -m ntm trace --preset copy --length 20 --seed 0 --out trace.json
    python -m ntm sweep --name seeds --task copy --seeds 1-8 -p num_batches=2000 [--ray ADDRESS] [--wait]

The training flags are those of the widely used PyTorch NTM repositories; ``-p key=value``
reaches every training, model and task parameter (``python -m ntm train --list-params``); the DNC's
(``--model-type dnc|sdnc``) have pytorch-dnc's names (``nr_cells``, ``cell_size``, ``read_heads``,
``hidden_size``, ``rnn_type``, ``num_layers``). evaluate and trace take the model type from the preset.
``--device`` (train, evaluate, sweep) is cpu, cuda, cuda:N or auto (``ntm.device``); saved files hold
CPU tensors whatever the device.
Errors a user can fix are reported in one line, with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from .model import MODEL_TYPES
from .tasks import TASKS

LONG_TERM_BACKENDS = {"in-memory": "embedded", "embedded": "embedded", "neo4j": "neo4j"}
DEVICE_HELP = ("cpu, cuda, cuda:N, or auto (cuda when torch.cuda.is_available(), else cpu); "
               "saved checkpoints and presets hold CPU tensors either way")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ntm", description="NTM Explorer command line")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train an NTM or the LSTM baseline on a task")
    t.add_argument("--task", choices=list(TASKS), default="copy", help="task to train (default: copy)")
    t.add_argument("--seed", type=int, default=1000, help="seed for the model and the data (default: 1000)")
    t.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="override a training, model or task parameter, e.g. -p batch_size=16 "
                        "-p memory_slots=64 (repeatable; see --list-params)")
    t.add_argument("--checkpoint-interval", type=int, default=None,
                   help="batches between checkpoints (default: 1000; 0: only at the end)")
    t.add_argument("--checkpoint-path", default=None,
                   help="run folder for checkpoints and metrics (default: checkpoints/<task>-<model>-<seed>)")
    t.add_argument("--report-interval", type=int, default=None, help="batches between metrics reports (default: 200)")
    t.add_argument("--num-batches", type=int, default=None, help="batches to train in all")
    t.add_argument("--batch-size", type=int, default=None, help="sequences per batch")
    t.add_argument("--model-type", choices=list(MODEL_TYPES), default="ntm",
                   help="ntm, the LSTM baseline (lstm), the DNC (dnc), the sparse DNC (sdnc) or the "
                        "dual-memory NTM (dual)")
    t.add_argument("--long-term-memory-backend", choices=list(LONG_TERM_BACKENDS), default="in-memory",
                   help="dual: where the long-term proposition graph lives (in-memory is the embedded "
                        "store, a local file; neo4j uses NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD)")
    t.add_argument("--long-term-store", default=None, metavar="PATH",
                   help="dual, embedded store: its file (default: the Long-term memory page's store)")
    t.add_argument("--resume", action="store_true", help="continue the run in --checkpoint-path")
    t.add_argument("--init-from", default=None, metavar="PRESET",
                   help="start from a preset's model, weights and task (fine-tuning; --task, --model-type and "
                        "model -p keys are taken from the preset), with a fresh optimiser")
    t.add_argument("--preset-out", default=None,
                   help="when done, evaluate generalisation and save the model as a preset in this folder")
    t.add_argument("--preset-sequences", type=int, default=100, metavar="N",
                   help="test sequences per length of the saved preset's generalisation table (default: 100)")
    t.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch.compile the NTM step (faster for runs over a minute)")
    t.add_argument("--device", default=None, metavar="{cpu,cuda,cuda:N,auto}",
                   help="where to train: " + DEVICE_HELP + " (default: cpu; --resume keeps the run's own)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--list-params", action="store_true", help="print every -p key with its default and exit")

    e = sub.add_parser("evaluate", help="mean bit errors per sequence of a preset at one length (dynamic N-grams: "
                                        "cost against the optimal estimator)")
    e.add_argument("--preset", required=True, help="preset folder (or a name under presets/)")
    e.add_argument("--task", choices=list(TASKS), default=None, help="task (default: the preset's)")
    e.add_argument("--length", type=int, default=None,
                   help="value of the task's size knob (sequence length, items); required unless --data")
    e.add_argument("--data", default=None, metavar="FILE",
                   help="NLI presets: score every example of a CDCL-NLI .json or SNLI-style .jsonl file")
    e.add_argument("--sequences", type=int, default=100, help="sequences to average over (default: 100)")
    e.add_argument("--seed", type=int, default=None,
                   help="seed for the test sequences: sequence i has seed SEED + i (default: 0; with "
                        "--update-preset, the seed the preset's README states)")
    e.add_argument("--repeats", type=int, default=None,
                   help="repeat copy: fix the number of repeats (default: drawn as in training)")
    e.add_argument("--device", default="cpu", metavar="{cpu,cuda,cuda:N,auto}",
                   help="where to run the model: " + DEVICE_HELP + " (default: cpu)")
    e.add_argument("--lengths", default=None, metavar="L1,L2,...",
                   help="a row per length (a generalisation table) instead of one --length")
    e.add_argument("--training-distribution", action="store_true",
                   help="draw each sequence's length (and repeats) as in training, instead of --length")
    e.add_argument("--failures", action="store_true",
                   help="list the failing sequences (any bit error) by seed and length, to reopen them "
                        "(python -m ntm trace, or the Step-through page)")
    e.add_argument("--update-preset", action="store_true",
                   help="recompute what the preset's README and metrics.json report (its table's lengths, or "
                        "--lengths; the training distribution) over --sequences with --seed, and write both; "
                        "the README's prose is kept")
    e.add_argument("--json", action="store_true", help="print JSON (failing sequences included)")

    sub.add_parser("presets", help="list the presets")

    w = sub.add_parser("sweep", help="train a set of runs (tasks x model types x seeds x a -p grid), here or on Ray")
    w.add_argument("--name", help="the sweep's name; its runs' presets are NAME-1, NAME-2, ...")
    w.add_argument("--task", action="append", choices=list(TASKS), help="a task (repeatable; default: copy)")
    w.add_argument("--model-type", action="append", choices=list(MODEL_TYPES), help="a model type (repeatable; default: ntm)")
    w.add_argument("--seeds", default="1000", help="seeds: 1-8, or 1,5,9 (default: 1000)")
    w.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE", help="a setting shared by every run")
    w.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2", help="a setting to vary (repeatable)")
    w.add_argument("--preset-sequences", type=int, default=100, metavar="N",
                   help="test sequences per length of each run's generalisation table (default: 100)")
    w.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="run on the Ray cluster at ADDRESS ('local' starts one here; RAY_ADDRESS also works)")
    w.add_argument("--device", default=None, metavar="{cpu,cuda,cuda:N,auto}",
                   help="where each run trains (as -p device=...): " + DEVICE_HELP + " (default: cpu)")
    w.add_argument("--wait", action="store_true", help="wait until every run has finished, printing progress")
    w.add_argument("--status", metavar="SWEEP_ID", help="print a sweep's runs and their states, and exit")
    w.add_argument("--cancel", metavar="SWEEP_ID", help="cancel a sweep (its running jobs or Ray tasks), and exit")

    r = sub.add_parser("trace", help="record one sequence through a preset and write the trace as JSON")
    r.add_argument("--preset", required=True)
    r.add_argument("--length", type=int, default=None)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--out", required=True)
    return parser


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _train(args: argparse.Namespace) -> int:
    from .training import RESUME_OVERRIDES, Trainer, resolve_params, valid_param_keys

    if args.list_params:
        for group, keys in valid_param_keys(args.task, args.model_type).items():
            print(f"[{group}]")
            for key, default in keys.items():
                print(f"  {key} = {default}")
        if args.model_type == "dual":
            from .dual.cli import FORK_PARAMS
            print("[names of the dual-memory pytorch-ntm fork]")
            for key, meaning in FORK_PARAMS.items():
                print(f"  {key} -> {meaning}")
        return 0
    if args.preset_sequences < 1:
        return _fail("--preset-sequences must be at least 1")
    overrides = {"batch_size": args.batch_size, "num_batches": args.num_batches,
                 "report_interval": args.report_interval, "checkpoint_interval": args.checkpoint_interval,
                 "compile": args.compile, "device": args.device}
    epochs = None
    if args.model_type == "dual":
        from .dual.cli import fork_params
        try:
            args.param, epochs = fork_params(args.task, args.param)
        except ValueError as exc:
            return _fail(str(exc))
    try:
        spec = resolve_params(args.task, args.model_type, args.param, settings_overrides=overrides)
    except ValueError as exc:
        return _fail(str(exc))
    if epochs is not None and args.num_batches is None:
        from .dual.cli import batches_for_epochs
        spec.settings.num_batches = batches_for_epochs(spec, epochs)
    spec.seed = args.seed
    run_dir = Path(args.checkpoint_path or f"checkpoints/{args.task}-{args.model_type}-{args.seed}")
    from .presets import BundleError
    command = "python -m ntm " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    init_from = None
    if args.init_from:
        if args.resume:
            return _fail("--init-from starts a new run; it cannot be combined with --resume")
        from .presets import load_preset, resolve_preset
        try:
            init_from = load_preset(resolve_preset(args.init_from))
        except (BundleError, ValueError) as exc:
            return _fail(str(exc))
        if init_from.model_type == "dual":
            return _fail("--init-from does not take a dual-memory preset (its long-term graph is not carried over)")
    try:
        # On --resume, the -p settings that may change (a lower lr after a divergence) are the ones given.
        given = {pair.split("=", 1)[0].strip() for pair in args.param} | ({"device"} if args.device else set())
        changed = {k: getattr(spec.settings, k) for k in RESUME_OVERRIDES if k in given} if args.resume else None
        trainer = Trainer(spec, run_dir, resume=args.resume, progress=not args.no_progress, command=command,
                          resume_overrides=changed, init_from=init_from)
    except (BundleError, ValueError) as exc:
        return _fail(str(exc))
    if trainer.resumed:
        print(f"resuming {run_dir} at batch {trainer.batches}", file=sys.stderr)
    if trainer.spec.settings.device != "cpu":
        print(f"training on {trainer.device} (--device {trainer.spec.settings.device})", file=sys.stderr)
    store = None
    if args.model_type == "dual":
        from .dual.cli import attach_long_term
        try:
            store = attach_long_term(trainer.model, LONG_TERM_BACKENDS[args.long_term_memory_backend],
                                     args.long_term_store, run=run_dir.name, task=args.task)
        except ValueError as exc:
            return _fail(str(exc))
    try:
        status = trainer.run()
    finally:
        if store is not None and not args.preset_out:
            store.close()
    last = trainer.metrics_path.exists() and open(trainer.metrics_path).read().strip().splitlines()
    summary = json.loads(last[-1]) if last else {}
    print(json.dumps({"state": status["state"], "run_dir": str(run_dir), **summary}))
    if status["state"] == "diverged":
        print(f"error: {status['message']}", file=sys.stderr)
    if args.preset_out and status["state"] == "done":
        path = trainer.export_preset(args.preset_out, sequences=args.preset_sequences)
        print(f"saved preset {path}", file=sys.stderr)
        if store is not None:
            from .dual.cli import export_graph
            export_graph(store, path, sentences=args.task == "cdcl-nli")
            store.close()
    return 0 if status["state"] in ("done", "cancelled") else 1


def _evaluate(args: argparse.Namespace) -> int:
    from .device import DeviceError, resolve_device
    from .evaluation import default_lengths, evaluate
    from .presets import BundleError, load_preset

    try:
        device = resolve_device(args.device)
        preset = load_preset(args.preset)            # built and loaded on the CPU
    except (BundleError, DeviceError) as exc:
        return _fail(str(exc))
    if device.type != "cpu":
        preset.model.to(device)                      # evaluation moves each batch to the model's device
    if args.data is not None:
        from .dual.cli import evaluate_file
        try:
            result = evaluate_file(preset, args.data)
        except ValueError as exc:
            return _fail(str(exc))
        if args.json:
            print(json.dumps(result))
        else:
            per = ", ".join(f"{k} {'-' if v is None else f'{v:.3f}'}" for k, v in result["per_label"].items())
            print(f"{preset.name} on {Path(args.data).name}: accuracy {result['accuracy']:.3f} over "
                  f"{result['examples']} examples ({per}); majority class {result['majority']:.3f}")
        return 0
    if args.task is not None and args.task != preset.task.name:
        return _fail(f"preset {preset.name} was trained on {preset.task.name}, not {args.task}; "
                     f"pass --task {preset.task.name} or choose another preset")
    if args.sequences < 1:
        return _fail("--sequences must be at least 1")
    from .evaluation import evaluate_training_distribution, measure, parse_lengths
    lengths, seed = None, 0 if args.seed is None else args.seed
    try:
        if args.lengths is not None:
            lengths = parse_lengths(args.lengths, preset.task)
        if args.update_preset and args.repeats is not None:
            return _fail("--update-preset recomputes the README's table, whose repeats are drawn as in training: "
                         "leave out --repeats")
        if args.update_preset:
            lengths = lengths or [int(r["length"]) for r in preset.metrics.get("generalisation") or []] \
                or default_lengths(preset.task, preset.model)
            if args.seed is None:
                seed = preset.metrics.get("evaluation_seed", 0)
            measured = measure(preset.model, preset.task, lengths, args.sequences, seed)
            from .presets import write_measurements
            write_measurements(preset, measured)
            rows = measured["generalisation"] + [measured["training_distribution"]]
            print(f"updated {preset.name}'s metrics.json and README.md", file=sys.stderr)
        elif args.training_distribution:
            rows = [evaluate_training_distribution(preset.model, preset.task, args.sequences, seed)]
        elif lengths is not None:
            rows = [evaluate(preset.model, preset.task, n, args.sequences, seed, repeats=args.repeats)
                    for n in lengths]
        elif args.length is None:
            return _fail("--length is required (or --lengths, --training-distribution, --update-preset, "
                         "or --data FILE for an NLI preset)")
        else:
            rows = [evaluate(preset.model, preset.task, args.length, args.sequences, seed,
                             repeats=args.repeats)]
    except (ValueError, OSError) as exc:
        return _fail(str(exc))
    for row in rows:
        result = {"preset": preset.name, "task": preset.task.name, "seed": seed, **row}
        if args.json:
            print(json.dumps(result))
            continue
        print(_evaluation_line(preset, result))
        if args.failures and "failures" not in result:
            print(f"  ({preset.task.name} is scored by cost against {preset.task.optimum_name}: no failing sequences)")
        elif args.failures:
            for f in result["failures"]:
                print("  " + _failure_line(preset, f))
            if result["failed"] > len(result["failures"]):
                print(f"  ... and {result['failed'] - len(result['failures']):,} more")
    return 0


def _evaluation_line(preset, result: dict) -> str:
    """One row of an evaluation, as the terminal shows it (% perfect never rounded up to 100%)."""
    from .numbers import percent
    where = (f"{preset.task.length_name} {result['length']}" if "length" in result
             else "its training distribution")
    repeats = f", {result['repeats']} repeats" if "repeats" in result else ""
    if preset.task.scored_by == "cost":              # dynamic N-grams: against the optimum, as the paper's fig. 13
        return (f"{preset.name} on {preset.task.name}, {where}: {result['cost_bits']:.2f} bits per sequence over "
                f"{result['sequences']} sequences; {preset.task.optimum_name} {result['optimal_bits']:.2f} on the same "
                f"sequences ({result['excess_bits']:+.2f} above it); chance {result['chance_bits']:.0f}")
    return (f"{preset.name} on {preset.task.name}, {where}{repeats}: {result['bit_errors']:.3f} bit errors per "
            f"sequence over {result['sequences']} sequences (max {result['bit_errors_max']:.0f}, "
            f"{percent(result['perfect'])} perfect, {result['failed']} failed"
            + (f", cost {result['cost_bits']:.3f} bits)" if "cost_bits" in result else ")"))


def _failure_line(preset, failure: dict) -> str:
    """'seed 12400, length 20: 83 bit errors (python -m ntm trace --preset copy --seed 12400 --length 20 ...)'."""
    where = f"seed {failure['seed']}, {preset.task.length_name} {failure['length']}"
    if "repeats" in failure:                     # a fixed number of repeats: trace draws its own
        return f"{where}, {failure['repeats']} repeats: {failure['bit_errors']} bit errors"
    return (f"{where}: {failure['bit_errors']} bit errors (python -m ntm trace --preset {shlex.quote(preset.name)} "
            f"--seed {failure['seed']} --length {failure['length']} --out trace.json)")


def _presets(_: argparse.Namespace) -> int:
    from .presets import catalogue

    for entry in catalogue():
        if entry.usable:
            print(f"{entry.id}\t{entry.model_type}\t{entry.task}")
        else:
            print(f"{entry.id}\t(cannot be used: {entry.problem})")
    return 0


def _trace(args: argparse.Namespace) -> int:
    import torch

    from .io import atomic_write_text
    from .presets import BundleError, load_preset
    from .trace import record

    try:
        preset = load_preset(args.preset)
    except BundleError as exc:
        return _fail(str(exc))
    length = args.length or preset.task.train_lengths[1]
    batch = preset.task.sample(1, torch.Generator().manual_seed(args.seed), length=length)
    try:
        trace = record(preset.model, batch.inputs, batch.targets, batch.mask,
                       meta={"preset": preset.name, "task": preset.task.name, "seed": args.seed, "length": length})
    except ValueError as exc:
        return _fail(str(exc))
    atomic_write_text(args.out, trace.to_json())
    print(f"wrote {args.out}: {trace.steps} timesteps, {trace.bit_errors()} bit errors", file=sys.stderr)
    return 0


def _seeds(text: str) -> list[int]:
    seeds: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        lo, dash, hi = part.partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise ValueError(f"--seeds takes whole numbers and ranges such as 1-8 or 1,5,9; got {text!r}")
        seeds += list(range(int(lo), int(hi) + 1)) if dash else [int(lo)]
    return seeds


def _sweep(args: argparse.Namespace) -> int:
    import time

    from .sweep import SweepError, SweepSpec, cancel_sweep, get_sweep, start_sweep

    def show(sweep) -> None:
        states = {run.job: job.state for job in sweep.jobs() for run in sweep.runs if run.job == job.id}
        print(f"sweep {sweep.id} ({sweep.spec.name}{', on Ray ' + sweep.ray if sweep.ray else ''}): "
              f"{sweep.state}{' - ' + sweep.message if sweep.message else ''}")
        for run in sweep.runs:
            print(f"  {run.label}\t{states.get(run.job, 'queued')}\t{run.job or ''}")

    try:
        if args.status or args.cancel:
            show(cancel_sweep(args.cancel) if args.cancel else get_sweep(args.status))
            return 0
        if not args.name:
            return _fail("--name is required to start a sweep (or pass --status/--cancel SWEEP_ID)")
        params = dict(pair.split("=", 1) for pair in args.param if "=" in pair)
        if len(params) != len(args.param):
            return _fail("-p expects key=value (e.g. -p num_batches=2000)")
        if args.device is not None:
            params["device"] = args.device
        if "device" in params and not (args.ray or os.environ.get("RAY_ADDRESS")):
            from .device import resolve_device      # runs here: refuse a missing GPU now (Ray nodes decide there)
            resolve_device(params["device"])
        grid = {}
        for item in args.grid:
            key, eq, values = item.partition("=")
            if not eq or not values.strip():
                return _fail(f"--grid expects key=v1,v2 (e.g. --grid lr=1e-4,3e-4); got {item!r}")
            grid[key.strip()] = [v.strip() for v in values.split(",") if v.strip()]
        spec = SweepSpec(args.name, tasks=args.task or ["copy"], model_types=args.model_type or ["ntm"],
                         seeds=_seeds(args.seeds), params=params, grid=grid, export_sequences=args.preset_sequences)
        sweep = start_sweep(spec, ray=args.ray)
    except (SweepError, ValueError) as exc:
        return _fail(str(exc))
    print(f"started sweep {sweep.id}: {len(sweep.runs)} runs{' on Ray ' + sweep.ray if sweep.ray else ''}; "
          f"watch it with python -m ntm sweep --status {sweep.id}", file=sys.stderr)
    if not args.wait:
        return 0
    while (sweep := get_sweep(sweep.id)).active:
        time.sleep(5)
    show(sweep)
    return 0 if sweep.state == "done" else 1


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    commands = {"train": _train, "evaluate": _evaluate, "presets": _presets, "trace": _trace, "sweep": _sweep}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
