"""Copy (Graves et al. 2014, section 4.1): store a sequence of random bit vectors, then replay it.

The network sees L random ``seq_width``-bit vectors, then a delimiter on a channel of its own,
then nothing; during those last L silent steps it must emit the vectors in order. Training
lengths are 1..20; the paper tests generalisation on longer sequences (up to 120).

Episode of length L = 3 (T = 2L + 1 = 7), seq_width = 8:

    t          0    1    2    3    4    5    6
    bits 0..7  x1   x2   x3   .    .    .    .       inputs [B, T, seq_width + 1]
    ch 8       .    .    .    1    .    .    .       delimiter
    target     .    .    .    .    x1   x2   x3      targets [B, T, seq_width]
    mask       .    .    .    .    #    #    #       mask [B, T]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from .base import Batch, Phase, Task, check_int, check_order, first, random_bits, tile


@dataclass(frozen=True)
class CopyTask(Task):
    """The copy task: ``seq_width`` bits per vector, L drawn uniformly from ``[min_len, max_len]``."""

    name: ClassVar[str] = "copy"
    title: ClassVar[str] = "Copy (section 4.1)"
    length_name: ClassVar[str] = "sequence length"
    default_test_lengths: ClassVar[tuple[int, ...]] = (10, 20, 30, 50, 80, 100, 120)

    seq_width: int = 8
    min_len: int = 1
    max_len: int = 20

    def __post_init__(self):
        check_int(self, "seq_width", 1)
        check_int(self, "min_len", 1)
        check_int(self, "max_len", 1)
        check_order(self, "min_len", "max_len")

    @property
    def input_size(self) -> int:
        return self.seq_width + 1  # the bits and a delimiter channel

    @property
    def output_size(self) -> int:
        return self.seq_width

    @property
    def train_lengths(self) -> tuple[int, int]:
        return (self.min_len, self.max_len)

    @property
    def sequence_width(self) -> int:
        return self.seq_width

    def with_sequence(self, sequence: torch.Tensor, generator: torch.Generator) -> Batch:
        """The copy episode of ``sequence`` (``[L, seq_width]``): it is the input and the target."""
        L = self._check_sequence(sequence)
        batch = self.sample(1, generator, length=L)
        batch.inputs[0, :L, :self.seq_width] = sequence
        batch.targets[0, L + 1:2 * L + 1] = sequence
        return batch

    @classmethod
    def phases(cls, inputs, mask) -> list[Phase]:
        """Input (t < L), the delimiter (t = L, found on the last channel), answer (the L steps after)."""
        x, steps = np.asarray(inputs), len(mask)
        L = first(x[:, -1])
        return (L is not None and tile([("input", 0, L, "input"), ("delimiter", L, L + 1, "delimiter"),
                                        ("answer", L + 1, steps, "answer")], steps)) or super().phases(inputs, mask)

    def sample(self, batch_size: int, generator: torch.Generator, length: int | None = None) -> Batch:
        """A batch of copy episodes, all of one sequence length L.

        Returns:
            ``Batch`` with inputs ``[B, 2L+1, seq_width+1]``, targets ``[B, 2L+1, seq_width]``
            and mask ``[B, 2L+1]`` (True on the last L steps).
        """
        L = self._episode_length(batch_size, generator, length)
        B, W, T = batch_size, self.seq_width, 2 * L + 1
        device = generator.device
        seq = random_bits((B, L, W), generator)  # [B, L, W]

        inputs = torch.zeros(B, T, W + 1, device=device)
        inputs[:, :L, :W] = seq
        inputs[:, L, W] = 1.0  # delimiter

        targets = torch.zeros(B, T, W, device=device)
        targets[:, L + 1:] = seq
        mask = torch.zeros(B, T, dtype=torch.bool, device=device)
        mask[:, L + 1:] = True
        return Batch(inputs, targets, mask)
