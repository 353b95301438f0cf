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
"""

from __future__ import annotations

import torch

# Added under the square root of a squared norm: an all-zero memory row or key then has norm
# ~1e-8 instead of 0, so its cosine similarity is 0 (not NaN) and d||x||/dx = x/||x|| stays finite.
_NORM_EPS = 1e-8


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
            g: torch.Tensor, s: torch.Tensor, gamma: torch.Tensor) -> dict[str, torch.Tensor]:
    """All four stages in order (eqs. 5-9), returning every intermediate weighting.

    Shapes as in the stage functions. Returns a dict with ``content``, ``gated``, ``shifted``
    and ``weights`` (the sharpened, final weighting w_t).
    """
    w_content = content_weights(memory, key, beta)
    w_gated = interpolate(w_content, w_prev, g)
    w_shifted = shift(w_gated, s)
    return {"content": w_content, "gated": w_gated, "shifted": w_shifted,
            "weights": sharpen(w_shifted, gamma)}


def shift_offsets(width: int) -> list[int]:
    """The integer offsets -R..R that the positions of a width-(2R+1) shift kernel stand for."""
    radius = (width - 1) // 2
    return list(range(-radius, radius + 1))


__all__ = ["cosine_similarity", "content_weights", "interpolate", "shift", "sharpen", "address",
           "shift_offsets"]
