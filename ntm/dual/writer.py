"""The long-term write path of the dual-memory NTM: what a batch leaves in the proposition graph.

NLI (a batch with ``examples``, ``ntm.tasks.nli.NLIBatch``): for every example whose predicted
label has probability p = max softmax(y_answer) >= ``write_confidence``:

    (:Proposition {text, language, embedding})   each premise and the hypothesis (MiniLM, cached)
    (premise)-[:ENTAILS|CONTRADICTS|NEUTRAL {confidence: p}]->(hypothesis)   the predicted relation

Copy-like tasks (no examples): the episode of the batch's first sequence is consolidated. The
``consolidate_rows`` short-term memory rows that changed most during the episode become
propositions (embedding = the row, so ``key_size`` must equal ``memory_width``), linked by
ENTAILS in slot order, which is the order the write head moved through them.

Each ``add_propositions`` / ``add_relations`` call also writes its TrainingLog (``ntm.longterm``).
"""

from __future__ import annotations

from typing import Any

import torch

from ..longterm import RELATION_TYPES as RELATIONS, Proposition, Relation, proposition_id

CONSOLIDATE_ROWS = 8


def answer_probabilities(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``[B, 3]`` softmax of the logits at each episode's scored (answer) step."""
    step = mask.float().argmax(dim=1)
    return torch.softmax(logits[torch.arange(logits.shape[0]), step].detach().float(), dim=-1)


def write_batch(model, batch: Any, logits: torch.Tensor, run: str = "default", batches: int = 0) -> dict[str, int]:
    """Write one batch to ``model.store``. Returns counts ``{"propositions", "relations"}``."""
    examples = getattr(batch, "examples", ())
    if examples:
        return write_nli(model.store, examples, answer_probabilities(logits, batch.mask),
                         model.config.write_confidence, run)
    return consolidate_episode(model, run, batches)


def write_nli(store, examples, probs: torch.Tensor, threshold: float, run: str) -> dict[str, int]:
    from .encode import encode

    props: dict[str, Proposition] = {}
    rels: list[Relation] = []
    confidence, predicted = probs.max(dim=-1)
    for example, p, label in zip(examples, confidence.tolist(), predicted.tolist()):
        if p < threshold:
            continue
        sentences = [*example.premises, example.hypothesis]
        vectors = encode([text for text, _ in sentences])
        for (text, language), v in zip(sentences, vectors):
            props.setdefault(proposition_id(text), Proposition(proposition_id(text), text, language, v))
        target = proposition_id(example.hypothesis[0])
        rels += [Relation(proposition_id(text), target, RELATIONS[label], min(max(p, 0.0), 1.0))
                 for text, _ in example.premises if proposition_id(text) != target]
    n = store.add_propositions(list(props.values()), run=run) if props else 0
    m = store.add_relations(rels, run=run) if rels else 0
    return {"propositions": n, "relations": m}


def consolidate_episode(model, run: str, batches: int, rows: int = CONSOLIDATE_ROWS) -> dict[str, int]:
    """The first sequence's most-changed memory rows as linked propositions (see the module)."""
    cfg = model.config
    state = model.last_state
    if state is None or cfg.key_size != cfg.memory_width:
        return {"propositions": 0, "relations": 0}
    with torch.no_grad():
        final = state.memory[0]                                        # [N, M]
        initial = model.memory_init(1)[0]
        change = (final - initial).norm(dim=-1)
        slots = sorted(torch.topk(change, min(rows, final.shape[0])).indices.tolist())
    tag = f"{run} batch {batches}"                                  # the episode ends this batch
    props = [Proposition(f"e-{proposition_id(tag)[2:]}-{s}", f"{tag}, slot {s}", None, final[s].numpy())
             for s in slots if bool(final[s].any())]
    rels = [Relation(a.id, b.id, "ENTAILS", 1.0) for a, b in zip(props, props[1:])]
    n = model.store.add_propositions(props, run=run) if props else 0
    m = model.store.add_relations(rels, run=run) if rels else 0
    return {"propositions": n, "relations": m}
