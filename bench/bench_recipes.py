"""Whether each task's five-minute recipe (``ntm.recipes``) reaches its preset's quality, printed as JSON.

    python bench/bench_recipes.py [--tasks copy,associative-recall] [--max-seconds 300]
                                  [--length-sequences 1000] [--out bench/recipes.json]

Run from the project folder after ``pip install -e .``, one task at a time (never two trainings at
once). For each task the clock starts, then ``python -m ntm train`` starts as a subprocess with the
task's recipe (so Python's start, the imports and ``torch.compile`` all count); the recipe's own
``max_seconds`` stops its loop, and if the process is still running when ``--max-seconds`` have
passed since the clock started, it gets SIGTERM (it finishes its batch and checkpoints). Then, in
this process and timed separately, the last checkpoint is evaluated on 1,000 sequences of the
training distribution (seed ``ntm.evaluation.DISTRIBUTION_SEED``, 54321, as the presets' READMEs)
and at the lengths the preset's metrics.json claims (seed 12345, ``--length-sequences`` each), and
compared with the recipe's ``target`` (the preset's score on the training distribution).

The machine's load average before and after each run and its CPU count are in the JSON: on a shared
machine the sequences a run gets through in five minutes say as much about the neighbours as about
the recipe. Results of earlier invocations for other tasks are kept in ``--out`` (a run replaces only
its own tasks' entries; an entry made with another recipe moves to the new entry's ``superseded``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch

from ntm.evaluation import DISTRIBUTION_SEED, evaluate_training_distribution, generalisation_table
from ntm.io import ROOT, atomic_write_json, read_jsonl
from ntm.presets import load_checkpoint
from ntm.recipes import BUDGET_SECONDS, TASK_RECIPES, reached, recipe_spec, RECIPES
from ntm.training import EVALUATION_SEED, TrainSettings

TASK_ORDER = ("copy", "associative-recall", "repeat-copy", "dynamic-ngrams", "priority-sort")
DISTRIBUTION_SEQUENCES = 1000
GRACE_SECONDS = 120          # after SIGTERM, how long the run may take to finish its batch and checkpoint
SCORES = ("perfect", "bit_errors", "cost_bits", "excess_bits", "optimal_bits", "failed")


def train_argv(spec, run_dir: Path) -> list[str]:
    """The ``python -m ntm train`` command line for ``spec`` (settings left at their defaults omitted)."""
    defaults = asdict(TrainSettings())
    argv = [sys.executable, "-m", "ntm", "train", "--task", spec.task, "--model-type", spec.model_type,
            "--seed", str(spec.seed), "--checkpoint-path", str(run_dir), "--no-progress"]
    for key, value in asdict(spec.settings).items():
        if value != defaults[key]:
            argv += ["-p", f"{key}={value}"]
    for key, value in {**spec.model, **spec.task_params}.items():
        argv += ["-p", f"{key}={value}"]
    return argv


def scores(row: dict) -> dict:
    """The comparable numbers of an evaluation row (failing sequences left out)."""
    return {k: round(row[k], 4) for k in SCORES if row.get(k) is not None}


def preset_quality(preset: str | None) -> dict:
    """The preset's training-distribution score and its per-length rows (from presets/<name>/metrics.json)."""
    if preset is None:
        return {}
    metrics = json.loads((ROOT / "presets" / preset / "metrics.json").read_text())
    return {"training_distribution": scores(metrics["training_distribution"]),
            "lengths": {str(r["length"]): scores(r) for r in metrics.get("generalisation", [])}}


def one_task(task: str, budget: float, length_sequences: int) -> dict:
    recipe = RECIPES[TASK_RECIPES[task]]
    spec = recipe_spec(recipe.name)
    claimed = preset_quality(recipe.preset)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        argv = train_argv(spec, run_dir)
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        stopped_by = "its max_seconds"
        try:
            proc.wait(timeout=max(budget - (time.perf_counter() - start), 1))
        except subprocess.TimeoutExpired:
            stopped_by = "SIGTERM at the budget"
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                stopped_by = "killed (no checkpoint after SIGTERM)"
        wall = time.perf_counter() - start
        stderr = proc.stderr.read() if proc.stderr else ""
        load_after = os.getloadavg()
        curve = read_jsonl(run_dir / "metrics.jsonl")
        result = {"task": task, "recipe": recipe.name, "preset": recipe.preset, "target": recipe.target,
                  "command": " ".join(argv[1:]).replace(str(run_dir), "RUN"), "returncode": proc.returncode,
                  "stopped_by": stopped_by, "train_wall_seconds": round(wall, 1),
                  "within_budget": wall <= budget,
                  "load_average_before": [round(x, 2) for x in load_before],
                  "load_average_after": [round(x, 2) for x in load_after]}
        if not (run_dir / "checkpoint.json").exists():
            result["error"] = stderr.strip().splitlines()[-1:] or ["no checkpoint written"]
            return result
        ckpt = load_checkpoint(run_dir)
        result.update(batches=ckpt.progress["batches"], sequences=ckpt.progress["sequences"],
                      loop_seconds=round(ckpt.progress["elapsed"], 1),
                      last_report={k: curve[-1][k] for k in ("sequences", "cost_bits", "bit_errors", "seq_per_s")
                                   if k in curve[-1]} if curve else None,
                      curriculum_cap=curve[-1].get("curriculum_cap") if curve else None)
        model, task_obj = ckpt.model, ckpt.task
        model.eval()
        t0 = time.perf_counter()
        with torch.no_grad():
            dist = evaluate_training_distribution(model, task_obj, sequences=DISTRIBUTION_SEQUENCES,
                                                  seed=DISTRIBUTION_SEED)
            lengths = [int(n) for n in claimed.get("lengths", {})]
            rows = generalisation_table(model, task_obj, lengths, sequences=length_sequences,
                                        seed=EVALUATION_SEED) if lengths else []
        result["evaluation_seconds"] = round(time.perf_counter() - t0, 1)
    result["training_distribution"] = {"sequences": DISTRIBUTION_SEQUENCES, "seed": DISTRIBUTION_SEED, **scores(dist)}
    result["lengths"] = {"sequences_each": length_sequences, "seed": EVALUATION_SEED,
                         "rows": {str(r["length"]): scores(r) for r in rows}}
    result["preset_quality"] = claimed
    result["reached"] = reached(recipe.target, dist)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default=",".join(TASK_ORDER), help="comma-separated tasks, run in this order")
    parser.add_argument("--max-seconds", type=float, default=float(BUDGET_SECONDS),
                        help="wall-time budget of each training process, from before it starts")
    parser.add_argument("--length-sequences", type=int, default=1000, help="sequences per claimed length")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "recipes.json")
    args = parser.parse_args()
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = [t for t in tasks if t not in TASK_RECIPES]
    if unknown:
        parser.error(f"no recipe for {', '.join(unknown)}; tasks: {', '.join(TASK_RECIPES)}")
    torch.set_num_threads(1)
    try:
        result = json.loads(args.out.read_text())
    except (OSError, ValueError):
        result = {}
    result.update({"benchmark": "recipes", "budget_seconds": args.max_seconds, "cpu_count": os.cpu_count(),
                   "machine": platform.machine(), "torch": torch.__version__, "evaluation_threads": 1})
    runs = result.setdefault("runs", {})
    for task in tasks:
        new = one_task(task, args.max_seconds, args.length_sequences)
        old = runs.get(task)
        if old and old.get("command") != new["command"]:       # an earlier recipe's result is kept, marked
            new["superseded"] = [*old.pop("superseded", []), old]
        runs[task] = new
        runs[task]["finished_utc"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
        atomic_write_json(args.out, result)          # after each task, so a stopped bench keeps what ran
        print(json.dumps(runs[task], indent=2), flush=True)


if __name__ == "__main__":
    main()
