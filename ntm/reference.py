"""A float64 NumPy reference of the NTM's memory equations (Graves et al. 2014, eqs. 2-9).

Written to be read next to the paper: one sequence at a time (no batch), one head at a time,
explicit sums where the paper has sums. It is deliberately slow and plain. The tests check
the batched torch code in ``ntm.addressing`` and ``ntm.memory`` against it.

Shapes: N memory slots, M memory width, R shift radius.
"""

from __future__ import annotations

import numpy as np


def cosine_similarity(u: np.ndarray, v: np.ndarray) -> float:
    """K[u, v] = (u . v) / (||u|| ||v||), eq. 6; 0 when either vector is zero."""
    norms = np.linalg.norm(u) * np.linalg.norm(v)
    return 0.0 if norms == 0.0 else float(np.dot(u, v) / norms)


def content_weights(memory: np.ndarray, key: np.ndarray, beta: float) -> np.ndarray:
    """Eq. 5. memory ``[N, M]``, key ``[M]`` -> ``[N]``.

    w^c(i) = exp(beta K[k, M(i)]) / sum_j exp(beta K[k, M(j)])
    """
    scores = np.array([beta * cosine_similarity(key, row) for row in memory])
    scores -= scores.max()            # the same softmax, without overflow
    e = np.exp(scores)
    return e / e.sum()


def interpolate(w_content: np.ndarray, w_prev: np.ndarray, g: float) -> np.ndarray:
    """Eq. 7. w^g = g w^c + (1 - g) w_{t-1}; all ``[N]``."""
    return g * w_content + (1.0 - g) * w_prev


def shift(w: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Eq. 8, circular convolution. w ``[N]``; s ``[2R+1]`` over offsets -R..R -> ``[N]``.

    w~(i) = sum_j w(j) s(i - j), where s(d) is the probability of shifting by d (mod N).
    """
    n = len(w)
    radius = (len(s) - 1) // 2
    out = np.zeros(n)
    for i in range(n):
        for j in range(n):
            for d in range(-radius, radius + 1):
                if (i - j - d) % n == 0:
                    out[i] += w[j] * s[d + radius]
    return out


def sharpen(w: np.ndarray, gamma: float) -> np.ndarray:
    """Eq. 9. w(i)^gamma / sum_j w(j)^gamma; ``[N]``."""
    p = w ** gamma
    return p / p.sum()


def address(memory, w_prev, key, beta, g, s, gamma) -> np.ndarray:
    """Eqs. 5-9 in order; returns the final weighting ``[N]``."""
    return sharpen(shift(interpolate(content_weights(memory, key, beta), w_prev, g), s), gamma)


def read(memory: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Eq. 2. r = sum_i w(i) M(i); memory ``[N, M]``, w ``[N]`` -> ``[M]``."""
    return sum(w[i] * memory[i] for i in range(len(w)))


def write(memory: np.ndarray, ws: list[np.ndarray], erases: list[np.ndarray], adds: list[np.ndarray]) -> np.ndarray:
    """Eqs. 3-4 for any number of write heads: every erase, then every add.

    M~(i) = M(i) prod_h [1 - w_h(i) e_h];   M'(i) = M~(i) + sum_h w_h(i) a_h
    """
    out = memory.astype(np.float64).copy()
    for w, e in zip(ws, erases):
        for i in range(len(w)):
            out[i] = out[i] * (1.0 - w[i] * e)
    for w, a in zip(ws, adds):
        for i in range(len(w)):
            out[i] = out[i] + w[i] * a
    return out
