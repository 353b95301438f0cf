"""One inference with a trained dual-memory NTM, shown whole: the NLI demo page's library.

    graph = load_preset_graph(store, preset)                   # the run's graph, in one call
    result = infer(model, store, ["A man sleeps.", ...], "A person rests.")
    result.label, result.probabilities                         # prediction, softmax at the answer step
    result.reads                                               # per timestep: hits and weights c_t, modes pi_t
    result.retrieved                                           # each proposition read, at its largest weight
    result.followed                                            # the relations the read followed (out and in)
    result.trace                                               # the short-term NTM, stepped as on Step through
    remember(store, result, run="demo")                        # the example and its predicted relation into G

The model reads the long-term graph G through ``store`` (``DualNTM.read_long_term``: the
store's nearest-neighbour query, then the relations out of and into each hit). Nothing here
writes unless ``remember`` is called.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from ..longterm import RELATION_TYPES, Graph, InvalidGraphData, Link, Relation, proposition_id
from ..nli import LABELS, NLIExample
from ..tasks.nli import batch_of
from ..trace import Trace, record
from . import GRAPH_FILE

MAX_PREMISES = 8
MAX_CHARS = 500
_MODEL_LOCK = threading.Lock()
LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "other")


class DemoInputError(ValueError):
    """The premises or hypothesis cannot be used; the message says what to change."""


@dataclass(frozen=True)
class Hit:
    """One proposition a long-term read retrieved: its content weight c_t[i] at that step."""

    id: str
    text: str
    weight: float


@dataclass(frozen=True)
class StepRead:
    """The long-term read of timestep ``t``: the K hits (nearest first) and the read modes."""

    t: int
    hits: tuple[Hit, ...]
    modes: tuple[float, float, float]          # pi_t: (backward, content, forward)


@dataclass
class Inference:
    """Everything one inference did (see the module docstring)."""

    example: NLIExample
    probabilities: dict[str, float]            # label -> softmax probability, LABELS order
    label: str
    reads: list[StepRead]
    retrieved: list[Hit]                       # each proposition once, at its largest weight, heaviest first
    followed: list[Relation]                   # relations out of and into the retrieved propositions
    trace: Trace

    @property
    def confidence(self) -> float:
        return self.probabilities[self.label]

    @property
    def relation(self) -> str:
        """The relation type ``remember`` writes for the predicted label (entailment -> ENTAILS, ...)."""
        return RELATION_TYPES[LABELS.index(self.label)]


def make_example(premises: Sequence[str], hypothesis: str, language: str = "en") -> NLIExample:
    """An example from the user's text: blank lines dropped, at most MAX_PREMISES premises of at
    most MAX_CHARS characters. Its label is a placeholder: ``extra["user"]`` marks it as having no
    gold label."""
    kept = [" ".join(p.split()) for p in premises if p and p.strip()]
    hyp = " ".join((hypothesis or "").split())
    if not kept:
        raise DemoInputError("write at least one premise (one sentence per line)")
    if not hyp:
        raise DemoInputError("write a hypothesis: the sentence to judge against the premises")
    if len(kept) > MAX_PREMISES:
        raise DemoInputError(f"{len(kept)} premises: use at most {MAX_PREMISES}")
    if max(len(t) for t in [*kept, hyp]) > MAX_CHARS:
        raise DemoInputError(f"a sentence is longer than {MAX_CHARS} characters: shorten it")
    if language not in LANGUAGES:
        raise DemoInputError(f"language must be one of {', '.join(LANGUAGES)}")
    return NLIExample(tuple((t, language) for t in kept), (hyp, language), "neutral", {"user": True})


def example_from(data: dict[str, Any]) -> NLIExample:
    """An example from its CDCL-NLI entry (``NLIExample.to_cdcl``); ``"user": True`` keeps the mark of
    an example without a gold label (``make_example``)."""
    premises = tuple((p["text"], p["language"]) for p in data["premise"])
    hypothesis = (data["hypothesis"]["text"], data["hypothesis"]["language"])
    return NLIExample(premises, hypothesis, data["label"], {"user": True} if data.get("user") else {})


def sentence_ids(example: NLIExample) -> list[str]:
    """The proposition ids of an example's sentences (premises, then the hypothesis)."""
    return [proposition_id(text) for text, _ in [*example.premises, example.hypothesis]]


def infer(model, store, example: NLIExample, features: str = "pair") -> Inference:
    """Run ``model`` (a ``DualNTM``) on one example, reading ``store`` (or nothing: None); ``features``
    is the sentence-step encoding of its task (``ntm.tasks.nli``).

    The probabilities are the softmax of the three outputs at the answer step (the prediction
    is their argmax, as ``ntm.tasks.nli.predictions``); targets in the trace are the gold
    label's one-hot when the example has one, zeros for the user's own example.
    """
    batch = batch_of([example], features)
    targets = torch.zeros_like(batch.targets) if example.extra.get("user") else batch.targets
    with _MODEL_LOCK:                       # one model object serves every session of the app
        model.attach_store(store)
        try:
            trace = record(model, batch.inputs, targets, batch.mask, meta={"task": "cdcl-nli"})
            reads = _reads(model, store)
        finally:
            model.attach_store(None)
    answer = int(batch.mask[0].float().argmax())
    logits = torch.as_tensor(trace.outputs[answer]).float()       # sigmoid outputs; rank by logit
    probs = torch.softmax(torch.logit(logits.clamp(1e-6, 1 - 1e-6)), dim=-1).tolist()
    probabilities = {label: float(p) for label, p in zip(LABELS, probs)}
    best: dict[str, Hit] = {}
    for step in reads:
        for hit in step.hits:
            if hit.id not in best or hit.weight > best[hit.id].weight:
                best[hit.id] = hit
    retrieved = sorted(best.values(), key=lambda h: (-h.weight, h.id))
    return Inference(example, probabilities, max(probabilities, key=probabilities.get), reads, retrieved,
                     _followed(store, [h.id for h in retrieved]), trace)


def _reads(model, store) -> list[StepRead]:
    texts: dict[str, str] = {}
    out = []
    for t, seen in enumerate(model.last_reads):
        hits = []
        for pid, w in zip(seen.ids[0], seen.weights[0].tolist()):
            if pid not in texts:
                p = store.get(pid)
                texts[pid] = p.text if p is not None else pid
            hits.append(Hit(pid, texts[pid], float(w)))
        out.append(StepRead(t, tuple(hits), tuple(float(x) for x in seen.modes[0].tolist())))
    return out


def _followed(store, ids: Sequence[str]) -> list[Relation]:
    if store is None:
        return []
    seen: dict[str, Relation] = {}
    for pid in ids:
        links: list[Link] = store.neighbours(pid, direction="both")
        for link in links:
            seen.setdefault(link.relation.key, link.relation)
    return sorted(seen.values(), key=lambda r: (r.source, r.type, r.target))


def neighbourhood(store, result: Inference, limit: int = 60) -> Graph:
    """The part of G the inference touched: the retrieved propositions, the ones their followed
    relations reach, and the example's own sentences if G holds them; at most ``limit`` nodes
    (retrieved first), with the relations among them."""
    wanted = [h.id for h in result.retrieved]
    wanted += [end for r in result.followed for end in (r.source, r.target)]
    wanted += sentence_ids(result.example)
    nodes, ids = [], set()
    for pid in wanted:
        if pid in ids or len(nodes) >= limit:
            continue
        p = store.get(pid)
        if p is not None:
            nodes.append(p)
            ids.add(pid)
    edges = [r for r in result.followed if r.source in ids and r.target in ids]
    for pid in list(ids):
        for link in store.neighbours(pid, direction="out"):
            if link.relation.target in ids and link.relation not in edges:
                edges.append(link.relation)
    return Graph(nodes, edges).sort()


def remember(store, result: Inference, run: str = "demo") -> dict[str, int]:
    """Write the example's sentences and its predicted relation (premise -> hypothesis, with the
    prediction's probability as confidence) to ``store``, as training does for a confident
    example (``ntm.dual.writer.write_nli``, threshold 0). Returns ``{"propositions", "relations"}``."""
    from .writer import write_nli

    probs = torch.tensor([[result.probabilities[label] for label in LABELS]])
    return write_nli(store, [result.example], probs, 0.0, run)


def load_preset_graph(store, preset_path: str | Path, run: str | None = None) -> dict[str, int]:
    """Add a trained run's graph (``<preset>/graph.json``) to ``store``, its sentences embedded
    again by MiniLM (cached per text). Idempotent: loading it twice adds nothing the second time.
    Returns the import's counts. InvalidGraphData if the preset has no readable graph."""
    from .encode import with_embeddings

    path = Path(preset_path) / GRAPH_FILE
    if not path.is_file():
        raise InvalidGraphData(f"the preset {Path(preset_path).name} has no {GRAPH_FILE}: it was not trained "
                               "with a long-term memory")
    try:
        exported: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidGraphData(f"{Path(preset_path).name}/{GRAPH_FILE} is not a readable graph export; "
                               "train the preset again or restore the file") from None
    if not isinstance(exported, dict):
        raise InvalidGraphData(f"{Path(preset_path).name}/{GRAPH_FILE} is not a graph export")
    return store.import_json(with_embeddings(exported), run=run or f"preset {Path(preset_path).name}")
