"""Heads: turn the controller's output into addressing parameters, address memory, read or write.

Each head emits (Graves et al. 2014, section 3.3 and fig. 2):

    key      k_t in R^M          raw linear output
    beta     beta_t >= 0          softplus            key strength (eq. 5)
    g        g_t in (0, 1)        sigmoid             interpolation gate (eq. 7)
    s        s_t on 2R+1 offsets  softmax             shift distribution (eq. 8)
    gamma    gamma_t >= 1         1 + softplus        sharpening exponent (eq. 9)
    erase    e_t in (0, 1)^M      sigmoid             write heads only (eq. 3)
    add      a_t in (-1, 1)^M     tanh                write heads only (eq. 4)

Heads of one kind that act one after another with no head of the other kind between them
form a ``HeadGroup`` and are addressed together as a ``[B, H, ...]`` stack: one linear layer and
one call of ``ntm.addressing.address`` (the four stages, eqs. 5-9), whatever the number of heads.
The stages themselves, their equations and which emission each uses are ``ntm.addressing.STAGES``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import addressing, memory as memory_ops


# Emissions that are one number per head: ``[B, H, 1]`` here, recorded as ``[B, T]`` per head.
SCALAR_PARAMETERS = ("beta", "g", "gamma")


def parse_head_order(order: str) -> list[tuple[str, int]]:
    """``"rrw"`` -> ``[("read", 2), ("write", 1)]``: runs of same-kind heads in the order they act.

    Each character is one head: ``r`` reads, ``w`` writes. At least one of each is required,
    since an NTM that never reads or never writes has no use for its memory.
    """
    if not order or set(order) - {"r", "w"} or "r" not in order or "w" not in order:
        raise ValueError(f"heads must be a string of 'r' and 'w' with at least one of each "
                         f"(e.g. 'rw', 'wr', 'rrw'); got {order!r}")
    groups: list[tuple[str, int]] = []
    for ch in order:
        kind = "read" if ch == "r" else "write"
        if groups and groups[-1][0] == kind:
            groups[-1] = (kind, groups[-1][1] + 1)
        else:
            groups.append((kind, 1))
    return groups


def param_sizes(kind: str, width: int, shift_radius: int) -> dict[str, int]:
    """Sizes of the head's emissions, in the order they sit in the controller's projection."""
    sizes = {"key": width, "beta": 1, "g": 1, "s": 2 * shift_radius + 1, "gamma": 1}
    if kind == "write":
        sizes.update(erase=width, add=width)
    return sizes


class HeadGroup(nn.Module):
    """``count`` heads of one kind that address the same memory in the same step."""

    head_type = "ntm"                         # the trace's record type for these heads
    scalars = SCALAR_PARAMETERS               # emissions recorded as one number per step

    def __init__(self, kind: str, count: int, controller_size: int, width: int, shift_radius: int):
        super().__init__()
        self.kind, self.count = kind, count
        self.sizes = param_sizes(kind, width, shift_radius)
        self.proj = nn.Linear(controller_size, count * sum(self.sizes.values()))

    def emit(self, h: torch.Tensor) -> dict[str, torch.Tensor]:
        """Controller output ``[B, C]`` -> activated emissions, each ``[B, H, size]``.

        ``key`` [B, H, M]; ``beta``, ``g``, ``gamma`` [B, H, 1]; ``s`` [B, H, 2R+1]; write heads
        also ``erase`` and ``add`` [B, H, M]. Ranges as in the module docstring.
        """
        raw = self.proj(h).view(h.shape[0], self.count, -1)
        parts = dict(zip(self.sizes, torch.split(raw, list(self.sizes.values()), dim=-1)))
        params = {
            "key": parts["key"],
            "beta": F.softplus(parts["beta"]),
            "g": torch.sigmoid(parts["g"]),
            "s": torch.softmax(parts["s"], dim=-1),
            "gamma": 1.0 + F.softplus(parts["gamma"]),
        }
        if self.kind == "write":
            params["erase"] = torch.sigmoid(parts["erase"])
            params["add"] = torch.tanh(parts["add"])
        return params

    def forward(self, h: torch.Tensor, memory: torch.Tensor, w_prev: torch.Tensor, record: bool = False):
        """Address (``ntm.addressing.address``, eqs. 5-9), then read (eq. 2) or write (eqs. 3-4).

        Args:
            h: ``[B, C]`` controller output.
            memory: ``[B, N, M]`` memory as this group finds it.
            w_prev: ``[B, H, N]`` this group's weightings w_{t-1} from the previous step.
            record: also return every emission and intermediate weighting.

        Returns:
            ``(weights [B, H, N], memory [B, N, M], reads [B, H, M] or None, record dict or None)``.
            Read groups return the memory unchanged; write groups return no reads. The record
            maps each emission and each ``Addressing`` field (and ``read``) to its ``[B, H, ...]``
            tensor.
        """
        p = self.emit(h)
        stages = addressing.address(memory, w_prev, p["key"], p["beta"], p["g"], p["s"], p["gamma"])
        w = stages.weights
        reads = None
        if self.kind == "read":
            reads = memory_ops.read(memory, w)
        else:
            memory = memory_ops.write(memory, w, p["erase"], p["add"])
        rec = None
        if record:
            rec = {**p, **stages._asdict()}
            if reads is not None:
                rec["read"] = reads
        return w, memory, reads, rec
