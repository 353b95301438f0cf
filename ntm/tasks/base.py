"""What every task shares: the episode a model consumes, the task interface, and the costs.

A task turns a seed into whole episodes. Each episode is one sequence-to-sequence example:
the model reads ``inputs`` one timestep at a time and emits one output per timestep; only the
timesteps where ``mask`` is True are scored against ``targets``. The NTM, the LSTM baseline
and the step-through explorer all consume this same ``Batch``.

    inputs   [B, T, input_size]   float32  the whole episode; answer-phase inputs are zero
    targets  [B, T, output_size]  float32  zero wherever the mask is False
    mask     [B, T]               bool     the timesteps whose output is scored

Costs (Graves et al. 2014, section 4: figures plot "cost per sequence (bits)"):

    loss       mean binary cross-entropy over scored bits (nats)    what the optimiser minimises
    cost_bits  BCE summed over a sequence's scored bits, in bits,   what the paper plots
               averaged over the batch
    bit_errors scored bits whose thresholded prediction is wrong,   what "solved" means
               per sequence
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

_LN2 = math.log(2.0)


@dataclass(frozen=True, eq=False)  # eq=False: comparing tensors elementwise has no single truth value
class Batch:
    """One batch of whole episodes.

    Attributes:
        inputs: ``[B, T, input_size]`` float32; zero during the answer phase.
        targets: ``[B, T, output_size]`` float32; zero wherever ``mask`` is False.
        mask: ``[B, T]`` bool; True at the timesteps whose output is scored.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor

    def __post_init__(self):
        b, t = self.mask.shape
        if self.inputs.shape[:2] != (b, t) or self.targets.shape[:2] != (b, t):
            raise ValueError(f"inputs {tuple(self.inputs.shape)}, targets {tuple(self.targets.shape)} "
                             f"and mask {tuple(self.mask.shape)} must agree on [B, T]")

    @property
    def batch_size(self) -> int:
        return self.mask.shape[0]

    @property
    def num_steps(self) -> int:
        """T, the episode length including padding."""
        return self.mask.shape[1]

    def to(self, device: torch.device | str) -> Batch:
        return Batch(self.inputs.to(device), self.targets.to(device), self.mask.to(device))


class Phase(NamedTuple):
    """A stretch of an episode with one role, timesteps ``start <= t < stop`` (half-open):
    ``Phase("delimiter", 10, 11, "delimiter")``. ``name`` is a key (``"repeat_count"``),
    ``label`` the words shown on a figure (``"repeat count"``)."""

    name: str
    start: int
    stop: int
    label: str


def runs(flags: np.ndarray) -> list[tuple[bool, int, int]]:
    """``[T]`` bools -> (value, start, stop) of each maximal run of equal values, half-open."""
    flags = np.asarray(flags, dtype=bool)
    edges = [0] + [t for t in range(1, flags.shape[0]) if flags[t] != flags[t - 1]] + [flags.shape[0]]
    return [(bool(flags[a]), a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def tile(parts: list[tuple[str, int, int, str]], steps: int) -> list[Phase] | None:
    """Phases from (name, start, stop, label) parts, empty ones dropped; None unless they cover
    0..steps exactly, in order (the episode was not laid out as the task lays it out)."""
    phases = [Phase(n, int(a), int(b), lab) for n, a, b, lab in parts if b > a]
    ok = bool(phases) and phases[0].start == 0 and phases[-1].stop == steps and all(
        p.stop == q.start for p, q in zip(phases, phases[1:]))
    return phases if ok else None


def first(channel: np.ndarray, start: int = 0) -> int | None:
    """The first timestep ``>= start`` where ``channel`` ``[T]`` is on (> 0.5), or None."""
    on = np.nonzero(np.asarray(channel)[start:] > 0.5)[0]
    return int(on[0]) + start if on.size else None


@dataclass(frozen=True)
class Task:
    """A task: its parameters are the dataclass fields, validated in ``__post_init__``.

    Subclasses set ``name``, ``title``, ``length_name``, ``min_length`` and
    ``default_test_lengths`` and implement ``input_size``, ``output_size``, ``train_lengths`` and
    ``sample``. What the app and evaluation ask about a task is asked of the task itself: how
    many memory slots a length needs (``slots_needed``), and whether a user-typed sequence of
    bit vectors can become an episode (``sequence_width``, ``with_sequence``).
    """

    name: ClassVar[str]
    title: ClassVar[str]          # for people, with the paper's section: "Copy (section 4.1)"
    length_name: ClassVar[str]   # what the size knob ``length`` of ``sample`` counts
    min_length: ClassVar[int] = 1  # the smallest ``length`` that makes an episode
    default_test_lengths: ClassVar[tuple[int, ...]] = ()   # generalisation tables' default lengths
    # The output is scored only after the input is over (inputs are silent while it is scored);
    # False for online prediction (dynamic N-grams), where every step both reads and answers.
    answers_after_input: ClassVar[bool] = True
    # How a model is judged (evaluation, preset READMEs, the Generalisation page): "bit errors" (its
    # thresholded outputs should be exact: the copy tasks) or "cost": cost in bits per sequence against
    # ``optimal_cost_bits``, the best any predictor can do (dynamic N-grams, whose bits stay random).
    scored_by: ClassVar[str] = "bit errors"
    optimum_name: ClassVar[str] = "the optimal predictor"     # what ``optimal_cost_bits`` is, for people

    @property
    def input_size(self) -> int:
        raise NotImplementedError

    @property
    def output_size(self) -> int:
        raise NotImplementedError

    @property
    def train_lengths(self) -> tuple[int, int]:
        """Inclusive range ``(lo, hi)`` of the size knob during training."""
        raise NotImplementedError

    def sample(self, batch_size: int, generator: torch.Generator, length: int | None = None) -> Batch:
        """A batch from the training distribution; ``length`` fixes the size knob (may exceed
        ``train_lengths`` for generalisation tests). Uses only ``generator`` for randomness."""
        raise NotImplementedError

    def slots_needed(self, length: int) -> int:
        """Memory slots an episode of size ``length`` needs for what must be recalled: one per
        stored vector by default. Tests longer than the memory measure its size, not learning."""
        return length

    def longest_fitting(self, slots: int) -> int:
        """The largest size knob whose episode fits in ``slots`` memory slots (at least
        ``min_length - 1``, meaning none fits). ``slots_needed`` grows with the length."""
        lo, hi = self.min_length - 1, max(slots, self.min_length)
        while lo < hi:                                   # binary search: slots_needed is monotone
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if self.slots_needed(mid) <= slots else (lo, mid - 1)
        return lo

    def test_lengths(self, slots: int | None = None) -> list[int]:
        """``default_test_lengths`` (or the longest training length) that fit ``slots``, if given."""
        lengths = list(self.default_test_lengths) or [self.train_lengths[1]]
        return [n for n in lengths if slots is None or self.slots_needed(n) <= slots]

    @property
    def sequence_width(self) -> int | None:
        """Bits per vector of an input a user may type (``with_sequence``); None: not editable."""
        return None

    def with_sequence(self, sequence: torch.Tensor, generator: torch.Generator) -> Batch:
        """One episode (batch of 1) whose input sequence is ``sequence`` (``[L, sequence_width]``
        bits); the task's other random choices (repeat-copy's count) are drawn from ``generator``
        as for a random episode of the same length.

        Raises:
            ValueError: the task takes no typed sequence, or it has the wrong shape or values.
        """
        raise ValueError(f"a typed input sequence is not supported for the {self.name} task")

    def _check_sequence(self, sequence: torch.Tensor) -> int:
        width = self.sequence_width
        if width is None:
            raise ValueError(f"a typed input sequence is not supported for the {self.name} task")
        if sequence.dim() != 2 or sequence.shape[1] != width or sequence.shape[0] < self.min_length:
            raise ValueError(f"{self.name}: a typed sequence must be [L >= {self.min_length}, {width}] bits; "
                             f"got {list(sequence.shape)}")
        if not bool(((sequence == 0) | (sequence == 1)).all()):
            raise ValueError(f"{self.name}: a typed sequence holds bits, 0 or 1")
        return sequence.shape[0]

    @classmethod
    def phases(cls, inputs: Any, mask: Any) -> list[Phase]:
        """The phases of one episode, read from its ``inputs`` ``[T, input_size]`` (its marker
        channels) and ``mask`` ``[T]``; arrays or tensors. They tile 0..T in order.

        A task reads its own channels (``CopyTask``: input, delimiter, answer); this default, also
        the fallback when an episode is not laid out as the task lays it out, names the runs of
        the mask: not scored ("input") and scored ("answer")."""
        mask = np.asarray(mask, dtype=bool)
        return [Phase("answer", a, b, "answer") if scored else Phase("input", a, b, "input")
                for scored, a, b in runs(mask)]

    def optimal_cost_bits(self, batch: Batch) -> torch.Tensor:
        """``[B]`` the best possible predictor's cost in bits per sequence on ``batch`` (a task
        ``scored_by`` "cost"): the floor a model's cost is compared with.

        Raises:
            NotImplementedError: the task is scored by bit errors and names no optimum.
        """
        raise NotImplementedError(f"the {self.name} task is scored by bit errors; it names no optimal cost")

    def config(self) -> dict[str, Any]:
        """The task's parameters as a JSON-able dict; ``make_task(self.name, **config)`` rebuilds it."""
        return dataclasses.asdict(self)

    # -- shared by subclasses ------------------------------------------------------------------

    def _episode_length(self, batch_size: int, generator: torch.Generator, length: int | None) -> int:
        """Checks the ``sample`` arguments and returns the size knob: ``length`` or a uniform draw
        from ``train_lengths``."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int; got {batch_size!r}")
        if not isinstance(generator, torch.Generator):
            raise ValueError(f"generator must be a torch.Generator; got {type(generator).__name__}")
        if length is None:
            lo, hi = self.train_lengths
            return int(torch.randint(lo, hi + 1, (1,), generator=generator, device=generator.device))
        if isinstance(length, bool) or not isinstance(length, int) or length < self.min_length:
            raise ValueError(f"{self.name}: length ({self.length_name}) must be an int >= "
                             f"{self.min_length}; got {length!r}")
        return length


def check_int(task: object, name: str, minimum: int) -> None:
    """Raises ValueError unless ``task.<name>`` is an int (not a bool) ``>= minimum``."""
    value = getattr(task, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{type(task).__name__}: {name} must be an int >= {minimum}; got {value!r}")


def check_order(task: object, low: str, high: str) -> None:
    """Raises ValueError unless ``task.<low> <= task.<high>``."""
    if getattr(task, low) > getattr(task, high):
        raise ValueError(f"{type(task).__name__}: {low} ({getattr(task, low)}) must be <= "
                         f"{high} ({getattr(task, high)})")


def random_bits(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Independent Bernoulli(0.5) bits as float32, of the given shape."""
    half = torch.full(shape, 0.5, device=generator.device)
    return torch.bernoulli(half, generator=generator)


# -- costs --------------------------------------------------------------------------------------


def _scored_bce(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Elementwise BCE (nats), zeroed where the mask is False. ``[B, T, output_size]``."""
    if logits.shape != batch.targets.shape:
        raise ValueError(f"logits {tuple(logits.shape)} must have the targets' shape "
                         f"{tuple(batch.targets.shape)}")
    bce = F.binary_cross_entropy_with_logits(logits, batch.targets, reduction="none")
    return bce * batch.mask.unsqueeze(-1)


def loss(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Mean binary cross-entropy (nats) over the scored bits: the training objective.

    Args:
        logits: ``[B, T, output_size]`` pre-sigmoid outputs.
        batch: the episode the logits answer.

    Returns:
        Scalar. Padding and input-phase steps contribute nothing, so episodes of different
        lengths weigh by their number of scored bits.
    """
    scored_bits = batch.mask.sum() * batch.targets.shape[-1]
    return _scored_bce(logits, batch).sum() / scored_bits.clamp(min=1)


def cost_bits(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Cost per sequence in bits, as plotted in the paper (section 4).

    Binary cross-entropy summed over each sequence's scored timesteps and bits, converted from
    nats to bits (divided by ln 2), then averaged over the batch. Zero logits (p = 0.5 for every
    bit) cost exactly one bit per scored bit.

    Args:
        logits: ``[B, T, output_size]``.
        batch: the episode the logits answer.

    Returns:
        Scalar.
    """
    return sequence_cost_bits(logits, batch).mean()


def sequence_cost_bits(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """``[B]`` each sequence's cost in bits: binary cross-entropy summed over its scored timesteps and
    bits, / ln 2 (``cost_bits`` is their mean; evaluation keeps them per sequence)."""
    return _scored_bce(logits, batch).sum(dim=(1, 2)) / _LN2


def bit_errors(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Scored bits whose prediction ``sigmoid(logits) > 0.5`` differs from the target.

    Args:
        logits: ``[B, T, output_size]``.
        batch: the episode the logits answer.

    Returns:
        ``[B]`` int64, the number of wrong bits in each sequence.
    """
    if logits.shape != batch.targets.shape:
        raise ValueError(f"logits {tuple(logits.shape)} must have the targets' shape "
                         f"{tuple(batch.targets.shape)}")
    wrong = (logits > 0) != (batch.targets > 0.5)  # sigmoid(x) > 0.5  <=>  x > 0
    return (wrong & batch.mask.unsqueeze(-1)).sum(dim=(1, 2))
