"""The four addressing stages of the NTM (Graves et al. 2014, section 3.3, eqs. 5-9).

A head turns its controller's emissions into a weighting over the N memory slots in four steps:

    content  w^c_t = softmax_i(beta_t * K[k_t, M_t(i)])          (eqs. 5-6)
    gate     w^g_t = g_t w^c_t + (1 - g_t) w_{t-1}              (eq. 7)
    shift    w~_t(i) = sum_j w^g_t(j) s_t(i - j)   (circular)    (eq. 8)
    sharpen  w_t(i) = w~_t(i)^gamma_t / sum_j w~_t(j)^gamma_t    (eq. 9)

Every function is pure and batched. The leading dimension is the batch ``B``; an optional
head dimension ``H`` may sit between the batch and the slots so that all heads of one kind
are addressed in one call (``[B, N]`` or ``[B, H, N]`` weightings). Nothing here loops over
the batch, the heads or the slots in Python.

Numerical care lives in two named places: ``_NORM_EPS`` keeps cosine similarity finite (with a
finite gradient) for all-zero keys or memory rows, and sharpening is computed in log space so
that weights down to the smallest normal float and exponents up to gamma = 50 stay normalised.

``address`` runs the four stages and returns them as an ``Addressing`` named tuple; it is the only
place the pipeline is written (heads, the Addressing lab and the recorded trace all call it).
``STAGES``, below it, is the one table of what each stage is called, which emitted parameter it
uses, its equation and the line of ``address`` that computes it; the trace, the figures and the
pages read their labels, symbols, equations and code from it. Another memory model (the DNC)
writes its own stage functions and its own table in its own module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

# Added under the square root of a squared norm: an all-zero memory row or key then has norm
# ~1e-8 instead of 0, so its cosine similarity is 0 (not NaN) and d||x||/dx = x/||x|| stays finite.
_NORM_EPS = 1e-8


class Addressing(NamedTuple):
    """Every intermediate weighting of one addressing step, ``[B, N]`` or ``[B, H, N]`` each."""

    content: torch.Tensor     # w^c_t, eqs. 5-6
    gated: torch.Tensor       # w^g_t, eq. 7
    shifted: torch.Tensor     # w~_t,  eq. 8
    weights: torch.Tensor     # w_t,   eq. 9: the final weighting


@dataclass(frozen=True)
class Parameter:
    """An emitted head parameter that an addressing stage uses."""

    name: str       # the emission's name, as ``address`` and the heads call it: "beta"
    symbol: str     # as printed: "β"
    label: str      # what it does: "key strength"

    @property
    def title(self) -> str:
        """'β, key strength'."""
        return f"{self.symbol}, {self.label}"


@dataclass(frozen=True)
class Stage:
    """One addressing stage: a row of a stage table such as ``STAGES``.

    ``key`` names the weighting the stage produces: a field of ``Addressing`` and of a recorded
    head (``ntm.trace``). ``code`` is the line of ``address`` that computes it and ``function``
    the library function that line calls, so a page can show the equation beside its source.
    """

    key: str                        # "content"
    label: str                      # short name of the weighting: "content"
    title: str                      # name of the operation: "Content weighting"
    symbol: str                     # as printed in figure titles: "wᶜ"
    parameter: Parameter | None     # the emission the stage uses, if any
    equation: str                   # LaTeX of the paper's equation
    code: str                       # "content = content_weights(memory, key, beta)"
    function: str                   # "content_weights", a function of the stage's module
    note: str = ""                  # one sentence on what the stage does, for readers
    mixes_previous: bool = False    # the stage mixes in the head's previous weighting w_{t-1}


def _safe_norm(x: torch.Tensor) -> torch.Tensor:
    """Euclidean norm over the last dimension, finite with a finite gradient at x = 0."""
    return torch.sqrt((x * x).sum(dim=-1) + _NORM_EPS * _NORM_EPS)


def cosine_similarity(memory: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    """K[u, v] = u . v / (||u|| ||v||) between a key and every memory row (eq. 6).

    Args:
        memory: ``[B, N, M]`` memory matrix M_t.
        key: ``[B, M]`` or ``[B, H, M]`` key vectors k_t.

    Returns:
        ``[B, N]`` or ``[B, H, N]`` similarities in [-1, 1]; 0 for an all-zero row or key.
    """
    single = key.dim() == 2
    k = key.unsqueeze(1) if single else key                       # [B, H, M]
    dots = torch.bmm(k, memory.transpose(1, 2))                   # [B, H, N]
    norms = _safe_norm(k).unsqueeze(-1) * _safe_norm(memory).unsqueeze(1)  # [B, H, 1] * [B, 1, N]
    sim = dots / norms
    return sim.squeeze(1) if single else sim


def content_weights(memory: torch.Tensor, key: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Content-based addressing, eq. 5: w^c_t(i) = exp(beta K[k, M(i)]) / sum_j exp(beta K[k, M(j)]).

    Args:
        memory: ``[B, N, M]``.
        key: ``[B, M]`` (or ``[B, H, M]``).
        beta: ``[B, 1]`` (or ``[B, H, 1]``) key strength, beta >= 0.

    Returns:
        ``[B, N]`` (or ``[B, H, N]``) weighting that sums to 1 over the slots.
    """
    return torch.softmax(beta * cosine_similarity(memory, key), dim=-1)


def interpolate(w_content: torch.Tensor, w_prev: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Interpolation gate, eq. 7: w^g_t = g_t w^c_t + (1 - g_t) w_{t-1}.

    Args:
        w_content: ``[B, N]`` (or ``[B, H, N]``) content weighting w^c_t.
        w_prev: same shape, the head's previous weighting w_{t-1}.
        g: ``[B, 1]`` (or ``[B, H, 1]``) gate in [0, 1]; 1 keeps the content weighting only.

    Returns:
        The gated weighting, same shape as ``w_content``.
    """
    return g * w_content + (1.0 - g) * w_prev


def shift(w: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Convolutional shift, eq. 8: w~_t(i) = sum_j w^g_t(j) s_t(i - j), indices modulo N.

    ``s`` is a distribution over the 2R+1 integer offsets -R..R, stored so that index ``R``
    is "no shift" and index ``R + 1`` is "+1". A one-hot shift of +1 moves the focus from
    slot i to slot i + 1 (mod N).

    Implementation: w~ = sum_d s(d) roll(w, d), one rolled copy per offset d in -R..R (a loop
    over the 2R+1 offsets, never over the batch or the slots); ``torch.compile`` fuses it into
    one pass over the weights.

    Args:
        w: ``[B, N]`` (or ``[B, H, N]``) gated weighting.
        s: ``[B, 2R+1]`` (or ``[B, H, 2R+1]``) shift distribution, 2R+1 <= N.

    Returns:
        ``[B, N]`` (or ``[B, H, N]``) shifted weighting; it sums to what ``w`` sums to.
    """
    width = s.shape[-1]
    radius = (width - 1) // 2
    n = w.shape[-1]
    if width % 2 != 1 or width > n:
        raise ValueError(f"shift kernel must have odd size 2R+1 <= N={n}; got {width}")
    out = s[..., radius:radius + 1] * w
    for offset in range(1, radius + 1):
        out = out + s[..., radius + offset:radius + offset + 1] * torch.roll(w, offset, dims=-1) \
                  + s[..., radius - offset:radius - offset + 1] * torch.roll(w, -offset, dims=-1)
    return out


def sharpen(w: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """Sharpening, eq. 9: w_t(i) = w~_t(i)^gamma_t / sum_j w~_t(j)^gamma_t, gamma >= 1.

    Computed as softmax(gamma * log w~), which is the same quantity without forming w~^gamma:
    1e-30 ** 50 underflows to 0 in float32 (and a row of such zeros would not normalise), but
    50 * log(1e-30) is an ordinary number. Weights are floored at the dtype's smallest normal
    value before the log, so exact zeros stay (numerically) zero and gradients stay finite.

    Args:
        w: ``[B, N]`` (or ``[B, H, N]``) shifted weighting, non-negative.
        gamma: ``[B, 1]`` (or ``[B, H, 1]``) sharpening exponent, gamma >= 1.

    Returns:
        Sharpened weighting, same shape, summing to 1 over the slots.
    """
    tiny = torch.finfo(w.dtype).tiny
    return torch.softmax(gamma * torch.log(w.clamp_min(tiny)), dim=-1)


def address(memory: torch.Tensor, w_prev: torch.Tensor, key: torch.Tensor, beta: torch.Tensor,
            g: torch.Tensor, s: torch.Tensor, gamma: torch.Tensor) -> Addressing:
    """The four stages in order, eqs. 5-9: the one place the NTM's addressing pipeline is written.

    Args:
        memory: ``[B, N, M]`` memory M_t.
        w_prev: ``[B, N]`` (or ``[B, H, N]``) the head's previous weighting w_{t-1}.
        key: ``[B, M]`` (or ``[B, H, M]``) key k_t.
        beta: ``[B, 1]`` (or ``[B, H, 1]``) key strength beta_t >= 0.
        g: ``[B, 1]`` (or ``[B, H, 1]``) interpolation gate g_t in [0, 1].
        s: ``[B, 2R+1]`` (or ``[B, H, 2R+1]``) shift distribution s_t over offsets -R..R.
        gamma: ``[B, 1]`` (or ``[B, H, 1]``) sharpening exponent gamma_t >= 1.

    Returns:
        ``Addressing(content, gated, shifted, weights)``, each ``[B, N]`` (or ``[B, H, N]``);
        ``weights`` is w_t, the weighting the head reads or writes with. Each line below is
        the ``code`` of its row in ``STAGES``.
    """
    content = content_weights(memory, key, beta)
    gated = interpolate(content, w_prev, g)
    shifted = shift(gated, s)
    weights = sharpen(shifted, gamma)
    return Addressing(content, gated, shifted, weights)


# The one table of the NTM's addressing stages, in the order ``address`` runs them.
STAGES: tuple[Stage, ...] = (
    Stage("content", "content", "Content weighting", "wᶜ",
          Parameter("beta", "β", "key strength"),
          r"w^c_t(i) = \frac{\exp(\beta_t K[k_t, M_t(i)])}{\sum_j \exp(\beta_t K[k_t, M_t(j)])}",
          "content = content_weights(memory, key, beta)", "content_weights",
          "Eq. 5: a softmax of the similarities; a larger β makes it peakier."),
    Stage("gated", "gated", "Interpolation", "wᵍ",
          Parameter("g", "g", "interpolation gate"),
          r"w^g_t = g_t w^c_t + (1 - g_t) w_{t-1}",
          "gated = interpolate(content, w_prev, g)", "interpolate",
          "Eq. 7: g = 1 keeps the content weighting, g = 0 keeps last step's weighting.",
          mixes_previous=True),
    Stage("shifted", "shifted", "Convolutional shift", "w̃",
          Parameter("s", "s", "shift distribution"),
          r"\tilde w_t(i) = \sum_{j=0}^{N-1} w^g_t(j)\, s_t(i - j)",
          "shifted = shift(gated, s)", "shift",
          "Eq. 8: a circular convolution; s(+1) = 1 moves the focus from slot i to slot i + 1 "
          "(the last slot wraps round to 0)."),
    Stage("weights", "sharpened", "Sharpening", "w",
          Parameter("gamma", "γ", "sharpening"),
          r"w_t(i) = \frac{\tilde w_t(i)^{\gamma_t}}{\sum_j \tilde w_t(j)^{\gamma_t}}",
          "weights = sharpen(shifted, gamma)", "sharpen",
          "Eq. 9: raising to γ ≥ 1 and renormalising undoes the blur a fractional shift adds."),
)

# The similarity inside the content stage (eq. 6): not a weighting, but shown on its own by the lab.
SIMILARITY = Stage(
    "similarity", "similarity", "Similarity of the key to each slot", "K", None,
    r"K[u, v] = \frac{u \cdot v}{\lVert u \rVert\,\lVert v \rVert}",
    "similarity = cosine_similarity(memory, key)", "cosine_similarity",
    "Eq. 6: 1 where a slot points the same way as the key, 0 when orthogonal, −1 opposite.")


def shift_offsets(width: int) -> list[int]:
    """The integer offsets -R..R that the positions of a width-(2R+1) shift kernel stand for."""
    radius = (width - 1) // 2
    return list(range(-radius, radius + 1))


__all__ = ["Addressing", "Parameter", "Stage", "STAGES", "SIMILARITY", "cosine_similarity", "content_weights",
           "interpolate", "shift", "sharpen", "address", "shift_offsets"]
