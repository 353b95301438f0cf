"""Associative recall (Graves et al. 2014, section 4.3): given one item, recall the next.

An item is ``item_len`` random ``item_bits``-bit vectors (paper: three 6-bit vectors). The
network sees a list of 2..6 items, each introduced by an item delimiter; then a query item
between two query delimiters. It must answer with the item that followed the query item in
the list, which needs content-based lookup followed by a location-based step. The query is
never the last item, so an answer always exists.

Episode with 3 items (a, b, c), query b, item_len = 3 (T = (items + 2) * (item_len + 1) = 20):

    t             0  1-3  4  5-7  8  9-11  12  13-15  16  17-19
    bits 0..5     .  a    .  b    .  c     .   b      .   .        inputs [B, T, item_bits + 2]
    ch 6          1  .    1  .    1  .     .   .      .   .        item delimiter
    ch 7          .  .    .  .    .  .     1   .      1   .        query delimiter
    target        .  .    .  .    .  .     .   .      .   c        targets [B, T, item_bits]
    mask          .  .    .  .    .  .     .   .      .   ###
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from .base import Batch, Phase, Task, check_int, check_order, first, random_bits, tile


@dataclass(frozen=True)
class AssociativeRecallTask(Task):
    """The associative-recall task: the number of items is drawn from ``[min_items, max_items]``
    per batch, the query position per batch element."""

    name: ClassVar[str] = "associative-recall"
    title: ClassVar[str] = "Associative recall (section 4.3)"
    length_name: ClassVar[str] = "items"
    min_length: ClassVar[int] = 2  # the query must have a successor
    default_test_lengths: ClassVar[tuple[int, ...]] = (2, 3, 4, 5, 6, 8, 10, 12)

    item_bits: int = 6
    item_len: int = 3
    min_items: int = 2
    max_items: int = 6

    def __post_init__(self):
        check_int(self, "item_bits", 1)
        check_int(self, "item_len", 1)
        check_int(self, "min_items", 2)
        check_int(self, "max_items", 2)
        check_order(self, "min_items", "max_items")

    @property
    def input_size(self) -> int:
        return self.item_bits + 2  # bits, item delimiter, query delimiter

    @property
    def output_size(self) -> int:
        return self.item_bits

    @property
    def train_lengths(self) -> tuple[int, int]:
        return (self.min_items, self.max_items)

    def slots_needed(self, length: int) -> int:
        """Each item takes its delimiter and ``item_len`` vectors."""
        return length * (self.item_len + 1)

    @classmethod
    def phases(cls, inputs, mask) -> list[Phase]:
        """Items (the list, up to the first query delimiter on the last channel), the query (between
        and including its two delimiters), the answer (the scored steps)."""
        steps, q, a = len(mask), first(np.asarray(inputs)[:, -1]), first(np.asarray(mask, dtype=float))
        return (q is not None and a is not None and tile([("items", 0, q, "items"), ("query", q, a, "query"),
                                                          ("answer", a, steps, "answer")], steps)) \
            or super().phases(inputs, mask)

    def sample(self, batch_size: int, generator: torch.Generator, length: int | None = None) -> Batch:
        """A batch of associative-recall episodes, all with the same number of items n.

        Returns:
            ``Batch`` with T = (n + 2) * (item_len + 1): inputs ``[B, T, item_bits+2]``,
            targets ``[B, T, item_bits]``, mask ``[B, T]`` (True on the last item_len steps).
        """
        n = self._episode_length(batch_size, generator, length)
        B, W, K = batch_size, self.item_bits, self.item_len
        device = generator.device
        items = random_bits((B, n, K, W), generator)                      # [B, n, K, W]
        query = torch.randint(0, n - 1, (B,), generator=generator, device=device)  # [B], never last
        batch_index = torch.arange(B, device=device)

        # The list: n blocks of (item delimiter, K vectors).
        blocks = torch.zeros(B, n, K + 1, W + 2, device=device)
        blocks[:, :, 0, W] = 1.0
        blocks[:, :, 1:, :W] = items
        listed = n * (K + 1)

        T = listed + 2 * K + 2
        inputs = torch.zeros(B, T, W + 2, device=device)
        inputs[:, :listed] = blocks.reshape(B, listed, W + 2)
        inputs[:, listed, W + 1] = 1.0                                    # query delimiter
        inputs[:, listed + 1:listed + 1 + K, :W] = items[batch_index, query]
        inputs[:, listed + 1 + K, W + 1] = 1.0                            # query delimiter

        targets = torch.zeros(B, T, W, device=device)
        targets[:, T - K:] = items[batch_index, query + 1]
        mask = torch.zeros(B, T, dtype=torch.bool, device=device)
        mask[:, T - K:] = True
        return Batch(inputs, targets, mask)
