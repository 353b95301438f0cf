"""A length curriculum: train on short episodes first, and lengthen them as the model learns.

With ``-p curriculum=true`` a training run draws each batch's size knob (``task.train_lengths``,
e.g. copy's sequence length) uniformly from ``[low, cap]`` instead of ``[low, high]``. The cap starts
at ``start`` and grows by ``step`` each time the model has mastered the lengths it sees: when an
exponential moving average of bit errors per sequence (weight ``ALPHA`` on the newest batch) is at
most ``threshold`` and at least ``patience`` batches have passed since the last growth. Short
lengths stay in the mix once the cap has grown (a "mixed" curriculum), so nothing learnt is
forgotten; the cap never shrinks. Once ``cap == high`` the draw is the task's own distribution.

Why: an LSTM (and, less so, an NTM) given copy lengths 1-20 from the first batch spends most of its
early batches on sequences it cannot yet store, and learns slowly; learning to copy 2 vectors, then
3, ... reaches the full range in far fewer sequences (Zaremba & Sutskever 2014, "Learning to
Execute", section 4, for the mixed strategy).

    c = Curriculum.start_for((1, 20), CurriculumSettings(start=2))
    length = c.draw(generator)              # uniform in [1, c.cap]
    grew = c.update(bit_errors_per_sequence)
    c.state() / Curriculum.from_state(...)  # kept in a checkpoint's progress, so resume continues it
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

ALPHA = 0.1            # weight of the newest batch in the moving average of bit errors per sequence


@dataclass
class CurriculumSettings:
    """``start``: the first cap (clipped to the task's range); ``step``: how much it grows;
    ``threshold``: bit errors per sequence (moving average) at or below which it grows;
    ``patience``: batches at least between two growths."""

    start: int = 2
    step: int = 1
    threshold: float = 0.25
    patience: int = 25

    def __post_init__(self):
        for name in ("start", "step", "patience"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"curriculum_{name} must be a positive integer; got {v!r}")
        if not (isinstance(self.threshold, (int, float)) and self.threshold >= 0):
            raise ValueError(f"curriculum_threshold must be a number >= 0; got {self.threshold!r}")


@dataclass
class Curriculum:
    low: int
    high: int
    cap: int
    settings: CurriculumSettings
    average: float | None = None      # moving average of bit errors per sequence since the last growth
    since: int = 0                    # batches since the last growth

    @classmethod
    def start_for(cls, lengths: tuple[int, int], settings: CurriculumSettings) -> "Curriculum":
        low, high = int(lengths[0]), int(lengths[1])
        return cls(low, high, min(max(settings.start, low), high), settings)

    def draw(self, generator: torch.Generator) -> int:
        """The next batch's size knob, uniform in ``[low, cap]`` (from ``generator`` only)."""
        return int(torch.randint(self.low, self.cap + 1, (1,), generator=generator, device=generator.device))

    def update(self, bit_errors: float) -> bool:
        """Take one batch's bit errors per sequence; grow the cap when mastered. Returns whether it grew."""
        self.average = bit_errors if self.average is None else (1 - ALPHA) * self.average + ALPHA * bit_errors
        self.since += 1
        s = self.settings
        if self.cap < self.high and self.since >= s.patience and self.average <= s.threshold:
            self.cap = min(self.cap + s.step, self.high)
            self.average, self.since = None, 0
            return True
        return False

    def state(self) -> dict[str, Any]:
        return {"cap": self.cap, "average": self.average, "since": self.since}

    @classmethod
    def from_state(cls, lengths: tuple[int, int], settings: CurriculumSettings,
                   state: dict[str, Any] | None) -> "Curriculum":
        """A curriculum continued from ``state`` (a checkpoint's); a fresh one without it."""
        c = cls.start_for(lengths, settings)
        if isinstance(state, dict) and isinstance(state.get("cap"), int):
            c.cap = min(max(state["cap"], c.low), c.high)
            average = state.get("average")
            c.average = float(average) if isinstance(average, (int, float)) else None
            since = state.get("since")
            c.since = since if isinstance(since, int) and since >= 0 else 0
        return c
