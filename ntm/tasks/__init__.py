"""The paper's five tasks (Graves et al. 2014, section 4) as seeded batch generators.

    copy                4.1   replay a sequence of bit vectors
    repeat-copy         4.2   replay it a given number of times, then mark the end
    associative-recall  4.3   given an item from a list, recall the one after it
    dynamic-ngrams      4.4   predict each next bit of a sequence from a fresh random 6-gram table
    priority-sort       4.5   emit the highest-priority vectors in priority order
    cdcl-nli                  natural language inference, one sentence per step (the dual-memory NTM)

Every task yields whole episodes as one ``Batch(inputs, targets, mask)``; see ``base``.

    task = make_task("copy", max_len=10)
    batch = task.sample(16, torch.Generator().manual_seed(0))
    cost_bits(model_logits, batch)
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from .associative_recall import AssociativeRecallTask
from .base import Batch, Phase, Task, bit_errors, cost_bits, loss, sequence_cost_bits
from .copy import CopyTask
from .ngrams import NGramsTask
from .nli import NLITask
from .priority_sort import PrioritySortTask
from .repeat_copy import RepeatCopyTask

TASKS: dict[str, type[Task]] = {
    cls.name: cls for cls in (CopyTask, RepeatCopyTask, AssociativeRecallTask, NGramsTask, PrioritySortTask, NLITask)
}


def _task_class(name: str) -> type[Task]:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}")
    return TASKS[name]


def task_params(name: str) -> dict[str, tuple[type, Any]]:
    """The parameters of task ``name`` as ``{param: (type, default)}``, in declaration order,
    for validating ``-p key=value`` overrides and building forms."""
    cls = _task_class(name)
    hints = typing.get_type_hints(cls)
    return {f.name: (hints[f.name], f.default) for f in dataclasses.fields(cls)}


def make_task(name: str, **params: Any) -> Task:
    """Builds task ``name`` with ``params`` overriding its defaults.

    Raises:
        ValueError: for an unknown task or parameter (the message lists the valid ones) or an
            invalid value.
    """
    cls = _task_class(name)
    valid = task_params(name)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)} for task {name!r}; "
                         f"valid parameters: {', '.join(valid)}")
    return cls(**params)


__all__ = [
    "TASKS", "Batch", "Phase", "Task", "CopyTask", "RepeatCopyTask", "AssociativeRecallTask",
    "NGramsTask", "PrioritySortTask", "NLITask", "make_task", "task_params", "cost_bits", "sequence_cost_bits", "bit_errors", "loss",
]
