"""The Addressing lab's library side: hand-set inputs in, every addressing stage out.

The page (``pages/addressing_lab.py``) holds only widgets; what it shows is computed here, by the
model's own ``ntm.addressing.address`` on a batch of one, so the lab cannot drift from the model:

    memory = seeded_memory(8, 4, seed=0)                  [N, M], rounded to 2 decimals
    w_prev = previous_weighting(8, focus=0)               [N], one-hot (or uniform for None)
    s, fell_back = shift_kernel([0, 0, 1])                [2R+1] over offsets -R..R, sums to 1
    out = address_by_hand(memory, key, w_prev, beta=5, g=0.5, s=s, gamma=1)
    out.similarity [N] (eq. 6);  out.stages.content / gated / shifted / weights [N] (eqs. 5-9)

``source_of("sharpen")`` gives where a stage function lives and its body, for showing the code
beside the equation. No Streamlit here; ``tests/test_lab.py`` checks it.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from types import ModuleType
from typing import Any, NamedTuple, Sequence

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


__all__ = ["HandAddressing", "seeded_memory", "previous_weighting", "shift_kernel", "address_by_hand",
           "parameter_value", "source_of"]
