"""The training observatory as data: every run's learning curve, its cost by sequence length, the
history of its outputs on fixed examples, and a look inside a running job.

Runs come from two places, read the same way:

    jobs      ``ntm.jobs.list_jobs()``: metrics.jsonl, fixed_examples.json + samples.jsonl (ntm.training)
    presets   ``ntm.presets.catalogue()``: the "curve" of metrics.json (the job's metrics.jsonl,
              saved with the preset); a preset saved by a listed job is shown once, as the job

Everything returned is plain rows and dicts, so the figures (``ntm.figures.observatory``) need
nothing of the library:

    runs = list_runs(task="copy")
    curve_rows(runs)      {run, task, model_type, seed, sequences, cost_bits, bit_errors} per report
    length_rows(run)      {run, sequences, length, cost_bits} per report and length seen in it
    history(run)          the fixed examples' targets and the outputs at every report
    live_trace(job_dir)   a Trace of the job's latest checkpoint on a fixed example (ntm.trace)

The paper plots "cost per sequence (bits)" against sequences seen (figs. 3, 4, 6, 9, 11);
pytorch-ntm adds cost per sequence length during training and the outputs on one input over
training (its GIFs); pytorch-dnc watches memory and weightings while a job runs (visdom).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .io import read_jsonl

LIVE_SEED = 0                 # the fixed example of the live look (the history's seed, ntm.training)
MODEL_LABELS = {"ntm": "NTM", "lstm": "LSTM", "dnc": "DNC", "sdnc": "Sparse DNC"}


class ObservatoryError(ValueError):
    """A run's files cannot give what was asked; the message says what to do."""


@dataclass(frozen=True)
class Run:
    """One training run as the observatory lists it.

    Attributes:
        key: unique among runs: ``job:<job id>`` or ``preset:<preset id>``.
        label: for legends and select boxes (unique among the runs listed together).
        source: ``job`` or ``preset``.
        folder: the job's folder or the preset's folder.
        state: the job's state (running, done...), or ``preset``.
        curve: the metrics lines (batches, sequences, cost_bits, bit_errors, cost_by_length...).
    """

    key: str
    label: str
    source: str
    task: str
    model_type: str
    seed: int | None
    folder: Path
    state: str
    curve: list[dict[str, Any]] = field(default_factory=list, repr=False)
    controller: str | None = None       # the NTM's controller (lstm, feedforward), when known

    @property
    def model_label(self) -> str:
        """'NTM (LSTM)', 'NTM (feedforward)', 'LSTM'... what runs are grouped (coloured) by."""
        label = MODEL_LABELS.get(self.model_type, self.model_type)
        return f"{label} ({self.controller})" if self.model_type == "ntm" and self.controller else label


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _controller(spec: dict[str, Any]) -> str | None:
    if spec.get("model_type") != "ntm":
        return None
    return str((spec.get("model") or {}).get("controller", "lstm"))


def job_runs() -> list[Run]:
    """Every job with its metrics so far, newest first."""
    from .jobs import list_jobs
    return [Run(f"job:{j.id}", j.name, "job", j.task, j.model_type, j.spec.get("seed"), j.dir, j.state,
                j.metrics(), _controller(j.spec)) for j in list_jobs()]


def preset_runs(skip: set[Path] = frozenset()) -> list[Run]:
    """Every usable preset whose metrics.json holds a curve, except those in ``skip`` (folders)."""
    from .presets import catalogue
    runs = []
    for entry in catalogue():
        if not entry.usable or entry.path.resolve() in skip:
            continue
        metrics = _read_json(entry.path / "metrics.json") or {}
        curve = [r for r in metrics.get("curve") or [] if isinstance(r, dict) and "sequences" in r]
        if not curve:
            continue
        spec = metrics.get("spec") if isinstance(metrics.get("spec"), dict) else {}
        runs.append(Run(f"preset:{entry.id}", f"preset {entry.id}", "preset", entry.task, entry.model_type,
                        metrics.get("seed"), entry.path, "preset", curve, _controller(spec)))
    return runs


def list_runs(task: str | None = None) -> list[Run]:
    """Jobs (newest first), then presets not saved by a listed job; only ``task``'s if given.
    Labels are made unique with ' (2)', ' (3)'..."""
    from .jobs import list_jobs
    saved = {j.preset_path.resolve() for j in list_jobs() if j.preset_saved}
    runs = [r for r in job_runs() + preset_runs(saved) if task is None or r.task == task]
    seen: dict[str, int] = {}
    unique = []
    for r in runs:
        seen[r.label] = seen.get(r.label, 0) + 1
        label = r.label if seen[r.label] == 1 else f"{r.label} ({seen[r.label]})"
        unique.append(Run(r.key, label, r.source, r.task, r.model_type, r.seed, r.folder, r.state, r.curve,
                          r.controller))
    return unique


def curve_rows(runs: list[Run]) -> list[dict[str, Any]]:
    """One row per report of every run: run (label), group (model label), task, model_type, seed,
    sequences (seen so far), cost_bits (per sequence, mean over the report's batches), bit_errors."""
    return [{"run": r.label, "group": r.model_label, "task": r.task, "model_type": r.model_type, "seed": r.seed,
             "sequences": int(m["sequences"]), "cost_bits": float(m["cost_bits"]),
             "bit_errors": float(m.get("bit_errors", float("nan")))}
            for r in runs for m in r.curve if "cost_bits" in m]


def length_rows(run: Run) -> list[dict[str, Any]]:
    """Cost per sequence by length during training: one row per report and length drawn in it
    (run, sequences, length, cost_bits). Empty for runs trained before lengths were recorded."""
    return [{"run": run.label, "sequences": int(m["sequences"]), "length": int(n), "cost_bits": float(c)}
            for m in run.curve for n, c in (m.get("cost_by_length") or {}).items()]


def history(run: Run) -> dict[str, Any] | None:
    """The outputs on the run's fixed examples at every report, or None if it kept none (presets,
    older runs): ``{"examples": [{"length", "targets" [T_scored, W]}, ...],
    "frames": [{"batches", "sequences", "outputs": [[T_scored, W] per example]}, ...]}``."""
    fixed = _read_json(run.folder / "fixed_examples.json")
    frames = [f for f in read_jsonl(run.folder / "samples.jsonl") if isinstance(f.get("outputs"), list)]
    if not fixed or not isinstance(fixed.get("examples"), list) or not frames:
        return None
    examples = [{"length": e["length"], "targets": e["targets"]} for e in fixed["examples"]]
    frames = [f for f in frames if len(f["outputs"]) == len(examples)]
    return {"examples": examples, "frames": frames} if frames else None


def live_trace(job_dir: str | Path, length: int | None = None, attempts: int = 3):
    """The job's latest checkpoint run on a fixed example (seed ``LIVE_SEED``) with recording on:
    an ``ntm.trace.Trace`` for the step figures (memory, head weightings), with ``meta`` holding
    the checkpoint's batches. ``length``: the size knob (default the longest training length).

    Raises:
        ObservatoryError: no checkpoint yet, an unreadable one, or a model that keeps no memory.
    """
    import torch

    from .presets import BundleError, has_checkpoint, load_checkpoint
    from .trace import record

    job_dir = Path(job_dir)
    if not has_checkpoint(job_dir):
        raise ObservatoryError("No checkpoint yet: the job writes one every 'checkpoint interval' batches.")
    for attempt in range(attempts):      # the job may replace its checkpoint while it is being read
        try:
            ckpt = load_checkpoint(job_dir)
            break
        except BundleError:
            if attempt == attempts - 1:
                raise ObservatoryError("The job's checkpoint could not be read just now; refresh in a moment.") \
                    from None
    model, task = ckpt.model, ckpt.task
    n = task.train_lengths[1] if length is None else length
    episode = task.sample(1, torch.Generator().manual_seed(LIVE_SEED), length=n)
    try:
        trace = record(model, episode.inputs, episode.targets, episode.mask,
                       meta={"batches": ckpt.progress.get("batches"), "length": n, "task": task.name})
    except ValueError:
        raise ObservatoryError(f"The {MODEL_LABELS.get(model.model_type, model.model_type)} has no memory "
                               f"or heads to look inside; its curves are above.") from None
    return trace
