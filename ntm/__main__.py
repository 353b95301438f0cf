"""Command line: ``python -m ntm train | evaluate | presets | trace``.

    python -m ntm train --task copy --seed 1000 -p controller_size=100 --num-batches 2000
    python -m ntm train --model-type dnc -p nr_cells=64 -p cell_size=20 -p read_heads=1 --preset-out presets/x
    python -m ntm evaluate --preset presets/copy --task copy --length 80 --sequences 100 --seed 1 --json
    python -m ntm presets
    python -m ntm trace --preset copy --length 20 --seed 0 --out trace.json

The training flags are those of the widely used PyTorch NTM repositories; ``-p key=value``
reaches every training, model and task parameter (``python -m ntm train --list-params``); the DNC's
(``--model-type dnc|sdnc``) have pytorch-dnc's names (``nr_cells``, ``cell_size``, ``read_heads``,
``hidden_size``, ``rnn_type``, ``num_layers``). evaluate and trace take the model type from the preset.
Errors a user can fix are reported in one line, with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from .model import MODEL_TYPES
from .tasks import TASKS


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
                   help="ntm, the LSTM baseline (lstm), the DNC (dnc) or the sparse DNC (sdnc)")
    t.add_argument("--resume", action="store_true", help="continue the run in --checkpoint-path")
    t.add_argument("--preset-out", default=None,
                   help="when done, evaluate generalisation and save the model as a preset in this folder")
    t.add_argument("--preset-sequences", type=int, default=100, metavar="N",
                   help="test sequences per length of the saved preset's generalisation table (default: 100)")
    t.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch.compile the NTM step (faster for runs over a minute)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--list-params", action="store_true", help="print every -p key with its default and exit")

    e = sub.add_parser("evaluate", help="mean bit errors per sequence of a preset at one length")
    e.add_argument("--preset", required=True, help="preset folder (or a name under presets/)")
    e.add_argument("--task", choices=list(TASKS), default=None, help="task (default: the preset's)")
    e.add_argument("--length", type=int, required=True, help="value of the task's size knob (sequence length, items)")
    e.add_argument("--sequences", type=int, default=100, help="sequences to average over (default: 100)")
    e.add_argument("--seed", type=int, default=0, help="seed for the test sequences (default: 0)")
    e.add_argument("--json", action="store_true", help="print JSON")

    sub.add_parser("presets", help="list the presets")

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
        return 0
    if args.preset_sequences < 1:
        return _fail("--preset-sequences must be at least 1")
    overrides = {"batch_size": args.batch_size, "num_batches": args.num_batches,
                 "report_interval": args.report_interval, "checkpoint_interval": args.checkpoint_interval,
                 "compile": args.compile}
    try:
        spec = resolve_params(args.task, args.model_type, args.param, settings_overrides=overrides)
    except ValueError as exc:
        return _fail(str(exc))
    spec.seed = args.seed
    run_dir = Path(args.checkpoint_path or f"checkpoints/{args.task}-{args.model_type}-{args.seed}")
    from .presets import BundleError
    command = "python -m ntm " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        # On --resume, the -p settings that may change (a lower lr after a divergence) are the ones given.
        given = {pair.split("=", 1)[0].strip() for pair in args.param}
        changed = {k: getattr(spec.settings, k) for k in RESUME_OVERRIDES if k in given} if args.resume else None
        trainer = Trainer(spec, run_dir, resume=args.resume, progress=not args.no_progress, command=command,
                          resume_overrides=changed)
    except (BundleError, ValueError) as exc:
        return _fail(str(exc))
    if trainer.resumed:
        print(f"resuming {run_dir} at batch {trainer.batches}", file=sys.stderr)
    status = trainer.run()
    last = trainer.metrics_path.exists() and open(trainer.metrics_path).read().strip().splitlines()
    summary = json.loads(last[-1]) if last else {}
    print(json.dumps({"state": status["state"], "run_dir": str(run_dir), **summary}))
    if status["state"] == "diverged":
        print(f"error: {status['message']}", file=sys.stderr)
    if args.preset_out and status["state"] == "done":
        path = trainer.export_preset(args.preset_out, sequences=args.preset_sequences)
        print(f"saved preset {path}", file=sys.stderr)
    return 0 if status["state"] in ("done", "cancelled") else 1


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluation import evaluate
    from .presets import BundleError, load_preset

    try:
        preset = load_preset(args.preset)
    except BundleError as exc:
        return _fail(str(exc))
    if args.task is not None and args.task != preset.task.name:
        return _fail(f"preset {preset.name} was trained on {preset.task.name}, not {args.task}; "
                     f"pass --task {preset.task.name} or choose another preset")
    if args.sequences < 1:
        return _fail("--sequences must be at least 1")
    try:
        result = evaluate(preset.model, preset.task, args.length, args.sequences, args.seed)
    except ValueError as exc:
        return _fail(str(exc))
    result = {"preset": preset.name, "task": preset.task.name, "seed": args.seed, **result}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{preset.name} on {preset.task.name}, {preset.task.length_name} {args.length}: "
              f"{result['bit_errors']:.3f} bit errors per sequence over {args.sequences} sequences "
              f"(max {result['bit_errors_max']:.0f}, {100 * result['perfect']:.0f}% perfect, "
              f"cost {result['cost_bits']:.3f} bits)")
    return 0


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


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    return {"train": _train, "evaluate": _evaluate, "presets": _presets, "trace": _trace}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
