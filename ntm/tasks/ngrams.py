"""Dynamic N-grams (Graves et al. 2014, section 4.4): learn a bit distribution within one sequence.

Each sequence has its own 6-gram distribution: a table giving, for each of the 2^5 = 32 contexts
of five previous bits, the probability that the next bit is 1, every entry drawn independently
from Beta(1/2, 1/2). A sequence of 200 bits is drawn from that table (its first five bits
uniformly), and the network predicts each next bit from those it has seen. Nothing about one
sequence's table carries over to the next, so the network can only do well by counting, within
the sequence, what followed each context: "can the NTM use its memory as a re-writable table".

The Bayesian optimal predictor (the paper's baseline, from the Beta(1/2, 1/2) prior) is

    P(next = 1 | context c, N1, N0) = (N1 + 1/2) / (N1 + N0 + 1)

where N1 and N0 count the ones and zeros that followed c earlier in the same sequence. The paper
reports cost per sequence in bits against this optimum (``optimal_cost_bits``).

Episode of L bits (T = L - 1 timesteps), n = 6:

    t         0     1     ...   L-2
    input     x0    x1    ...   x_{L-2}        inputs [B, T, 1]
    target    x1    x2    ...   x_{L-1}        targets [B, T, 1]: the next bit
    mask      .  .  .  .  #     ...   #        scored once the predicted bit has a whole context
                                               (t >= n - 2: the first n - 1 bits are uniform)

Beta(1/2, 1/2) is the arcsine distribution, so a draw is sin^2(pi U / 2) with U uniform: the
table comes from the task's own generator like every other random choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from .base import Batch, Phase, Task, check_int, random_bits, runs

_LOG2 = math.log(2.0)
MAX_N = 12                      # 2^11 contexts: larger tables are not a lecture's task


@dataclass(frozen=True)
class NGramsTask(Task):
    """Dynamic N-grams: sequences of ``length`` bits from a fresh random ``n``-gram table each."""

    name: ClassVar[str] = "dynamic-ngrams"
    title: ClassVar[str] = "Dynamic N-grams (section 4.4)"
    length_name: ClassVar[str] = "bits per sequence"
    default_test_lengths: ClassVar[tuple[int, ...]] = (100, 200, 400)   # half, the training length, twice
    answers_after_input: ClassVar[bool] = False
    scored_by: ClassVar[str] = "cost"          # the paper's figure 13: bits per sequence against the optimum
    optimum_name: ClassVar[str] = "the Bayesian optimal estimator"

    n: int = 6
    seq_len: int = 200

    def __post_init__(self):
        check_int(self, "n", 2)
        if self.n > MAX_N:
            raise ValueError(f"NGramsTask: n must be <= {MAX_N} (2^(n-1) contexts); got {self.n}")
        check_int(self, "seq_len", self.n)

    @property
    def min_length(self) -> int:                     # type: ignore[override]
        """One scored bit needs a whole context before it."""
        return self.n

    @property
    def contexts(self) -> int:
        """2^(n-1): the table's rows."""
        return 2 ** (self.n - 1)

    @property
    def input_size(self) -> int:
        return 1

    @property
    def output_size(self) -> int:
        return 1

    @property
    def train_lengths(self) -> tuple[int, int]:
        return (self.seq_len, self.seq_len)

    def slots_needed(self, length: int) -> int:
        """A table row per context, whatever the length: the counts are what must be kept."""
        return self.contexts

    def longest_fitting(self, slots: int) -> int:
        """Any length fits once the table does; none if it does not."""
        return 10 ** 9 if slots >= self.contexts else self.min_length - 1

    @classmethod
    def phases(cls, inputs, mask) -> list[Phase]:
        """Warm-up (the first bits, whose prediction has no whole context yet: not scored), then
        prediction: every later step reads a bit and predicts the next."""
        return [Phase("predict", a, b, "predict") if scored else Phase("warm_up", a, b, "warm-up")
                for scored, a, b in runs(np.asarray(mask, dtype=bool))]

    def table(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """``[B, 2^(n-1)]`` P(next bit = 1 | context), each entry Beta(1/2, 1/2)."""
        u = torch.rand((batch_size, self.contexts), generator=generator, device=generator.device)
        return torch.sin(0.5 * math.pi * u) ** 2

    def bits(self, table: torch.Tensor, length: int, generator: torch.Generator) -> torch.Tensor:
        """``[B, length]`` bits drawn from ``table``: the first n - 1 uniform, then each from its context.

        A loop over time (each bit depends on the previous ones), vectorised over the batch."""
        b, k = table.shape[0], self.n - 1
        bits = torch.empty((b, length), device=table.device)
        bits[:, :k] = random_bits((b, k), generator)
        u = torch.rand((b, length), generator=generator, device=generator.device)
        weights = 2 ** torch.arange(k - 1, -1, -1, device=table.device)          # oldest bit is the high one
        context = (bits[:, :k].long() * weights).sum(-1)                          # [B]
        rows = torch.arange(b, device=table.device)
        mask = self.contexts - 1
        for t in range(k, length):
            bit = (u[:, t] < table[rows, context]).float()
            bits[:, t] = bit
            context = ((context << 1) | bit.long()) & mask
        return bits

    def episode(self, bits: torch.Tensor) -> Batch:
        """The prediction episode of ``bits`` ``[B, L]``: inputs x_0..x_{L-2}, targets x_1..x_{L-1}."""
        b, length = bits.shape
        steps = length - 1
        mask = (torch.arange(steps, device=bits.device) >= self.n - 2).expand(b, steps).clone()
        targets = bits[:, 1:].unsqueeze(-1) * mask.unsqueeze(-1)
        return Batch(bits[:, :-1].unsqueeze(-1).contiguous(), targets.contiguous(), mask)

    def sample(self, batch_size: int, generator: torch.Generator, length: int | None = None) -> Batch:
        """A batch of sequences, each with its own table.

        Returns:
            ``Batch`` with inputs and targets ``[B, L-1, 1]`` and mask ``[B, L-1]``.
        """
        length = self._episode_length(batch_size, generator, length)
        return self.episode(self.bits(self.table(batch_size, generator), length, generator))

    def optimal_cost_bits(self, batch: Batch) -> torch.Tensor:
        """``[B]`` the Bayesian optimal estimator's cost in bits per sequence on ``batch``
        (``optimal_cost_bits(batch, self.n)``), float64."""
        return optimal_cost_bits(batch, self.n)

    @property
    def sequence_width(self) -> int:
        return 1

    def with_sequence(self, sequence: torch.Tensor, generator: torch.Generator) -> Batch:
        """The prediction episode of a typed bit sequence ``[L, 1]``."""
        self._check_sequence(sequence)
        return self.episode(sequence[:, 0].unsqueeze(0).float())


def sequence_bits(batch: Batch) -> torch.Tensor:
    """``[B, L]`` the whole bit sequence of an N-grams episode (its inputs and its last target)."""
    return torch.cat([batch.inputs[:, :, 0], batch.targets[:, -1:, 0]], dim=1)


def optimal_predictions(bits: torch.Tensor, n: int) -> torch.Tensor:
    """The Bayesian optimal P(x_{t+1} = 1 | x_0..x_t) under a Beta(1/2, 1/2) prior per context.

    (N1 + 1/2) / (N1 + N0 + 1), with N1, N0 the ones and zeros that followed the current context
    earlier in the same sequence; positions without a whole context get 1/2.

    Args:
        bits: ``[B, L]`` sequences of 0/1.
        n: the N of the N-grams (contexts of n - 1 bits).

    Returns:
        ``[B, L-1]``: the prediction made after reading x_t, for t = 0..L-2.
    """
    b, length = bits.shape
    k = n - 1
    steps = length - 1
    # Context ending at t (bits t-k+1..t), for t = k-1..L-2, as an integer.
    windows = bits.long().unfold(1, k, 1)[:, :length - k]                         # [B, S, k], S = L - k
    weights = 2 ** torch.arange(k - 1, -1, -1, device=bits.device)
    context = (windows * weights).sum(-1)                                          # [B, S]
    nxt = bits[:, k:].to(torch.float64)                                            # [B, S]: the bit after each
    onehot = torch.nn.functional.one_hot(context, 2 ** k).to(torch.float64)        # [B, S, C]
    ones = torch.cumsum(onehot * nxt.unsqueeze(-1), dim=1) - onehot * nxt.unsqueeze(-1)   # exclusive
    seen = torch.cumsum(onehot, dim=1) - onehot
    n1 = (ones * onehot).sum(-1)
    total = (seen * onehot).sum(-1)
    p = (n1 + 0.5) / (total + 1.0)                                                 # [B, S]
    out = torch.full((b, steps), 0.5, dtype=torch.float64, device=bits.device)
    out[:, k - 1:] = p
    return out


def optimal_cost_bits(batch: Batch, n: int) -> torch.Tensor:
    """``[B]`` the optimal predictor's cost per sequence in bits over the scored steps: the floor
    any model's ``cost_bits`` is compared with (the paper's figure 13)."""
    p = optimal_predictions(sequence_bits(batch), n)
    target = batch.targets[:, :, 0].to(torch.float64)
    nats = -(target * torch.log(p) + (1 - target) * torch.log1p(-p))
    return (nats * batch.mask).sum(-1) / _LOG2


__all__ = ["NGramsTask", "sequence_bits", "optimal_predictions", "optimal_cost_bits"]
