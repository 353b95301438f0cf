"""Scoring a model on an NLI file: accuracy, accuracy per gold label, and the majority class.

The prediction for an example is the argmax of the model's three outputs at the answer step
(``ntm.tasks.nli``); the majority-class accuracy is that of always answering the file's most
frequent label (``ntm.nli.majority_accuracy``), the floor any model must beat.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import nn

from ..nli import LABELS, NLIExample, majority_accuracy
from ..tasks.nli import batch_of, predictions


@torch.no_grad()
def evaluate_nli(model: nn.Module, examples: Sequence[NLIExample], batch_size: int = 32,
                 features: str = "pair",
                 breakdown: dict[str, Callable[[NLIExample], str]] | None = None) -> dict[str, Any]:
    """``{"accuracy", "per_label": {label: accuracy or None}, "majority", "examples"}``.

    ``features``: the sentence-step encoding the model was trained on (its task's, ``ntm.tasks.nli``).
    ``breakdown``: ``{name: key of an example}``; each adds ``"by_<name>": {key: {"accuracy",
    "majority", "examples"}}`` (e.g. ``BREAKDOWNS``: by reasoning pattern and by premise language).

    Examples are batched by their number of premises (no padding), in file order within each.
    """
    if not examples:
        raise ValueError("no examples to evaluate")
    was_training = model.training
    model.eval()
    right = {label: 0 for label in LABELS}
    total = {label: 0 for label in LABELS}
    scored: list[tuple[NLIExample, bool]] = []
    by_count: dict[int, list[NLIExample]] = {}
    for e in examples:
        by_count.setdefault(len(e.premises), []).append(e)
    try:
        for group in by_count.values():
            for start in range(0, len(group), batch_size):
                batch = batch_of(group[start:start + batch_size], features)
                logits, _, _ = model(batch.inputs)
                for e, p in zip(batch.examples, predictions(logits, batch).tolist()):
                    total[e.label] += 1
                    right[e.label] += int(LABELS[p] == e.label)
                    scored.append((e, LABELS[p] == e.label))
    finally:
        model.train(was_training)
    result = {"accuracy": sum(right.values()) / len(examples),
              "per_label": {label: (right[label] / total[label] if total[label] else None) for label in LABELS},
              "majority": majority_accuracy(list(examples)), "examples": len(examples)}
    for name, key_of in (breakdown or {}).items():
        groups: dict[str, list[tuple[NLIExample, bool]]] = {}
        for e, ok in scored:
            groups.setdefault(key_of(e), []).append((e, ok))
        result[f"by_{name}"] = {key: {"accuracy": sum(ok for _, ok in rows) / len(rows),
                                      "majority": majority_accuracy([e for e, _ in rows]), "examples": len(rows)}
                                for key, rows in sorted(groups.items())}
    return result


def premise_languages(example: NLIExample) -> str:
    """``"en"``, ``"de"``, ... when every premise is in one language, else ``"mixed"``."""
    languages = {language for _, language in example.premises}
    return languages.pop() if len(languages) == 1 else "mixed"


BREAKDOWNS: dict[str, Callable[[NLIExample], str]] = {
    "pattern": lambda e: str(e.extra.get("pattern", "unknown")),     # the synthetic data's reasoning pattern
    "language": premise_languages,
}
