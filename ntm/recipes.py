"""Training recipes: named, tested settings for a run, for when a lecturer has minutes, not hours.

A recipe is a ``RunSpec`` (``ntm.training``) with a name, a title and a sentence saying what it
trades away. The Train page offers them beside its form; ``bench/bench_lecture_demo.py``
measures how long the lecture demo takes to learn on the machine it runs on.

    spec = recipe_spec("lecture-demo")          # a fresh RunSpec, ready for ntm.jobs.start_job
    RECIPES["lecture-demo"].target_bit_errors  # what "learned" means for it

The lecture demo is the paper's copy task (section 4.1) made small: sequences of 1 to
``max_len`` vectors instead of 1 to 20, a memory of a few slots instead of 128, and a fast
learning rate, so that the fall of the cost from chance to almost nothing happens while the
audience watches.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from .training import RunSpec, TrainSettings


@dataclass(frozen=True)
class Recipe:
    """A named run: ``spec`` is copied for each use, so a caller may change its copy."""

    name: str
    title: str
    description: str
    spec: RunSpec
    target_bit_errors: float = 1.0        # "learned": fewer bit errors per sequence than this, on fresh sequences
    notes: dict[str, Any] = field(default_factory=dict)


LECTURE_DEMO = Recipe(
    name="lecture-demo",
    title="Lecture demo: a small copy NTM, live",
    description=("The copy task made small: sequences of 1–4 vectors, 16 memory slots of width 8, a 64-unit "
                 "LSTM controller and Adam at a fast learning rate (1e-2, batches of 8). Watch the cost fall from "
                 "chance towards zero: below 1 bit error per sequence after about 4,000–10,000 sequences, under a "
                 "minute of one core (bench/lecture_demo.json)."),
    spec=RunSpec(task="copy", model_type="ntm", seed=1,
                 settings=TrainSettings(batch_size=8, num_batches=3000, optimizer="adam", lr=1e-2,
                                        report_interval=10, checkpoint_interval=250, threads=1),
                 model={"controller_size": 64, "memory_slots": 16, "memory_width": 8, "memory_init": "random"},
                 task_params={"min_len": 1, "max_len": 4}),
)

RECIPES: dict[str, Recipe] = {r.name: r for r in (LECTURE_DEMO,)}


def recipe_spec(name: str) -> RunSpec:
    """A fresh copy of recipe ``name``'s ``RunSpec``.

    Raises:
        KeyError: no recipe has that name (the message lists the names there are).
    """
    if name not in RECIPES:
        raise KeyError(f"no recipe {name!r}; there are: {', '.join(RECIPES)}")
    return copy.deepcopy(RECIPES[name].spec)


__all__ = ["LECTURE_DEMO", "RECIPES", "Recipe", "recipe_spec"]
