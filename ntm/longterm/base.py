"""The long-term memory of the dual-memory NTM: a graph of propositions, one interface.

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
is the run that created it; ``clear_run`` removes a run's propositions (with every relation
touching them), its relations and its training logs.

The JSON export (:meth:`LongTermStore.export_json`) is ``{"nodes": [...], "edges": [...]}``
like the fork's ``export_entailment_graph_json`` (nodes carry ``id``, ``text``, ``embedding``;
edges ``source``, ``target``), with our extra fields beside them (``language``, ``run``, an
edge's ``type`` and ``confidence``, ``training_logs``). Files from the fork import as they are:
an edge without ``type`` is an ``ENTAILS`` edge.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..io import data_dir

RELATION_TYPES = ("ENTAILS", "CONTRADICTS", "NEUTRAL")
DEFAULT_RUN = "default"
EXPORT_FORMAT = "ntm-explorer/longterm-graph"
EXPORT_VERSION = 1
def default_store_path() -> Path:
    """Where the embedded store lives unless told otherwise: ``<data dir>/longterm/graph.json``."""
    return data_dir() / "longterm" / "graph.json"


# ----------------------------------------------------------------------------- errors


class LongTermStoreError(Exception):
    """Base of every error the long-term store raises on purpose; the message says what to do."""


class LongTermStoreUnavailable(LongTermStoreError):
    """The backend cannot be reached (server down, wrong address or password, lost mid-run).

    ``committed`` counts the items of the failing call that were already acknowledged (they
    stay); writes are idempotent, so repeating the whole call once the server is back is safe.
    """

    def __init__(self, message: str, committed: int = 0):
        super().__init__(message)
        self.committed = committed


class InvalidGraphData(LongTermStoreError, ValueError):
    """Propositions, relations or a JSON graph file that cannot be stored as given."""


class UnknownProposition(LongTermStoreError, KeyError):
    """A relation or lookup names a proposition id the store does not have."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0]) if self.args else "unknown proposition"


class DimensionMismatch(InvalidGraphData):
    """An embedding whose length differs from the store's dimension D."""


# ----------------------------------------------------------------------------- records


def proposition_id(text: str) -> str:
    """A stable id for a sentence: ``p-`` + the first 16 hex digits of sha256(text)."""
    return "p-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


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
            raise InvalidGraphData(f"a proposition id must be a non-empty string, got {self.id!r}")
        if not isinstance(self.text, str):
            raise InvalidGraphData(f"proposition {self.id!r}: text must be a string, got {type(self.text).__name__}")
        if self.language is not None and not isinstance(self.language, str):
            raise InvalidGraphData(f"proposition {self.id!r}: language must be a string or null")
        if self.run is not None and (not isinstance(self.run, str) or not self.run):
            raise InvalidGraphData(f"proposition {self.id!r}: run must be a non-empty string or null")
        if self.embedding is not None:
            self.embedding = as_embedding(self.embedding, what=f"proposition {self.id!r}")

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
                raise InvalidGraphData(f"a relation {end} must be a proposition id (non-empty string), got {v!r}")
        if self.type not in RELATION_TYPES:
            raise InvalidGraphData(
                f"relation {self.source!r}->{self.target!r}: type {self.type!r} is not one of {', '.join(RELATION_TYPES)}")
        c = self.confidence
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c) or not 0.0 <= c <= 1.0:
            raise InvalidGraphData(
                f"relation {self.source!r}-{self.type}->{self.target!r}: confidence must be a number in [0, 1], got {c!r}")
        object.__setattr__(self, "confidence", float(c))
        if self.run is not None and (not isinstance(self.run, str) or not self.run):
            raise InvalidGraphData("a relation's run must be a non-empty string or null")

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


# ----------------------------------------------------------------------------- helpers


def as_embedding(vector: Any, what: str = "embedding") -> np.ndarray:
    """Check and convert a vector: [D] float32, finite, not all zero (cosine needs a length)."""
    try:
        v = np.asarray(vector, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidGraphData(f"{what}: embedding must be a list of numbers ({exc})") from None
    if v.ndim != 1 or v.shape[0] == 0:
        raise InvalidGraphData(f"{what}: embedding must be a non-empty 1-D vector, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise InvalidGraphData(f"{what}: embedding contains NaN or infinity")
    if not np.any(v):
        raise InvalidGraphData(f"{what}: embedding is all zeros, so it has no direction for cosine similarity")
    return v


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


def _dedupe_last(items: Iterable[Any], key) -> list[Any]:
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
    return _dedupe_last(out, key=lambda p: p.id)


def relations_with_run(rels: Iterable[Relation], run: str) -> list[Relation]:
    out = []
    for r in rels:
        if not isinstance(r, Relation):
            raise InvalidGraphData(f"expected Relation, got {type(r).__name__}")
        out.append(r if r.run is not None else Relation(r.source, r.target, r.type, r.confidence, run))
    return _dedupe_last(out, key=lambda r: r.key)


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


# ----------------------------------------------------------------------------- JSON


def proposition_to_json(p: Proposition, include_embedding: bool = True) -> dict[str, Any]:
    d: dict[str, Any] = {"id": p.id, "text": p.text, "language": p.language, "run": p.run}
    if include_embedding:
        d["embedding"] = None if p.embedding is None else [float(x) for x in p.embedding]
    return d


def relation_to_json(r: Relation) -> dict[str, Any]:
    return {"source": r.source, "target": r.target, "type": r.type,
            "confidence": r.confidence, "run": r.run}


def graph_to_json(graph: Graph, dimension: int | None, include_embeddings: bool = True) -> dict[str, Any]:
    """A graph as the export dict; nodes/edges keep the fork's field names."""
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "dimension": dimension,
        "nodes": [proposition_to_json(p, include_embeddings) for p in graph.nodes],
        "edges": [relation_to_json(r) for r in graph.edges],
        "training_logs": [log.to_json() for log in graph.training_logs],
    }


def _field(obj: dict, name: str, where: str, default: Any = ..., types: tuple = (str,), nullable: bool = False):
    if name not in obj or (obj[name] is None and default is not ...):
        if default is ...:
            raise InvalidGraphData(f"{where}: missing field {name!r}")
        return default
    v = obj[name]
    if v is None and nullable:
        return None
    if not isinstance(v, types) or isinstance(v, bool) and bool not in types:
        raise InvalidGraphData(f"{where}: field {name!r} has the wrong type ({type(v).__name__})")
    return v


def graph_from_json(data: Any, default_run: str = "import") -> Graph:
    """Parse and check an exported graph (ours or the fork's); raise InvalidGraphData saying
    exactly what is wrong and where. Does not touch any store."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidGraphData("the file is not UTF-8 text; expected a JSON graph export") from None
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise InvalidGraphData(f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
                                   "expected a graph export with 'nodes' and 'edges'") from None
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list) or not isinstance(data.get("edges", []), list):
        raise InvalidGraphData("expected a JSON object with a 'nodes' list and an 'edges' list "
                               "(the format export_json / export_entailment_graph_json write)")
    nodes: list[Proposition] = []
    seen: set[str] = set()
    for i, n in enumerate(data["nodes"]):
        where = f"node {i}"
        if not isinstance(n, dict):
            raise InvalidGraphData(f"{where}: expected an object, got {type(n).__name__}")
        nid = n.get("id")
        if isinstance(nid, int) and not isinstance(nid, bool):
            nid = str(nid)          # the fork wrote numeric idx values as ids
        if not isinstance(nid, str) or not nid:
            raise InvalidGraphData(f"{where}: missing or empty 'id'")
        where = f"node {i} (id {nid!r})"
        if nid in seen:
            raise InvalidGraphData(f"{where}: id appears twice")
        seen.add(nid)
        text = _field(n, "text", where)
        language = _field(n, "language", where, default=None, nullable=True)
        run = _field(n, "run", where, default=default_run)
        emb = n.get("embedding")
        if emb is not None and (not isinstance(emb, list)
                                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in emb)):
            raise InvalidGraphData(f"{where}: 'embedding' must be a list of numbers or null")
        nodes.append(Proposition(nid, text, language, emb, run))
    check_dimension(nodes, None)
    edges: list[Relation] = []
    for i, e in enumerate(data.get("edges", [])):
        where = f"edge {i}"
        if not isinstance(e, dict):
            raise InvalidGraphData(f"{where}: expected an object, got {type(e).__name__}")
        ends = []
        for end in ("source", "target"):
            v = e.get(end)
            if isinstance(v, int) and not isinstance(v, bool):
                v = str(v)
            if not isinstance(v, str) or v not in seen:
                raise InvalidGraphData(f"{where}: {end} {v!r} is not the id of a node in this file")
            ends.append(v)
        rtype = _field(e, "type", where, default="ENTAILS")
        conf = _field(e, "confidence", where, default=1.0, types=(int, float))
        run = _field(e, "run", where, default=default_run)
        edges.append(Relation(ends[0], ends[1], rtype, conf, run))
    logs: list[TrainingLog] = []
    for i, g in enumerate(data.get("training_logs") or []):
        where = f"training log {i}"
        if not isinstance(g, dict):
            raise InvalidGraphData(f"{where}: expected an object")
        pids = g.get("proposition_ids") or []
        rkeys = g.get("relation_keys") or []
        if not all(isinstance(x, str) for x in [*pids, *rkeys]):
            raise InvalidGraphData(f"{where}: proposition_ids and relation_keys must be lists of strings")
        logs.append(TrainingLog(id=_field(g, "id", where), run=_field(g, "run", where),
                                timestamp=_field(g, "timestamp", where), kind=_field(g, "kind", where),
                                count=_field(g, "count", where, types=(int,)),
                                proposition_ids=tuple(pids), relation_keys=tuple(rkeys)))
    return Graph(nodes, edges, logs)


# ----------------------------------------------------------------------------- interface


class LongTermStore(ABC):
    """A proposition graph. Backends: ``EmbeddedStore`` (a local file) and ``Neo4jStore``.

    Vectors are [D] float32; D is fixed by the first embedding written (or ``dimension=``).
    """

    backend: str = "?"

    # -- writing ---------------------------------------------------------------------
    def add_propositions(self, propositions: Iterable[Proposition], run: str = DEFAULT_RUN) -> int:
        """Write (create or update) propositions; ``run`` fills in any missing ``p.run``.

        Idempotent per id. Returns how many distinct propositions were written.
        """
        props = with_run(propositions, run)
        return self._write_propositions(props, log=True) if props else 0

    def add_relations(self, relations: Iterable[Relation], run: str = DEFAULT_RUN) -> int:
        """Write relations between existing propositions (UnknownProposition otherwise).

        Idempotent per (source, type, target); writing one again updates its confidence.
        """
        rels = relations_with_run(relations, run)
        return self._write_relations(rels, log=True) if rels else 0

    @abstractmethod
    def _write_propositions(self, props: list[Proposition], log: bool) -> int: ...

    @abstractmethod
    def _write_relations(self, rels: list[Relation], log: bool) -> int: ...

    @abstractmethod
    def _write_logs(self, logs: list[TrainingLog]) -> None: ...

    @abstractmethod
    def clear_run(self, run: str) -> dict[str, int]:
        """Delete a run's propositions (and every relation touching them), relations and logs.
        Returns counts ``{"propositions", "relations", "training_logs"}`` deleted."""

    @abstractmethod
    def clear(self) -> None:
        """Delete every proposition, relation and training log of this store."""

    # -- reading ---------------------------------------------------------------------
    @property
    @abstractmethod
    def dimension(self) -> int | None:
        """D, the embedding length of this store (None until the first embedding)."""

    @abstractmethod
    def get(self, proposition_id: str) -> Proposition | None: ...

    @abstractmethod
    def nearest(self, vector: Any, k: int = 5) -> list[Neighbour]:
        """The k propositions whose embeddings have the highest cosine similarity to
        ``vector`` [D], best first. Propositions without an embedding are never returned."""

    @abstractmethod
    def neighbours(self, proposition_id: str, relation: str | Sequence[str] | None = None,
                   direction: str = "out") -> list[Link]:
        """Relations from (``"out"``), into (``"in"``) or both ways around a proposition, with
        the proposition at the other end; ``relation`` restricts the types. Sorted by
        (type, other id). UnknownProposition if the id is not in the store."""

    @abstractmethod
    def graph(self, include_embeddings: bool = True) -> Graph:
        """The whole graph, sorted (nodes by id, edges by (source, type, target))."""

    @abstractmethod
    def stats(self) -> dict[str, int]:
        """Counts ``{"propositions", "relations", "training_logs"}``."""

    def training_logs(self, run: str | None = None) -> list[TrainingLog]:
        logs = self.graph(include_embeddings=False).training_logs
        return [g for g in logs if run is None or g.run == run]

    def runs(self) -> list[str]:
        """Every run that wrote something still in the store."""
        g = self.graph(include_embeddings=False)
        return sorted({x.run for x in [*g.nodes, *g.edges, *g.training_logs] if x.run})

    # -- JSON ------------------------------------------------------------------------
    def export_json(self, path: str | os.PathLike | None = None, include_embeddings: bool = True) -> dict[str, Any]:
        """The whole graph as a dict (see the module docstring); also written to ``path`` if given."""
        own = getattr(self, "path", None)
        if path is not None and own is not None and Path(path).resolve() == Path(own).resolve():
            raise InvalidGraphData(f"{path} is the store's own file; export to another file")
        data = graph_to_json(self.graph(include_embeddings), self.dimension, include_embeddings)
        if path is not None:
            from .embedded import atomic_write_text
            atomic_write_text(Path(path), json.dumps(data, ensure_ascii=False, indent=1))
        return data

    def import_json(self, data: Any, run: str = "import") -> dict[str, int]:
        """Add a graph export to this store: a dict, JSON text (str or bytes), or a file (a Path).

        Checks the whole file first (InvalidGraphData, nothing written, if anything is
        wrong). Nodes/edges without a ``run`` get ``run``; training logs in the file are kept
        as they are, and a file without any gets one log per write, as ``add_*`` would.
        Returns counts written.
        """
        if isinstance(data, os.PathLike):
            try:
                data = Path(data).read_bytes()
            except OSError as exc:
                raise InvalidGraphData(f"cannot read {data}: {exc.strerror}") from None
        g = graph_from_json(data, default_run=run)
        check_dimension(g.nodes, self.dimension)
        log = not g.training_logs
        n = self._write_propositions(g.nodes, log=log) if g.nodes else 0
        m = self._write_relations(g.edges, log=log) if g.edges else 0
        if g.training_logs:
            self._write_logs(g.training_logs)
        return {"propositions": n, "relations": m, "training_logs": len(g.training_logs)}

    # -- lifetime --------------------------------------------------------------------
    def close(self) -> None:
        """Release connections/files. The store must not be used afterwards."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
