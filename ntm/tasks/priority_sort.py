"""Priority sort (Graves et al. 2014, section 4.5): emit the highest-priority vectors, sorted.

The network sees ``num_inputs`` random bit vectors (paper: 20), each with a scalar priority
drawn uniformly from [-1, 1] on a channel of its own, then a delimiter. It must emit the
``num_outputs`` (paper: 16) vectors with the highest priorities, highest first.

Episode with 4 inputs, 2 outputs (T = inputs + 1 + outputs = 7), seq_width = 8:

    t           0     1     2     3     4    5    6
    bits 0..7   x1    x2    x3    x4    .    .    .       inputs [B, T, seq_width + 2]
    ch 8        p1    p2    p3    p4    .    .    .       priority in [-1, 1]
    ch 9        .     .     .     .     1    .    .       delimiter
    target      .     .     .     .     .    x3   x1      (if p3 > p1 > the rest)
    mask        .     .     .     .     .    #    #

The size knob is the number of inputs L. Training always uses ``num_inputs``; at other
lengths the number of outputs keeps the training ratio: round(L * num_outputs / num_inputs),
rounding halves up, and at least 1 (so never more than L).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from .base import Batch, Phase, Task, check_int, check_order, first, random_bits, tile


@dataclass(frozen=True)
class PrioritySortTask(Task):
    """The priority-sort task: sort ``num_inputs`` vectors by priority, keep the top ``num_outputs``."""

    name: ClassVar[str] = "priority-sort"
    title: ClassVar[str] = "Priority sort (section 4.5)"
    length_name: ClassVar[str] = "inputs"
    default_test_lengths: ClassVar[tuple[int, ...]] = (10, 15, 20, 25, 30)

    seq_width: int = 8
    num_inputs: int = 20
    num_outputs: int = 16

    def __post_init__(self):
        check_int(self, "seq_width", 1)
        check_int(self, "num_inputs", 1)
        check_int(self, "num_outputs", 1)
        check_order(self, "num_outputs", "num_inputs")

    @property
    def input_size(self) -> int:
        return self.seq_width + 2  # bits, priority, delimiter

    @property
    def output_size(self) -> int:
        return self.seq_width

    @property
    def train_lengths(self) -> tuple[int, int]:
        return (self.num_inputs, self.num_inputs)

    def outputs_for(self, length: int) -> int:
        """How many vectors are emitted for ``length`` inputs: round(length * num_outputs /
        num_inputs), halves up, at least 1. Equals ``num_outputs`` at ``num_inputs``."""
        return max(1, (2 * length * self.num_outputs + self.num_inputs) // (2 * self.num_inputs))

    @classmethod
    def phases(cls, inputs, mask) -> list[Phase]:
        """Input (vectors with their priorities, t < L), the delimiter (t = L, last channel), the answer."""
        steps, L = len(mask), first(np.asarray(inputs)[:, -1])
        return (L is not None and tile([("input", 0, L, "input"), ("delimiter", L, L + 1, "delimiter"),
                                        ("answer", L + 1, steps, "answer")], steps)) or super().phases(inputs, mask)

    def sample(self, batch_size: int, generator: torch.Generator, length: int | None = None) -> Batch:
        """A batch of priority-sort episodes with L inputs and K = ``outputs_for(L)`` outputs.

        Returns:
            ``Batch`` with T = L + 1 + K: inputs ``[B, T, seq_width+2]``, targets
            ``[B, T, seq_width]``, mask ``[B, T]`` (True on the last K steps).
        """
        L = self._episode_length(batch_size, generator, length)
        K = self.outputs_for(L)
        B, W, T = batch_size, self.seq_width, L + 1 + K
        device = generator.device
        seq = random_bits((B, L, W), generator)                                     # [B, L, W]
        priority = torch.rand(B, L, generator=generator, device=device) * 2 - 1     # [B, L] in [-1, 1)

        inputs = torch.zeros(B, T, W + 2, device=device)
        inputs[:, :L, :W] = seq
        inputs[:, :L, W] = priority
        inputs[:, L, W + 1] = 1.0  # delimiter

        # Stable sort so that (measure-zero) ties still give a deterministic order.
        order = torch.sort(priority, dim=1, descending=True, stable=True).indices[:, :K]  # [B, K]
        targets = torch.zeros(B, T, W, device=device)
        targets[:, L + 1:] = torch.gather(seq, 1, order.unsqueeze(-1).expand(B, K, W))
        mask = torch.zeros(B, T, dtype=torch.bool, device=device)
        mask[:, L + 1:] = True
        return Batch(inputs, targets, mask)
