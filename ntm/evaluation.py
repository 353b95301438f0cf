"""Evaluation: bit errors per sequence (or cost against an optimum), by length, for section 4's comparisons.

    evaluate(model, task, length=80, sequences=100, seed=1)     one row of a generalisation table
    generalisation_table(model, task, lengths)                   a row per length
    generalisation_grid(model, task, lengths, repeats)           repeat copy: a row per (length, repeats)
    parse_repeats("1, 10, 20"), default_repeats(task)            its numbers of repeats, typed or proposed
    grid_work(lengths, sequences, repeats)                       what a request costs, against MAX_WORK
    example_outputs({"NTM": ntm, "LSTM": lstm}, task, 120)       one episode through several models
    parse_lengths("10, 20, 40", task)                            test lengths typed by a user, checked

Sequences are drawn on the CPU (seeded CPU generators) and each batch is moved once to the model's
device (``ntm.device.model_device``), so the same seed scores the same sequences on any device.

Every sequence has a seed of its own: sequence i of an evaluation with seed S is the episode
``task.sample(1, torch.Generator().manual_seed(S + i), length=L)``, the one the Step-through page
shows for seed S + i and length L. A sequence with any bit error is a *failure*; the results count
them (``failed``) and list the first few (``failures``: seed, length, bit errors), so a lecturer can
open any of them and watch the machine fail.

A task whose bits stay random to any predictor (dynamic N-grams, ``task.scored_by == "cost"``) is judged
as the paper's figure 13 judges it instead: the model's cost in bits per sequence (``cost_bits``) against
the optimal predictor's on the same sequences (``optimal_bits``, ``task.optimal_cost_bits``), the excess
(``excess_bits`` = cost - optimum) and chance (``chance_bits``: ½ for every scored bit, one bit each);
such rows list no failing sequences.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, Callable

import torch
from torch import nn

from .device import model_device
from .numbers import percent
from .tasks import Batch, Task, bit_errors, sequence_cost_bits

# The kinds of model the comparisons of section 4 set side by side, by the model types of each, with
# the preset each defaults to; the paper compares the NTM and the LSTM, and the DNC is the NTM's successor.
FAMILIES: dict[str, tuple[str, ...]] = {"NTM": ("ntm",), "DNC": ("dnc", "sdnc"), "LSTM": ("lstm",)}
DEFAULT_PRESETS: dict[str, str] = {"NTM": "copy", "DNC": "dnc-copy", "LSTM": "lstm-copy"}


def family_of(model_type: str) -> str | None:
    """``"ntm"`` -> ``"NTM"``, ``"sdnc"`` -> ``"DNC"``; None for a model type no comparison knows."""
    return next((family for family, types in FAMILIES.items() if model_type in types), None)


def presets_by_family(entries, task: str) -> dict[str, list[str]]:
    """The usable catalogue entries (``ntm.presets.catalogue()``) trained on ``task``, as preset ids
    per family, each list starting with the family's default preset when it is there."""
    out: dict[str, list[str]] = {family: [] for family in FAMILIES}
    for e in entries:
        family = family_of(e.model_type or "")
        if e.usable and e.task == task and family is not None:
            out[family].append(e.id)
    for family, ids in out.items():
        ids.sort(key=lambda i: (i != DEFAULT_PRESETS[family], i))
    return out


def memory_slots(model: nn.Module) -> int | None:
    """N, the model's memory slots (the NTM's ``memory_slots``, the DNC's ``nr_cells``), or None for a
    model without a memory (the LSTM)."""
    config = getattr(model, "config", None)
    return getattr(config, "memory_slots", None) or getattr(config, "nr_cells", None)


def max_length(task: Task, model: nn.Module) -> int | None:
    """The longest size-knob value whose episode fits the model's memory (None: no limit).

    A copy of L vectors needs L slots (``task.slots_needed``), so longer tests would overwrite
    the start of the sequence whatever the model learned; the tables stop there.
    """
    slots = memory_slots(model)
    return None if slots is None else task.longest_fitting(slots)


def default_lengths(task: Task, model: nn.Module | None = None) -> list[int]:
    """The task's default test lengths that fit the model's memory."""
    return task.test_lengths(memory_slots(model) if model is not None else None)


def _on(device: torch.device, batch: Batch) -> Batch:
    """``batch`` on ``device``: one move per batch, none when the model is on the CPU."""
    return batch if device.type == "cpu" else batch.to(device)


def takes_repeats(task: Task) -> bool:
    """Whether the task has a second size knob, the number of repeats (repeat copy, section 4.2)."""
    return "repeats" in inspect.signature(task.sample).parameters


KEEP_FAILURES = 10                # failing sequences listed per evaluation (all are counted)


def sequence_seed(seed: int, index: int) -> int:
    """The seed of sequence ``index`` of an evaluation seeded ``seed``: the Step-through page's seed
    for that very sequence (``S + i``)."""
    return seed + index


def draw(task: Task, seeds: list[int], length: int, **knobs: Any) -> Batch:
    """One episode per seed, ``task.sample(1, Generator().manual_seed(s), length, **knobs)``, stacked
    into one batch ``[len(seeds), T, ...]``; episodes shorter than the longest (repeat copy's drawn
    repeats) are padded at the end (inputs and targets zero, mask False), as ``task.sample`` pads its
    own batches. A model reads causally, so the padding after an episode changes none of its scores."""
    parts = [task.sample(1, torch.Generator().manual_seed(s), length=length, **knobs) for s in seeds]
    steps = max(p.num_steps for p in parts)

    def pad(x: torch.Tensor) -> torch.Tensor:
        extra = steps - x.shape[1]
        return x if not extra else torch.cat([x, x.new_zeros((1, extra, *x.shape[2:]))], dim=1)

    return Batch(torch.cat([pad(p.inputs) for p in parts]), torch.cat([pad(p.targets) for p in parts]),
                 torch.cat([pad(p.mask) for p in parts]))


def scored_by_cost(task: Task) -> bool:
    """Whether the task judges a model by its cost against an optimum (``task.scored_by == "cost"``:
    dynamic N-grams) rather than by bit errors; its rows then carry ``optimal_bits``, ``excess_bits`` and
    ``chance_bits`` and no failing sequences."""
    return task.scored_by == "cost"


def _score(model: nn.Module, task: Task, seeds: list[int], lengths: list[int], knobs: dict[str, Any],
           batch_size: int) -> dict[str, torch.Tensor]:
    """Per-sequence scores ``[S]`` of the sequences ``(seeds[i], lengths[i])`` (in that order), run in
    batches of at most ``batch_size`` sequences of one length each: ``errors`` (bit errors), ``cost`` (in
    bits), ``chance`` (the cost of predicting ½ for every scored bit: one bit each) and, for a task scored
    by cost, ``optimum`` (``task.optimal_cost_bits`` on the same sequences)."""
    device = model_device(model)
    out = {key: torch.zeros(len(seeds), dtype=torch.float64) for key in ("errors", "cost", "chance")}
    if scored_by_cost(task):
        out["optimum"] = torch.zeros(len(seeds), dtype=torch.float64)
    by_length: dict[int, list[int]] = {}
    for i, n in enumerate(lengths):
        by_length.setdefault(n, []).append(i)
    for n, indices in sorted(by_length.items()):
        for start in range(0, len(indices), batch_size):
            chunk = indices[start:start + batch_size]
            cpu_batch = draw(task, [seeds[i] for i in chunk], n, **knobs)
            batch = _on(device, cpu_batch)
            logits, _, _ = model(batch.inputs)
            out["errors"][chunk] = bit_errors(logits, batch).double().cpu()
            out["cost"][chunk] = sequence_cost_bits(logits, batch).double().cpu()
            out["chance"][chunk] = (cpu_batch.mask.sum(1) * cpu_batch.targets.shape[-1]).double()
            if "optimum" in out:
                out["optimum"][chunk] = task.optimal_cost_bits(cpu_batch).double()
    return out


def _summary(seeds: list[int], lengths: list[int], scores: dict[str, torch.Tensor], keep: int,
             knobs: dict[str, Any]) -> dict[str, Any]:
    """What a row reports. Every task: the number of sequences, mean and max bit errors and the mean cost
    in bits per sequence. A task scored by bit errors: the fraction perfect, the number failed and the
    first ``keep`` failures. A task scored by cost: the optimum's mean cost on the same sequences, the
    excess (cost - optimum) and chance."""
    errors, n = scores["errors"], len(seeds)
    row = {"sequences": n, "bit_errors": errors.mean().item(), "bit_errors_max": errors.max().item(),
           "cost_bits": scores["cost"].mean().item()}
    if "optimum" in scores:
        optimum = scores["optimum"].mean().item()
        return {**row, "optimal_bits": optimum, "excess_bits": row["cost_bits"] - optimum,
                "chance_bits": scores["chance"].mean().item()}
    wrong = (errors > 0).nonzero().flatten().tolist()                # indices, in order
    failures = [{"seed": seeds[i], "length": lengths[i], **knobs, "bit_errors": int(errors[i])} for i in wrong[:keep]]
    return {**row, "perfect": (n - len(wrong)) / n, "failed": len(wrong), "failures": failures}


@torch.no_grad()
def evaluate(model: nn.Module, task: Task, length: int, sequences: int = 100, seed: int = 0,
             batch_size: int = 250, repeats: int | None = None, keep_failures: int = KEEP_FAILURES) -> dict[str, Any]:
    """Mean bit errors and cost per sequence at one length, over ``sequences`` seeded sequences.

    Sequence i is drawn from seed ``seed + i`` (``sequence_seed``), so each can be reopened on its own.
    ``batch_size``: sequences run at once; the sequences do not depend on it, so neither do the errors.
    ``repeats`` fixes the number of repeats of a task that has them (``takes_repeats``), which the
    paper varies beside the length (figure 8); by default they are drawn as in training (from each
    sequence's seed).

    Returns:
        ``{"length", "sequences", "bit_errors" (mean per sequence), "bit_errors_max",
        "cost_bits" (mean per sequence), "perfect" (fraction with no error), "failed" (sequences with
        an error), "failures" (the first ``keep_failures`` of them: ``{"seed", "length", "bit_errors"}``,
        and ``"repeats"`` when fixed)}``, and ``"repeats"`` when it was fixed. For a task scored by cost
        (``scored_by_cost``), ``"optimal_bits"``, ``"excess_bits"`` and ``"chance_bits"`` (means per
        sequence) instead of ``"perfect"``, ``"failed"`` and ``"failures"``.
    """
    if sequences < 1:
        raise ValueError(f"sequences must be >= 1; got {sequences}")
    knobs: dict[str, Any] = {}
    if repeats is not None:
        if not takes_repeats(task):
            raise ValueError(f"the {task.name} task has no number of repeats to set")
        knobs["repeats"] = repeats
    seeds = [sequence_seed(seed, i) for i in range(sequences)]
    was_training = model.training
    model.eval()
    try:
        scores = _score(model, task, seeds, [length] * sequences, knobs, batch_size)
    finally:
        model.train(was_training)
    return {"length": length, **knobs, **_summary(seeds, [length] * sequences, scores, keep_failures, knobs)}


def generalisation_grid(model: nn.Module, task: Task, lengths: list[int], repeats: list[int],
                        sequences: int = 100, seed: int = 0) -> list[dict[str, Any]]:
    """``evaluate`` at every (length, repeats) pair, lengths outer: the paper's repeat-copy
    generalisation figure, over both size knobs."""
    if not takes_repeats(task):
        raise ValueError(f"the {task.name} task has no number of repeats to vary")
    return [evaluate(model, task, n, sequences, seed, repeats=r) for n in lengths for r in repeats]


def training_lengths(task: Task, sequences: int, seed: int) -> list[int]:
    """The size knob of each of ``sequences`` sequences, drawn uniformly from ``task.train_lengths``
    as training draws it, from a generator seeded ``seed`` (separate from the sequences' own seeds)."""
    lo, hi = task.train_lengths
    return torch.randint(lo, hi + 1, (sequences,), generator=torch.Generator().manual_seed(seed)).tolist()


@torch.no_grad()
def evaluate_training_distribution(model: nn.Module, task: Task, sequences: int = 500, seed: int = 0,
                                   batch_size: int = 250, keep_failures: int = KEEP_FAILURES) -> dict[str, Any]:
    """Mean bit errors per sequence over the task's own training distribution.

    Sequence i has a length drawn uniformly from the training lengths (``training_lengths``) and is
    drawn at that length from seed ``seed + i``, its other random choices (repeat copy's repeats)
    drawn as in training: the sequence the Step-through page shows for that seed and length.

    Returns:
        ``{"sequences", "seed", "bit_errors", "bit_errors_max", "cost_bits", "perfect", "failed",
        "failures"}``, or for a task scored by cost ``"optimal_bits"``, ``"excess_bits"`` and
        ``"chance_bits"`` instead of the last three (see ``evaluate``).
    """
    if sequences < 1:
        raise ValueError(f"sequences must be >= 1; got {sequences}")
    seeds = [sequence_seed(seed, i) for i in range(sequences)]
    lengths = training_lengths(task, sequences, seed)
    was_training = model.training
    model.eval()
    try:
        scores = _score(model, task, seeds, lengths, {}, batch_size)
    finally:
        model.train(was_training)
    return {"seed": seed, **_summary(seeds, lengths, scores, keep_failures, {})}


def generalisation_table(model: nn.Module, task: Task, lengths: list[int], sequences: int = 100,
                         seed: int = 0, progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """``evaluate`` at each length; ``progress(done, total)`` is called after each."""
    rows = []
    for i, length in enumerate(lengths):
        rows.append(evaluate(model, task, length, sequences, seed))
        if progress:
            progress(i + 1, len(lengths))
    return rows


DISTRIBUTION_SEED = 54321         # seed of a saved preset's training-distribution row


def measure(model: nn.Module, task: Task, lengths: list[int], sequences: int, seed: int,
            distribution_seed: int = DISTRIBUTION_SEED,
            progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """What a preset's README reports as measured: the generalisation table at ``lengths`` (seed
    ``seed``) and the training distribution (seed ``distribution_seed``), each over ``sequences``
    sequences, with their failures; ``progress(done, total)`` after each length."""
    table = generalisation_table(model, task, lengths, sequences, seed, progress)
    return {"generalisation": table, "evaluation_seed": seed,
            "training_distribution": evaluate_training_distribution(model, task, sequences, distribution_seed)}


MAX_TEST_LENGTH = 1000            # longest size knob a typed list of test lengths may ask for
MAX_WORK = 200_000                # sequences x length per model in one request from the app


def parse_lengths(text: str, task: Task, maximum: int = MAX_TEST_LENGTH) -> list[int]:
    """'10, 20 40' -> [10, 20, 40]: sorted, unique, each within ``task.min_length..maximum``.

    Raises:
        ValueError: with what is wrong, quoting at most a few characters of the text.
    """
    words = text.replace(",", " ").split()
    if not all(re.fullmatch(r"[0-9]{1,9}", w) for w in words):
        raise ValueError("lengths must be whole numbers separated by commas")
    values = sorted({int(w) for w in words})
    if not values:
        raise ValueError("give at least one length")
    bad = [v for v in values if not task.min_length <= v <= maximum]
    if bad:
        raise ValueError(f"lengths must be between {task.min_length} and {maximum}; got {bad[:5]}")
    return values


def check_work(lengths: list[int], sequences: int, limit: int = MAX_WORK) -> None:
    """Refuses a request of more than ``limit`` sequence-steps per model (sequences x length, summed),
    so one click cannot occupy a shared server's CPU for hours.

    Raises:
        ValueError: saying how to make the request smaller, or where to run it instead.
    """
    work = sequences * sum(lengths)
    if work > limit:
        raise ValueError(f"{sequences} sequences at lengths summing to {sum(lengths)} is {work:,} sequence-steps per "
                         f"model, over the {limit:,} one request may ask for: use fewer sequences or lengths, or run "
                         f"`python -m ntm evaluate` from a terminal")


@torch.no_grad()
def example_outputs(models: dict[str, nn.Module], task: Task, length: int, seed: int = 0) -> dict[str, Any]:
    """One episode at ``length`` through each model: the scored steps of the target and of each
    model's output probabilities (sigmoid of the logits).

    Returns:
        ``{"target": [S, Y] list, "outputs": {name: [S, Y] list}}``, S the episode's scored steps.
    """
    batch = task.sample(1, torch.Generator().manual_seed(seed), length=length)
    mask = batch.mask[0]
    outputs = {}
    for name, model in models.items():
        was_training = model.training
        model.eval()
        try:
            logits, _, _ = model(_on(model_device(model), batch).inputs)
        finally:
            model.train(was_training)
        outputs[name] = torch.sigmoid(logits[0].cpu()[mask]).tolist()
    return {"target": batch.targets[0][mask].tolist(), "outputs": outputs}


MAX_TEST_REPEATS = 100            # most repeats a typed list of test numbers of repeats may ask for


def train_repeats(task: Task) -> tuple[int, int]:
    """Inclusive range ``(min_repeats, max_repeats)`` of the repeats drawn in training (repeat copy)."""
    if not takes_repeats(task):
        raise ValueError(f"the {task.name} task has no number of repeats")
    return (task.min_repeats, task.max_repeats)


def default_repeats(task: Task) -> list[int]:
    """Numbers of repeats to test: the training range's ends and middle, then 1.5x and 2x its end
    (the paper tests repeat copy up to twice the repeats it trained on; 1..10 -> [1, 5, 10, 15, 20])."""
    lo, hi = train_repeats(task)
    return sorted({lo, (lo + hi) // 2, hi, hi + hi // 2, 2 * hi})


def parse_repeats(text: str, maximum: int = MAX_TEST_REPEATS) -> list[int]:
    """'1, 10 20' -> [1, 10, 20]: sorted, unique, each within ``1..maximum``; empty text -> ``[]``
    (no repeats axis: the repeats are drawn as in training).

    Raises:
        ValueError: with what is wrong, quoting at most a few of the values.
    """
    words = text.replace(",", " ").split()
    if not all(re.fullmatch(r"[0-9]{1,9}", w) for w in words):
        raise ValueError("numbers of repeats must be whole numbers separated by commas")
    values = sorted({int(w) for w in words})
    bad = [v for v in values if not 1 <= v <= maximum]
    if bad:
        raise ValueError(f"numbers of repeats must be between 1 and {maximum}; got {bad[:5]}")
    return values


def grid_work(lengths: list[int], sequences: int, repeats: list[int] = ()) -> int:
    """Sequence-steps per model of a request, the measure ``MAX_WORK`` caps: ``sequences x sum(lengths)``
    by length (a copy answers L steps), and ``sequences x sum(L x r)`` over a (length, repeats) grid,
    ``= sequences x sum(lengths) x sum(repeats)`` (a repeat copy answers L r steps)."""
    return sequences * sum(lengths) * (sum(repeats) if repeats else 1)


def grid_too_large(lengths: list[int], repeats: list[int], sequences: int, limit: int | None = None) -> str | None:
    """What ``check_work`` says, for a (length, repeats) grid: why a grid of more than ``limit``
    (default ``MAX_WORK``, read when called) sequence-steps per model (``grid_work``) is refused, and
    how to make it smaller or where to run it instead; None when it is within the limit."""
    limit = MAX_WORK if limit is None else limit
    work = grid_work(lengths, sequences, repeats)
    if work <= limit:
        return None
    return (f"{sequences} sequences at lengths summing to {sum(lengths)} and numbers of repeats summing to "
            f"{sum(repeats)} is {work:,} sequence-steps per model, over the {limit:,} one request may ask for: "
            f"use fewer sequences, lengths or numbers of repeats, or run "
            f"`python -m ntm evaluate --length L --repeats R` from a terminal")


def comparison_table(results: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The table under a comparison, from ``{label: rows of evaluate()}``: by length, a row per length
    with each model's bit errors and % perfect side by side (for a task scored by cost, ``_cost_table``); over a (length, repeats) grid (rows with
    ``repeats``), a row per model and cell with its cost, bit errors and % perfect."""
    if any("optimal_bits" in row for rows in results.values() for row in rows):
        return _cost_table(results)
    if any("repeats" in row for rows in results.values() for row in rows):
        return [{"model": label, "length": row["length"], "repeats": row["repeats"],
                 "cost (bits)": round(row["cost_bits"], 3), "bit errors": round(row["bit_errors"], 3),
                 "perfect": percent(row["perfect"])} for label, rows in results.items() for row in rows]
    table: dict[int, dict[str, Any]] = {}
    for label, rows in results.items():
        for row in rows:
            cells = table.setdefault(row["length"], {"length": row["length"]})
            cells[f"{label}: bit errors"] = round(row["bit_errors"], 3)
            cells[f"{label}: perfect"] = percent(row["perfect"])
    return [table[length] for length in sorted(table)]


def _cost_table(results: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """A comparison of a task scored by cost (dynamic N-grams), a row per length: each model's cost in bits
    per sequence and its excess over the optimum, then the optimum's cost and chance on the same sequences
    (every model is tested on the same seeded sequences, so these are shared)."""
    table: dict[int, dict[str, Any]] = {}
    shared: dict[int, dict[str, Any]] = {}
    for label, rows in results.items():
        for row in rows:
            cells = table.setdefault(row["length"], {"length": row["length"]})
            cells[f"{label}: cost (bits)"] = round(row["cost_bits"], 2)
            cells[f"{label}: above optimum"] = round(row["excess_bits"], 2)
            shared.setdefault(row["length"], {"optimum (bits)": round(row["optimal_bits"], 2),
                                              "chance (bits)": round(row["chance_bits"], 2)})
    return [{**table[length], **shared[length]} for length in sorted(table)]
