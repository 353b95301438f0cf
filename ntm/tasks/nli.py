"""CDCL-NLI: natural language inference as an episode, for the dual-memory NTM (issue 12).

An example (premises p_1..p_n, hypothesis h, label) becomes one episode of T = n + 2 steps, each
sentence one timestep, as its frozen all-MiniLM-L6-v2 embedding e(.) (384-d, ``ntm.dual.encode``)
beside a flag that marks the hypothesis:

    t         0          ...   n-1         n           n+1
    input     x(p_1)     ...   x(p_n)      x(h)        0           inputs  [B, T, input_size]
    target    0          ...   0           0           one-hot     targets [B, T, 3]
    mask      .          ...   .           .           #           scored at the answer step only

``features`` says what a sentence step x(.) holds (D = 384):

    "pair"      x(p_i) = [e(p_i) ; e(p_i) * e(h) ; |e(p_i) - e(h)| ; 0]    input_size 3D + 1 = 1153
                x(h)   = [e(h)   ; 0             ; 0               ; 1]
    "sentence"  x(s)   = [e(s) ; flag]  (flag 1 on the hypothesis)         input_size  D + 1 =  385

"pair" (the default) gives every premise step the matching features that NLI models over
sentence embeddings use (InferSent: Conneau et al., EMNLP 2017, section 3.2): the element-wise
product and absolute difference with the hypothesis, so the controller compares each premise
with the hypothesis as it reads it instead of having to hold every premise until the hypothesis
comes. "sentence" is each sentence alone (the first nli-dual preset's encoding).

The three outputs are (entailment, contradiction, neutral), ``ntm.nli.LABELS``; the prediction is
their argmax at the answer step. The size knob is n, the number of premises: a batch holds
examples with the same n (drawn as the other tasks draw their length), so no episode is padded;
``batch_of`` left-pads with silent steps when it must mix them (evaluation on a whole file).

The examples come from ``data`` (default the shipped synthetic training split), read once per
process with ``ntm.nli.load_nli``; only that file is read.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Sequence

import torch

from ..io import ROOT
from ..nli import LABELS, NLIDataError, NLIExample, load_nli
from .base import Batch, Task, check_int

DEFAULT_DATA = "data/cdcl-nli/train.json"
EMBEDDING_SIZE = 384
FEATURES = {"pair": 3 * EMBEDDING_SIZE + 1, "sentence": EMBEDDING_SIZE + 1}   # encoding -> input_size


def check_features(features: object) -> str:
    """``features`` if it names an encoding of ``FEATURES``, else a ValueError saying which exist."""
    if features not in FEATURES:
        raise ValueError(f"features must be one of {', '.join(FEATURES)}; got {features!r}")
    return features


@dataclass(frozen=True, eq=False)
class NLIBatch(Batch):
    """A ``Batch`` that also carries its examples (their texts feed the long-term write path)."""

    examples: tuple[NLIExample, ...] = ()

    def to(self, device: torch.device | str) -> "NLIBatch":
        return NLIBatch(self.inputs.to(device), self.targets.to(device), self.mask.to(device), self.examples)


def resolve_data_path(data: str) -> Path:
    """``data`` as given (absolute, or relative to the working folder), else relative to the project."""
    path = Path(data)
    if path.is_absolute() or path.exists():
        return path
    return ROOT / path


@functools.lru_cache(maxsize=8)
def _load(path: str, stamp: tuple[int, int]) -> tuple[NLIExample, ...]:
    return tuple(load_nli(path))


def load_examples(data: str) -> tuple[NLIExample, ...]:
    """The examples of ``data``, read once per process (again if the file changes)."""
    path = resolve_data_path(data)
    try:
        st = path.stat()
    except OSError:
        raise NLIDataError(f"{path.name}: no such file (give the path of a CDCL-NLI .json or SNLI-style "
                           f".jsonl file, e.g. -p data={DEFAULT_DATA})") from None
    return _load(str(path), (st.st_mtime_ns, st.st_size))


@dataclass(frozen=True)
class NLITask(Task):
    """Natural language inference on CDCL-NLI premises and hypotheses, one sentence per step."""

    name: ClassVar[str] = "cdcl-nli"
    title: ClassVar[str] = "CDCL-NLI (natural language inference)"
    length_name: ClassVar[str] = "premises"
    default_test_lengths: ClassVar[tuple[int, ...]] = (1, 2, 3, 4)

    max_examples: int = 0             # use only the file's first N examples (0: all of them)
    data: str = DEFAULT_DATA
    features: str = "pair"            # what a sentence step holds (module docstring): pair | sentence

    def __post_init__(self):
        check_int(self, "max_examples", 0)
        check_features(self.features)
        if not isinstance(self.data, str) or not self.data.strip():
            raise ValueError("NLITask: data must be the path of a CDCL-NLI .json or SNLI-style .jsonl file")
        load_examples(self.data)                       # a bad file fails now, naming the entry

    @property
    def examples(self) -> tuple[NLIExample, ...]:
        examples = load_examples(self.data)
        return examples[:self.max_examples] if self.max_examples else examples

    def _episode_length(self, batch_size: int, generator: torch.Generator, length: int | None) -> int:
        """As for every task, but a drawn premise count is one the examples have."""
        n = super()._episode_length(batch_size, generator, length)
        present = sorted({len(e.premises) for e in self.examples})
        if length is None and n not in present:
            n = present[int(torch.randint(len(present), (1,), generator=generator, device=generator.device))]
        return n

    @property
    def input_size(self) -> int:
        return FEATURES[self.features]

    @property
    def output_size(self) -> int:
        return len(LABELS)

    @property
    def train_lengths(self) -> tuple[int, int]:
        counts = [len(e.premises) for e in self.examples]
        return min(counts), max(counts)

    def slots_needed(self, length: int) -> int:
        return length + 1                              # every sentence of the episode

    def longest_fitting(self, slots: int) -> int:
        """As for every task, but no longer than the examples go (there are no longer episodes)."""
        return min(super().longest_fitting(slots), self.train_lengths[1])

    def test_lengths(self, slots: int | None = None) -> list[int]:
        present = {len(e.premises) for e in self.examples}
        return [n for n in sorted(present) if slots is None or self.slots_needed(n) <= slots]

    def sample(self, batch_size: int, generator: torch.Generator, length: int | None = None) -> NLIBatch:
        """``batch_size`` examples with ``length`` premises (drawn from ``train_lengths`` if None),
        without replacement while the file has enough of them."""
        n = self._episode_length(batch_size, generator, length)
        pool = [e for e in self.examples if len(e.premises) == n]
        if not pool:
            have = sorted({len(e.premises) for e in self.examples})
            raise ValueError(f"{self.name}: no example of {resolve_data_path(self.data).name} has {n} premises "
                             f"(it has {', '.join(map(str, have))})")
        if batch_size <= len(pool):
            picks = torch.randperm(len(pool), generator=generator, device=generator.device)[:batch_size]
        else:
            picks = torch.randint(len(pool), (batch_size,), generator=generator, device=generator.device)
        return batch_of([pool[int(i)] for i in picks], self.features)


def batch_of(examples: Sequence[NLIExample], features: str = "pair") -> NLIBatch:
    """The episodes of ``examples`` as one batch (left-padded with silent steps to the most premises),
    each sentence step encoded as ``features`` says (module docstring)."""
    from ..dual.encode import encode

    check_features(features)
    if not examples:
        raise ValueError("batch_of needs at least one example")
    steps = max(len(e.premises) for e in examples) + 2
    texts = [t for e in examples for t in [*(p[0] for p in e.premises), e.hypothesis[0]]]
    vectors = torch.from_numpy(encode(texts))                              # [sum(n_i + 1), D]
    b, d = len(examples), EMBEDDING_SIZE
    inputs = torch.zeros(b, steps, FEATURES[features])
    targets = torch.zeros(b, steps, len(LABELS))
    mask = torch.zeros(b, steps, dtype=torch.bool)
    row = 0
    for i, e in enumerate(examples):
        n = len(e.premises)
        start = steps - 2 - n                                              # left padding
        sentences = vectors[row:row + n + 1]                               # [n + 1, D]: premises, hypothesis
        inputs[i, start:start + n + 1, :d] = sentences
        if features == "pair":
            premises, hypothesis = sentences[:n], sentences[n]
            inputs[i, start:start + n, d:2 * d] = premises * hypothesis
            inputs[i, start:start + n, 2 * d:3 * d] = (premises - hypothesis).abs()
        inputs[i, steps - 2, -1] = 1.0                                     # the hypothesis flag
        targets[i, steps - 1, LABELS.index(e.label)] = 1.0
        mask[i, steps - 1] = True
        row += n + 1
    return NLIBatch(inputs, targets, mask, tuple(examples))


def predictions(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """``[B]`` label indices: the argmax of the 3 outputs at each episode's answer step."""
    step = batch.mask.float().argmax(dim=1)                                # [B]
    return logits[torch.arange(logits.shape[0]), step].argmax(dim=-1)
