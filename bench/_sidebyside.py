"""Side-by-side timing against a reference implementation, shared by the benches that compare with
one (bench_dnc.py with pytorch-dnc, bench_training.py with pytorch-ntm).

This machine's speed drifts from one window to the next (other work shares its 2 cores), so a
figure is the median of several timed windows, and the models' windows take turns: reference,
ours eager, ours compiled, then the other way round, ``repeats`` rounds. Each round's ratio of our
window to the reference's window of the same round is a paired ratio; their median is the speed-up
that the load affects least.
"""

from __future__ import annotations

import os
import statistics
from typing import Callable


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def interleave(window: Callable[[str], float], names: list[str], repeats: int) -> dict[str, list[float]]:
    """``window(name)`` for every name, ``repeats`` rounds, the order reversed every other round.

    Returns each name's values in round order, so ``values[name][r]`` pairs with the others' r-th.
    """
    values: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            values[name].append(window(name))
    return values


def summary(values: list[float], seconds: float) -> dict:
    """Median, range and count of a model's window rates."""
    return {"seq_per_s": round(statistics.median(values), 2), "min": round(min(values), 2),
            "max": round(max(values), 2), "windows": len(values), "seconds_each": seconds}


def paired_speedup(ours: list[float], reference: list[float]) -> float:
    """The median over rounds of our rate over the reference's rate in the same round."""
    return round(statistics.median(a / b for a, b in zip(ours, reference)), 2)
