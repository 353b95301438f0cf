"""Repeat copy (Graves et al. 2014, section 4.2): replay a sequence a given number of times.

The network sees L random bit vectors, a delimiter, and then the number of repeats r as a
scalar on a channel of its own, normalised to zero mean and unit variance over the training
range of r. It must emit the sequence r times and then an end marker on an extra output
channel, which tests whether it can learn a simple "for loop". Training draws L and r
uniformly from 1..10.

Episode with L = 2, r = 2 (answer L*r + 1 = 5 steps), seq_width = 8:

    t           0    1    2    3    4    5    6    7    8
    bits 0..7   x1   x2   .    .    .    .    .    .    .     inputs [B, T, seq_width + 2]
    ch 8        .    .    1    .    .    .    .    .    .     delimiter
    ch 9        .    .    .    r~   .    .    .    .    .     r~ = (r - mean) / std
    bits 0..7   .    .    .    .    x1   x2   x1   x2   .     targets [B, T, seq_width + 1]
    ch 8        .    .    .    .    .    .    .    .    1     end marker
    mask        .    .    .    .    #    #    #    #    #

The repeat count varies per batch element, so episodes differ in length: the batch is padded
at the end to the longest one (inputs, targets zero and mask False on the padding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from .base import Batch, Phase, Task, check_int, check_order, first, random_bits, tile


@dataclass(frozen=True)
class RepeatCopyTask(Task):
    """The repeat-copy task: L from ``[min_len, max_len]`` per batch, r from
    ``[min_repeats, max_repeats]`` per batch element."""

    name: ClassVar[str] = "repeat-copy"
    title: ClassVar[str] = "Repeat copy (section 4.2)"
    length_name: ClassVar[str] = "sequence length"
    default_test_lengths: ClassVar[tuple[int, ...]] = (1, 3, 5, 8, 10, 12, 15, 20)

    seq_width: int = 8
    min_len: int = 1
    max_len: int = 10
    min_repeats: int = 1
    max_repeats: int = 10

    def __post_init__(self):
        check_int(self, "seq_width", 1)
        check_int(self, "min_len", 1)
        check_int(self, "max_len", 1)
        check_order(self, "min_len", "max_len")
        check_int(self, "min_repeats", 1)
        check_int(self, "max_repeats", 1)
        check_order(self, "min_repeats", "max_repeats")

    @property
    def input_size(self) -> int:
        return self.seq_width + 2  # bits, delimiter, repeat count

    @property
    def output_size(self) -> int:
        return self.seq_width + 1  # bits, end marker

    @property
    def train_lengths(self) -> tuple[int, int]:
        return (self.min_len, self.max_len)

    def normalise_repeats(self, repeats: torch.Tensor | int) -> torch.Tensor | float:
        """The repeat count as the network sees it: ``(r - mean) / std`` of the discrete uniform
        distribution over ``[min_repeats, max_repeats]`` (mean (a+b)/2, variance ((b-a+1)^2-1)/12).

        Counts outside the training range are normalised with the same statistics. If the range
        holds a single count its variance is 0; the std is then taken as 1 so the value is just
        centred (0 for the one training count).
        """
        n = self.max_repeats - self.min_repeats + 1
        mean = (self.min_repeats + self.max_repeats) / 2
        std = math.sqrt((n * n - 1) / 12) or 1.0
        return (repeats - mean) / std

    @property
    def sequence_width(self) -> int:
        return self.seq_width

    def with_sequence(self, sequence: torch.Tensor, generator: torch.Generator) -> Batch:
        """The repeat-copy episode of ``sequence`` (``[L, seq_width]``), its repeat count r drawn
        from ``generator``: the targets replay the sequence r times, then the end marker."""
        L = self._check_sequence(sequence)
        batch = self.sample(1, generator, length=L)
        answer = int(batch.mask[0].sum()) - 1            # L * r steps, then the end marker
        batch.inputs[0, :L, :self.seq_width] = sequence
        batch.targets[0, L + 2:L + 2 + answer, :self.seq_width] = sequence[torch.arange(answer) % L]
        return batch

    @classmethod
    def phases(cls, inputs, mask) -> list[Phase]:
        """Input (t < L), the delimiter (t = L, second-last channel), the repeat count (t = L + 1, on the
        last channel), the answer (L r steps), the end marker (the last scored step), then any padding."""
        x, scored = np.asarray(inputs), np.nonzero(np.asarray(mask, dtype=bool))[0]
        steps, L = len(mask), first(x[:, -2])
        if L is None or not scored.size:
            return super().phases(inputs, mask)
        end = int(scored[-1])
        return tile([("input", 0, L, "input"), ("delimiter", L, L + 1, "delimiter"),
                     ("repeat_count", L + 1, L + 2, "repeat count"), ("answer", L + 2, end, "answer"),
                     ("end", end, end + 1, "end marker"), ("padding", end + 1, steps, "padding")],
                    steps) or super().phases(inputs, mask)

    def sample(self, batch_size: int, generator: torch.Generator, length: int | None = None,
               repeats: int | None = None) -> Batch:
        """A batch of repeat-copy episodes, all of one sequence length L.

        Args:
            repeats: fixes r for every element (may exceed the training range); by default r
                is drawn per element from ``[min_repeats, max_repeats]``.

        Returns:
            ``Batch`` with T = L + 2 + L * max_b(r_b) + 1: inputs ``[B, T, seq_width+2]``,
            targets ``[B, T, seq_width+1]``, mask ``[B, T]`` (True on element b's
            L * r_b + 1 answer steps).
        """
        L = self._episode_length(batch_size, generator, length)
        B, W = batch_size, self.seq_width
        device = generator.device
        if repeats is None:
            reps = torch.randint(self.min_repeats, self.max_repeats + 1, (B,),
                                 generator=generator, device=device)  # [B]
        elif isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
            raise ValueError(f"repeat-copy: repeats must be an int >= 1; got {repeats!r}")
        else:
            reps = torch.full((B,), repeats, dtype=torch.long, device=device)
        seq = random_bits((B, L, W), generator)  # [B, L, W]

        start = L + 2                            # first answer step
        answer = L * reps                        # [B] steps of repeated bits, before the end marker
        longest = int(answer.max())
        T = start + longest + 1

        inputs = torch.zeros(B, T, W + 2, device=device)
        inputs[:, :L, :W] = seq
        inputs[:, L, W] = 1.0                                   # delimiter
        inputs[:, L + 1, W + 1] = self.normalise_repeats(reps.float())

        # Answer step j of element b repeats seq[b, j mod L] while j < L * r_b.
        j = torch.arange(longest, device=device)                # [longest]
        in_answer = j.unsqueeze(0) < answer.unsqueeze(1)        # [B, longest]
        targets = torch.zeros(B, T, W + 1, device=device)
        targets[:, start:start + longest, :W] = seq[:, j % L] * in_answer.unsqueeze(-1)
        batch_index = torch.arange(B, device=device)
        targets[batch_index, start + answer, W] = 1.0           # end marker

        t = torch.arange(T, device=device).unsqueeze(0)         # [1, T]
        mask = (t >= start) & (t <= (start + answer).unsqueeze(1))
        return Batch(inputs, targets, mask)
