"""The records of the long-term memory: propositions, relations, training logs, and a graph.

The graph model (the same in every backend):

  (:Proposition {id, text, language, embedding, run})   one sentence; ``embedding`` is a
                                                         [D] vector (D fixed per store) or absent
  (a)-[:ENTAILS|CONTRADICTS|NEUTRAL {confidence, run}]->(b)
                                                         at most one relation of each type
                                                         from a to b; ``confidence`` in [0, 1]
  (:TrainingLog {id, run, timestamp, kind, count, proposition_ids, relation_keys})
                                                         one per write transaction: which run
                                                         wrote what, and when

Every write is idempotent: propositions are keyed by ``id`` and relations by
``(source, type, target)``, so writing the same batch twice (say, retrying after a lost
connection) leaves the graph exactly as writing it once. ``run`` on a proposition or relation
is the run that created it.

Every text is checked when a record is made: it must be a string that can be written as UTF-8
(a lone surrogate, which JSON allows as ``"\\ud800"``, cannot), so no backend meets a text it
cannot save. The small helpers below (``with_run``, ``check_dimension``, ``relation_types``,
``make_log``) are what every backend applies to a write or a query before touching storage.
"""

from __future__ import annotations

import hashlib
import math
import reprlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

import numpy as np

from .errors import DimensionMismatch, InvalidGraphData

RELATION_TYPES = ("ENTAILS", "CONTRADICTS", "NEUTRAL")
DEFAULT_RUN = "default"
MAX_INT = 2**63 - 1          # the largest integer every backend stores (Neo4j integers are 64-bit)

_shown = reprlib.Repr()
_shown.maxstring = 60
_shown.maxother = 60


def shown(value: Any) -> str:
    """A user's value for an error message: a short repr, whatever its size or nesting."""
    return _shown.repr(value)


def check_text(value: Any, what: str, nullable: bool = False, empty: bool = True) -> str | None:
    """``value`` if it is a string that UTF-8 can encode (else InvalidGraphData saying why).

    ``nullable``: None is allowed. ``empty``: "" is allowed.
    """
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        kind = "a string or null" if nullable else "a string"
        raise InvalidGraphData(f"{what} must be {kind}, got {type(value).__name__}")
    if not empty and not value:
        raise InvalidGraphData(f"{what} must not be empty")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidGraphData(
            f"{what} contains a lone surrogate ({value[exc.start]!r} at character {exc.start}), which "
            "is not text any file or database can store; remove it or replace it") from None
    return value


def proposition_id(text: str) -> str:
    """A stable id for a sentence: ``p-`` + the first 16 hex digits of sha256(text)."""
    check_text(text, "a proposition's text")
    return "p-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def short_text(text: str, limit: int = 40) -> str:
    """``text`` on one line, at most ``limit`` characters (ending in … when cut): a label."""
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[:limit - 1] + "…"


def as_embedding(vector: Any, what: str = "embedding") -> np.ndarray:
    """Check and convert a vector: [D] float32, finite, not all zero (cosine needs a length)."""
    try:
        with np.errstate(over="ignore"):            # beyond float32 becomes inf, refused below
            v = np.asarray(vector, dtype=np.float32)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidGraphData(f"{what}: embedding must be a list of numbers ({shown(str(exc))})") from None
    if v.ndim != 1 or v.shape[0] == 0:
        raise InvalidGraphData(f"{what}: embedding must be a non-empty 1-D vector, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise InvalidGraphData(f"{what}: embedding contains NaN or infinity (or a number too large for float32)")
    if not np.any(v):
        raise InvalidGraphData(f"{what}: embedding is all zeros, so it has no direction for cosine similarity")
    return v


@dataclass(eq=False)
class Proposition:
    """One node. ``embedding``: [D] float32 (unit length not required, non-zero), or None."""

    id: str
    text: str
    language: str | None = "en"
    embedding: np.ndarray | None = None
    run: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise InvalidGraphData(f"a proposition id must be a non-empty string, got {shown(self.id)}")
        check_text(self.id, f"proposition id {shown(self.id)}")
        where = f"proposition {shown(self.id)}"
        check_text(self.text, f"{where}: text")
        check_text(self.language, f"{where}: language", nullable=True)
        check_text(self.run, f"{where}: run", nullable=True, empty=False)
        if self.embedding is not None:
            self.embedding = as_embedding(self.embedding, what=where)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Proposition):
            return NotImplemented
        same_emb = (self.embedding is None and other.embedding is None) or (
            self.embedding is not None and other.embedding is not None
            and np.array_equal(self.embedding, other.embedding))
        return (self.id, self.text, self.language, self.run) == (
            other.id, other.text, other.language, other.run) and same_emb

    def __repr__(self) -> str:
        dim = None if self.embedding is None else self.embedding.shape[0]
        return (f"Proposition(id={self.id!r}, text={self.text!r}, language={self.language!r}, "
                f"embedding_dim={dim}, run={self.run!r})")


@dataclass(frozen=True)
class Relation:
    """One edge ``source -[type {confidence}]-> target``; ``type`` is one of RELATION_TYPES."""

    source: str
    target: str
    type: str = "ENTAILS"
    confidence: float = 1.0
    run: str | None = None

    def __post_init__(self) -> None:
        for end in ("source", "target"):
            v = getattr(self, end)
            if not isinstance(v, str) or not v:
                raise InvalidGraphData(f"a relation {end} must be a proposition id (non-empty string), got {shown(v)}")
            check_text(v, f"a relation {end}")
        where = f"relation {shown(self.source)}->{shown(self.target)}"
        if self.type not in RELATION_TYPES:
            raise InvalidGraphData(f"{where}: type {shown(self.type)} is not one of {', '.join(RELATION_TYPES)}")
        c = self.confidence
        try:
            ok = not isinstance(c, bool) and isinstance(c, (int, float)) and math.isfinite(c) and 0.0 <= c <= 1.0
        except OverflowError:                       # an int too large for a float
            ok = False
        if not ok:
            raise InvalidGraphData(f"{where} ({self.type}): confidence must be a number in [0, 1], got {shown(c)}")
        object.__setattr__(self, "confidence", float(c))
        check_text(self.run, f"{where}: run", nullable=True, empty=False)

    @property
    def key(self) -> str:
        """``source|TYPE|target``: what makes a relation unique."""
        return f"{self.source}|{self.type}|{self.target}"


@dataclass(frozen=True)
class TrainingLog:
    """Which run wrote what, and when (UTC ISO 8601), one per write transaction."""

    id: str
    run: str
    timestamp: str
    kind: str                                   # "propositions" | "relations"
    count: int
    proposition_ids: tuple[str, ...] = ()
    relation_keys: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "run": self.run, "timestamp": self.timestamp, "kind": self.kind,
                "count": self.count, "proposition_ids": list(self.proposition_ids),
                "relation_keys": list(self.relation_keys)}


@dataclass(frozen=True)
class Neighbour:
    """A nearest-neighbour hit: the proposition and its cosine similarity to the query, in [-1, 1]."""

    proposition: Proposition
    score: float


@dataclass(frozen=True)
class Link:
    """A relation followed from a node, and the proposition at its other end."""

    relation: Relation
    proposition: Proposition


@dataclass
class Graph:
    """A whole graph (or a part of one): nodes, edges, training logs, in a stable order."""

    nodes: list[Proposition] = field(default_factory=list)
    edges: list[Relation] = field(default_factory=list)
    training_logs: list[TrainingLog] = field(default_factory=list)

    def sort(self) -> "Graph":
        self.nodes.sort(key=lambda p: p.id)
        self.edges.sort(key=lambda r: (r.source, r.type, r.target))
        self.training_logs.sort(key=lambda log: (log.timestamp, log.id))
        return self

    def filtered(self, runs: Iterable[str | None] | None = None, languages: Iterable[str | None] | None = None,
                 relations: Iterable[str] | None = None) -> "Graph":
        """The part of the graph a user asked to see: the propositions written by one of ``runs``
        in one of ``languages`` (None in either: any; a None inside matches propositions without a
        run or a language), the relations among them of one of the ``relations`` types whose run is
        one of ``runs``, and the training logs of those runs. Order is kept."""
        run_set = None if runs is None else set(runs)
        lang_set = None if languages is None else set(languages)
        type_set = None if relations is None else set(relation_types(list(relations)))
        nodes = [p for p in self.nodes if (run_set is None or p.run in run_set)
                 and (lang_set is None or p.language in lang_set)]
        ids = {p.id for p in nodes}
        edges = [r for r in self.edges if r.source in ids and r.target in ids
                 and (type_set is None or r.type in type_set) and (run_set is None or r.run in run_set)]
        logs = [g for g in self.training_logs if run_set is None or g.run in run_set]
        return Graph(nodes, edges, logs)


# ----------------------------------------------------------------------------- helpers for backends


def now_utc() -> str:
    """Current time as UTC ISO 8601 with microseconds, e.g. ``2026-11-25T10:00:00.123456+00:00``."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def make_log(run: str, kind: str, proposition_ids: Sequence[str] = (),
             relation_keys: Sequence[str] = ()) -> TrainingLog:
    """A log for one write; its id depends only on (run, kind, what was written), so retrying
    the same batch finds the same log instead of adding a second one."""
    items = sorted(proposition_ids) + sorted(relation_keys)
    digest = hashlib.sha256("\x1f".join([run, kind, *items]).encode("utf-8")).hexdigest()[:20]
    return TrainingLog(id=f"log-{digest}", run=run, timestamp=now_utc(), kind=kind,
                       count=len(items), proposition_ids=tuple(proposition_ids),
                       relation_keys=tuple(relation_keys))


def dedupe_last(items: Iterable[Any], key) -> list[Any]:
    """Keep one item per key (the last one given), in first-seen order."""
    out: dict[Any, Any] = {}
    for item in items:
        out[key(item)] = item
    return list(out.values())


def with_run(props: Iterable[Proposition], run: str) -> list[Proposition]:
    """Propositions with ``run`` filled in where missing; duplicates by id collapse to the last."""
    out = []
    for p in props:
        if not isinstance(p, Proposition):
            raise InvalidGraphData(f"expected Proposition, got {type(p).__name__}")
        out.append(p if p.run is not None else Proposition(p.id, p.text, p.language, p.embedding, run))
    return dedupe_last(out, key=lambda p: p.id)


def relations_with_run(rels: Iterable[Relation], run: str) -> list[Relation]:
    """Relations with ``run`` filled in where missing; duplicates by key collapse to the last."""
    out = []
    for r in rels:
        if not isinstance(r, Relation):
            raise InvalidGraphData(f"expected Relation, got {type(r).__name__}")
        out.append(r if r.run is not None else Relation(r.source, r.target, r.type, r.confidence, run))
    return dedupe_last(out, key=lambda r: r.key)


def check_dimension(props: Sequence[Proposition], dimension: int | None) -> int | None:
    """The one embedding dimension D of ``props`` (and of the store, if it has one already)."""
    dims = {p.embedding.shape[0] for p in props if p.embedding is not None}
    if dimension is not None:
        dims.add(dimension)
    if len(dims) > 1:
        have = f"the store holds {dimension}-dim embeddings; " if dimension is not None else ""
        raise DimensionMismatch(
            f"embeddings of different lengths {sorted(dims)}: {have}every embedding in one store "
            "must have the same length (use a separate store, or re-embed with the same model)")
    return dims.pop() if dims else None


def relation_types(relation: str | Sequence[str] | None) -> tuple[str, ...]:
    """The relation types a query asks for: all of RELATION_TYPES for None, one type for a
    string, or the given ones; InvalidGraphData for any other name."""
    types = RELATION_TYPES if relation is None else (relation,) if isinstance(relation, str) else tuple(relation)
    bad = [t for t in types if t not in RELATION_TYPES]
    if bad:
        raise InvalidGraphData(f"unknown relation type(s) {shown(bad)}; use {', '.join(RELATION_TYPES)}")
    return types


def check_direction(direction: str) -> str:
    """``direction`` if it is ``"out"``, ``"in"`` or ``"both"`` (ValueError otherwise)."""
    if direction not in ("out", "in", "both"):
        raise ValueError(f"direction must be 'out', 'in' or 'both', not {direction!r}")
    return direction
