"""Evaluation: bit errors per sequence, by length, for the generalisation comparisons of section 4.

    evaluate(model, task, length=80, sequences=100, seed=1)     one row of a generalisation table
    generalisation_table(model, task, lengths)                   a row per length
    generalisation_grid(model, task, lengths, repeats)           repeat copy: a row per (length, repeats)
    parse_repeats("1, 10, 20"), default_repeats(task)            its numbers of repeats, typed or proposed
    grid_work(lengths, sequences, repeats)                       what a request costs, against MAX_WORK
    example_outputs({"NTM": ntm, "LSTM": lstm}, task, 120)       one episode through several models
    parse_lengths("10, 20, 40", task)                            test lengths typed by a user, checked

Sequences are drawn on the CPU (seeded CPU generators) and each batch is moved once to the model's
device (``ntm.device.model_device``), so the same seed scores the same sequences on any device.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, Callable

import torch
from torch import nn

from .device import model_device
from .tasks import Batch, Task, bit_errors, cost_bits

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


@torch.no_grad()
def evaluate(model: nn.Module, task: Task, length: int, sequences: int = 100, seed: int = 0,
             batch_size: int = 250, repeats: int | None = None) -> dict[str, Any]:
    """Mean bit errors and cost per sequence at one length, over ``sequences`` seeded sequences.

    ``batch_size``: sequences run at once. The sequences drawn do not depend on it (one generator
    draws them in order), so neither do the errors; a large batch costs little more than a small one
    per step on a CPU, which makes a first look with few sequences (or a refinement with many) fast.
    ``repeats`` fixes the number of repeats of a task that has them (``takes_repeats``), which the
    paper varies beside the length (figure 8); by default they are drawn as in training.

    Returns:
        ``{"length", "sequences", "bit_errors" (mean per sequence), "bit_errors_max",
        "cost_bits" (mean per sequence), "perfect" (fraction with no error)}``, and ``"repeats"``
        when it was fixed.
    """
    if sequences < 1:
        raise ValueError(f"sequences must be >= 1; got {sequences}")
    knobs: dict[str, Any] = {}
    if repeats is not None:
        if not takes_repeats(task):
            raise ValueError(f"the {task.name} task has no number of repeats to set")
        knobs["repeats"] = repeats
    was_training = model.training
    model.eval()
    device = model_device(model)
    generator = torch.Generator().manual_seed(seed)
    errors, costs = [], []
    try:
        remaining = sequences
        while remaining > 0:
            b = min(batch_size, remaining)
            batch = _on(device, task.sample(b, generator, length=length, **knobs))
            logits, _, _ = model(batch.inputs)
            errors.append(bit_errors(logits, batch).float())
            costs.append(cost_bits(logits, batch) * b)
            remaining -= b
    finally:
        model.train(was_training)
    err = torch.cat(errors)
    return {"length": length, **knobs, "sequences": sequences, "bit_errors": err.mean().item(),
            "bit_errors_max": err.max().item(), "cost_bits": (sum(costs) / sequences).item(),
            "perfect": (err == 0).float().mean().item()}


def generalisation_grid(model: nn.Module, task: Task, lengths: list[int], repeats: list[int],
                        sequences: int = 100, seed: int = 0) -> list[dict[str, Any]]:
    """``evaluate`` at every (length, repeats) pair, lengths outer: the paper's repeat-copy
    generalisation figure, over both size knobs."""
    if not takes_repeats(task):
        raise ValueError(f"the {task.name} task has no number of repeats to vary")
    return [evaluate(model, task, n, sequences, seed, repeats=r) for n in lengths for r in repeats]


@torch.no_grad()
def evaluate_training_distribution(model: nn.Module, task: Task, sequences: int = 500, seed: int = 0) -> dict[str, Any]:
    """Mean bit errors per sequence over the task's own training distribution.

    Every sequence draws its size knob (and the task's other random choices) exactly as training
    does, one sequence per batch so that each length is drawn independently.
    """
    was_training = model.training
    model.eval()
    device = model_device(model)
    generator = torch.Generator().manual_seed(seed)
    errors = []
    try:
        for _ in range(sequences):
            batch = _on(device, task.sample(1, generator))
            logits, _, _ = model(batch.inputs)
            errors.append(bit_errors(logits, batch).float())
    finally:
        model.train(was_training)
    err = torch.cat(errors)
    return {"sequences": sequences, "bit_errors": err.mean().item(), "bit_errors_max": err.max().item(),
            "perfect": (err == 0).float().mean().item()}


def generalisation_table(model: nn.Module, task: Task, lengths: list[int], sequences: int = 100,
                         seed: int = 0, progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """``evaluate`` at each length; ``progress(done, total)`` is called after each."""
    rows = []
    for i, length in enumerate(lengths):
        rows.append(evaluate(model, task, length, sequences, seed))
        if progress:
            progress(i + 1, len(lengths))
    return rows


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
    with each model's bit errors and % perfect side by side; over a (length, repeats) grid (rows with
    ``repeats``), a row per model and cell with its cost, bit errors and % perfect."""
    if any("repeats" in row for rows in results.values() for row in rows):
        return [{"model": label, "length": row["length"], "repeats": row["repeats"],
                 "cost (bits)": round(row["cost_bits"], 3), "bit errors": round(row["bit_errors"], 3),
                 "perfect": f"{row['perfect']:.0%}"} for label, rows in results.items() for row in rows]
    table: dict[int, dict[str, Any]] = {}
    for label, rows in results.items():
        for row in rows:
            cells = table.setdefault(row["length"], {"length": row["length"]})
            cells[f"{label}: bit errors"] = round(row["bit_errors"], 3)
            cells[f"{label}: perfect"] = f"{row['perfect']:.0%}"
    return [table[length] for length in sorted(table)]
