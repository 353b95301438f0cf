"""Evaluation: bit errors per sequence, by length, for the generalisation comparisons of section 4.

    evaluate(model, task, length=80, sequences=100, seed=1)     one row of a generalisation table
    generalisation_table(model, task, lengths)                   a row per length
    generalisation_grid(model, task, lengths, repeats)           repeat copy: a row per (length, repeats)
    example_outputs({"NTM": ntm, "LSTM": lstm}, task, 120)       one episode through several models
    parse_lengths("10, 20, 40", task)                            test lengths typed by a user, checked
"""

from __future__ import annotations

import inspect
import re
from typing import Any, Callable

import torch
from torch import nn

from .tasks import Task, bit_errors, cost_bits

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
    generator = torch.Generator().manual_seed(seed)
    errors, costs = [], []
    try:
        remaining = sequences
        while remaining > 0:
            b = min(batch_size, remaining)
            batch = task.sample(b, generator, length=length, **knobs)
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
    generator = torch.Generator().manual_seed(seed)
    errors = []
    try:
        for _ in range(sequences):
            batch = task.sample(1, generator)
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
            logits, _, _ = model(batch.inputs)
        finally:
            model.train(was_training)
        outputs[name] = torch.sigmoid(logits[0][mask]).tolist()
    return {"target": batch.targets[0][mask].tolist(), "outputs": outputs}
