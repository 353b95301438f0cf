"""The Addressing lab's library side: hand-set inputs in, every addressing stage out.

The page (``pages/addressing_lab.py``) holds only widgets; what it shows is computed here, by the
model's own ``ntm.addressing.address`` on a batch of one, so the lab cannot drift from the model:

    memory = seeded_memory(8, 4, seed=0)                  [N, M], rounded to 2 decimals
    w_prev = previous_weighting(8, focus=0)               [N], one-hot (or uniform for None)
    s, fell_back = shift_kernel([0, 0, 1])                [2R+1] over offsets -R..R, sums to 1
    out = address_by_hand(memory, key, w_prev, beta=5, g=0.5, s=s, gamma=1)
    out.similarity [N] (eq. 6);  out.stages.content / gated / shifted / weights [N] (eqs. 5-9)

``source_of("sharpen")`` gives where a stage function lives and its body, for showing the code
beside the equation.

The lab's whole state is a ``LabState`` (memory size and seed, key, beta, g, the previous
weighting's focus, the shift kernel, gamma), written to and read from the page's URL:

    state, warnings = parse_params({"beta": "20", "g": "oops"})   # g falls back, with a warning
    to_params(state)                                              # {"n": "8", ..., "gamma": "1"}
    SCENARIOS["location-iteration"].state                         # named states a lecturer links to
    sharpening_hint(out.stages.shifted, gamma)                    # why gamma cannot break a tie

No Streamlit here; ``tests/test_lab.py`` and ``tests/test_lab_state.py`` check it.
"""

from __future__ import annotations

import ast
import inspect
import math
import textwrap
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np
import torch

from . import addressing
from .addressing import Addressing


class HandAddressing(NamedTuple):
    """One hand-set addressing step, as NumPy arrays over the N slots."""

    similarity: np.ndarray     # [N] K[k, M(i)], eq. 6
    stages: Addressing         # content, gated, shifted, weights: [N] each (eqs. 5-9)


def seeded_memory(slots: int, width: int, seed: int) -> np.ndarray:
    """``[slots, width]`` standard-normal memory from ``seed``, rounded to 2 decimals (easy to read)."""
    return torch.randn(slots, width, generator=torch.Generator().manual_seed(int(seed))).numpy().round(2)


def previous_weighting(slots: int, focus: int | None = None) -> np.ndarray:
    """``[slots]`` w_{t-1}: all weight on slot ``focus``, or uniform when ``focus`` is None."""
    if focus is None:
        return np.full(slots, 1.0 / slots)
    if not 0 <= focus < slots:
        raise ValueError(f"focus must be a slot 0..{slots - 1}; got {focus}")
    w = np.zeros(slots)
    w[focus] = 1.0
    return w


def shift_kernel(raw: Sequence[float]) -> tuple[np.ndarray, bool]:
    """Non-negative weights over offsets -R..R -> (a distribution s over them, fell_back).

    An all-zero kernel cannot be normalised; it becomes "no shift" (s(0) = 1) and ``fell_back``
    is True, so the caller can say so.
    """
    s = np.asarray(raw, dtype=float)
    if s.ndim != 1 or s.shape[0] % 2 != 1 or (s < 0).any():
        raise ValueError("a shift kernel needs an odd number of non-negative weights (offsets -R..R)")
    if s.sum() <= 0:
        no_shift = np.zeros_like(s)
        no_shift[s.shape[0] // 2] = 1.0
        return no_shift, True
    return s / s.sum(), False


def address_by_hand(memory: np.ndarray, key: np.ndarray, w_prev: np.ndarray, beta: float, g: float,
                    s: np.ndarray, gamma: float) -> HandAddressing:
    """The four stages of ``ntm.addressing.address`` on one memory and one head (float32, as the model).

    Args:
        memory: ``[N, M]``; key ``[M]``; w_prev ``[N]``; s ``[2R+1]``; beta, g, gamma scalars.
    """
    def row(x) -> torch.Tensor:                  # [1, ...]: a batch of one
        return torch.as_tensor(np.asarray(x, dtype=np.float32)).unsqueeze(0)

    def scalar(x: float) -> torch.Tensor:        # [1, 1]
        return torch.tensor([[float(x)]])

    mem, k = row(memory), row(key)
    stages = addressing.address(mem, row(w_prev), k, scalar(beta), scalar(g), row(s), scalar(gamma))
    similarity = addressing.cosine_similarity(mem, k)
    return HandAddressing(similarity[0].numpy(), Addressing(*(w[0].numpy() for w in stages)))


def parameter_value(name: str, value: Any) -> float | dict[int, float]:
    """A hand-set parameter as the figures format it: a float, or {offset: weight} for a kernel."""
    v = np.asarray(value, dtype=float)
    if v.ndim:
        return {o: float(x) for o, x in zip(addressing.shift_offsets(v.shape[0]), v)}
    return float(v)


def source_of(name: str, module: ModuleType = addressing) -> tuple[str, str]:
    """(``ntm/addressing.py:first-last``, the body of ``module.<name>`` without its docstring)."""
    func = getattr(module, name)
    lines, start = inspect.getsourcelines(func)
    body = ast.parse(textwrap.dedent("".join(lines))).body[0].body
    if isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]                          # the docstring
    first, last = body[0].lineno, body[-1].end_lineno
    code = textwrap.dedent("".join(lines[first - 1:last]))
    path = module.__name__.replace(".", "/") + ".py"
    where = f"{start + first - 1}" if first == last else f"{start + first - 1}-{start + last - 1}"
    return f"{path}:{where}", code


# ---- the lab's state, its URL form and its named scenarios --------------------------------------

MAX_SLOTS, MAX_WIDTH, MAX_SEED = 32, 8, 2**31 - 1
KEY_LIMIT = 100.0              # |k[j]| accepted from a link
# (low, high) of each scalar the lab sets; the sliders and the URL parser share them.
LIMITS: dict[str, tuple[float, float]] = {"beta": (0.0, 50.0), "g": (0.0, 1.0), "gamma": (1.0, 50.0),
                                          "s": (0.0, 10.0)}


@dataclass(frozen=True)
class LabState:
    """Everything the lab shows is computed from this (a hand-edited memory aside).

    ``key`` has ``width`` entries, or is None for "the content of slot ``key_slot``";
    ``previous`` is the slot w_{t-1} focuses on, or None for a uniform w_{t-1};
    ``shift`` holds the raw (unnormalised) kernel weights over offsets -1, 0, +1.
    """

    slots: int = 8
    width: int = 4
    seed: int = 0
    key_slot: int = 2
    key: tuple[float, ...] | None = None
    beta: float = 5.0
    g: float = 0.5
    previous: int | None = 0
    shift: tuple[float, float, float] = (0.0, 0.0, 1.0)
    gamma: float = 1.0

    def key_vector(self) -> np.ndarray:
        """``[width]`` k: the given key, or the seeded memory's slot ``key_slot``."""
        if self.key is not None:
            return np.asarray(self.key, dtype=float)
        return seeded_memory(self.slots, self.width, self.seed)[min(self.key_slot, self.slots - 1)]


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("not finite")
    return value


def _whole(text: str) -> int:
    value = _number(text)
    if value != int(value):
        raise ValueError("not whole")
    return int(value)


def _numbers(text: str) -> tuple[float, ...]:
    return tuple(_number(part) for part in text.split(","))


def parse_params(params: Mapping[str, str]) -> tuple[LabState, list[str]]:
    """A ``LabState`` from a link's query parameters, and one plain-text warning per value it
    could not use (that value falls back to the scenario's, or the default's).

    ``scenario`` (a name in ``SCENARIOS``) gives the starting state; ``n``, ``m``, ``seed``,
    ``key`` (m comma-separated numbers), ``beta``, ``g``, ``prev`` (a slot or ``uniform``), ``s``
    (three comma-separated weights for offsets -1, 0, +1) and ``gamma`` override it. Unknown
    parameters are ignored (the app's own, such as ``teacher``, share the URL).
    """
    warnings: list[str] = []
    state = LabState()
    name = str(params.get("scenario", "")).strip()
    if name:
        if name in SCENARIOS:
            state = SCENARIOS[name].state
        else:
            warnings.append(f"The link's scenario is not one of {', '.join(SCENARIOS)}; "
                            "starting from the default lab instead.")

    def take(param: str, read, check, default, what: str):
        raw = params.get(param)
        if raw is None:
            return default
        try:
            value = read(str(raw).strip())
            if check(value):
                return value
        except ValueError:
            pass
        warnings.append(f"The link's {param} is not {what}; using {_show(default)} instead.")
        return default

    slots = take("n", _whole, lambda v: 3 <= v <= MAX_SLOTS, state.slots, f"a whole number from 3 to {MAX_SLOTS}")
    width = take("m", _whole, lambda v: 1 <= v <= MAX_WIDTH, state.width, f"a whole number from 1 to {MAX_WIDTH}")
    seed = take("seed", _whole, lambda v: 0 <= v <= MAX_SEED, state.seed, "a whole number from 0 to 2147483647")
    state = replace(state, slots=slots, width=width, seed=seed, key_slot=min(state.key_slot, slots - 1),
                    previous=None if state.previous is None else min(state.previous, slots - 1))
    if state.key is not None and len(state.key) != width:
        state = replace(state, key=None)
    key = take("key", _numbers, lambda v: len(v) == width and all(abs(x) <= KEY_LIMIT for x in v), state.key,
               f"{width} comma-separated numbers between -{KEY_LIMIT:g} and {KEY_LIMIT:g}")
    scalars = {}
    for param in ("beta", "g", "gamma"):
        low, high = LIMITS[param]
        scalars[param] = take(param, _number, lambda v, lo=low, hi=high: lo <= v <= hi, getattr(state, param),
                              f"a number from {low:g} to {high:g}")
    prev = take("prev", lambda t: None if t == "uniform" else _whole(t),
                lambda v: v is None or 0 <= v < slots, state.previous, f"a slot from 0 to {slots - 1} or uniform")
    low, high = LIMITS["s"]
    shift = take("s", _numbers, lambda v: len(v) == 3 and all(low <= x <= high for x in v), state.shift,
                 f"three comma-separated weights from {low:g} to {high:g} (offsets -1, 0, +1)")
    return replace(state, key=key, previous=prev, shift=tuple(shift), **scalars), warnings


def _show(value: Any) -> str:
    if value is None:
        return "the default"
    if isinstance(value, tuple):
        return ",".join(f"{x:g}" for x in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def to_params(state: LabState) -> dict[str, str]:
    """The URL query parameters that give back ``state`` through ``parse_params``."""
    return {"n": str(state.slots), "m": str(state.width), "seed": str(state.seed),
            "key": ",".join(f"{x:.6g}" for x in state.key_vector()),
            "beta": f"{state.beta:.6g}", "g": f"{state.g:.6g}",
            "prev": "uniform" if state.previous is None else str(state.previous),
            "s": ",".join(f"{x:.6g}" for x in state.shift), "gamma": f"{state.gamma:.6g}"}


@dataclass(frozen=True)
class Scenario:
    """A named lab state a lecturer can link to (``?scenario=<name>``), with what it shows."""

    name: str
    title: str
    what_to_look_at: str
    state: LabState


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("content-lookup", "Content lookup",
             "The key is slot 5's content and β = 20 is large, so the content weighting focuses on slot 5; "
             "g = 1 ignores the previous weighting and the shift kernel does not move it.",
             LabState(key_slot=5, beta=20.0, g=1.0, previous=0, shift=(0.0, 1.0, 0.0), gamma=1.0)),
    Scenario("location-iteration", "Location-only iteration",
             "g = 0 ignores the content and keeps the previous focus (slot 3); the shift kernel moves it one "
             "slot on, to slot 4: what the copy task's heads do at every step.",
             LabState(beta=0.0, g=0.0, previous=3, shift=(0.0, 0.0, 1.0), gamma=1.0)),
    Scenario("fractional-shift-sharpen", "Fractional shift, then sharpen",
             "A shift split 40 / 60 between 0 and +1 blurs the focus over slots 3 and 4; γ = 10 sharpens "
             "it back onto slot 4, the larger of the two.",
             LabState(beta=0.0, g=0.0, previous=3, shift=(0.0, 0.4, 0.6), gamma=10.0)),
    Scenario("interpolation", "Interpolation with the previous weighting",
             "g = 0.5 mixes the content focus (slot 6) half and half with the previous weighting (slot 1): "
             "two bumps of one half each.",
             LabState(key_slot=6, beta=20.0, g=0.5, previous=1, shift=(0.0, 1.0, 0.0), gamma=1.0)),
    Scenario("exact-tie", "An exact tie γ cannot break",
             "A uniform shift kernel spreads slot 3's weight equally over slots 2, 3 and 4; sharpening "
             "raises equal weights to the same power, so even γ = 50 keeps them equal.",
             LabState(beta=0.0, g=0.0, previous=3, shift=(1.0, 1.0, 1.0), gamma=50.0)),
)}


def tied_maxima(w: np.ndarray, rtol: float = 1e-5) -> list[int]:
    """The slots whose weight equals the largest weight of ``w`` ``[N]`` (within ``rtol``, for float32)."""
    w = np.asarray(w, dtype=float)
    top = float(w.max())
    return [int(i) for i in np.flatnonzero(np.abs(w - top) <= rtol * max(top, 1e-30))]


def sharpening_hint(shifted: np.ndarray, gamma: float) -> str | None:
    """Why sharpening (eq. 9, w(i) ∝ w̃(i)^γ) cannot focus ``shifted`` ``[N]`` on one slot, or None.

    Equal weights stay equal under any power, so when the largest weight is shared by several
    slots (an exact tie) a larger γ only drains the others; when every slot ties (a flat
    weighting) sharpening changes nothing at all. Only said when γ > 1 (γ = 1 is no sharpening).
    """
    if gamma <= 1.0:
        return None
    tied = tied_maxima(shifted)
    n = np.asarray(shifted).shape[0]
    if len(tied) == n:
        return (f"The shifted weighting is flat (every slot has weight 1/{n}), and sharpening raises every "
                f"weight to the same power γ = {gamma:g} before renormalising: a flat weighting stays flat. "
                "Make one slot stand out first (a larger β or g, a focused previous weighting).")
    if len(tied) > 1:
        slots = ", ".join(str(i) for i in tied)
        return (f"Slots {slots} tie exactly for the largest weight. Sharpening raises every weight to the power "
                f"γ = {gamma:g} and renormalises, so equal weights stay equal: γ moves weight from the other slots "
                "onto the tied ones but cannot pick one of them. Break the tie with the shift kernel "
                "(unequal weights) or the content weighting.")
    return None


__all__ = ["HandAddressing", "seeded_memory", "previous_weighting", "shift_kernel", "address_by_hand",
           "parameter_value", "source_of", "LabState", "LIMITS", "MAX_SLOTS", "MAX_WIDTH", "parse_params",
           "to_params", "Scenario", "SCENARIOS", "tied_maxima", "sharpening_hint"]
