"""The interface every long-term store backend implements: ``LongTermStore``.

A store holds one proposition graph (see ``records`` for the graph model). Backends implement
the storage primitives (``_write_propositions``, ``_write_relations``, ``_write_logs``) and the
reads; the public writes, the JSON export and import, and the context-manager lifetime are
written once, here. Backends: ``EmbeddedStore`` (``embedded.py``, a local file) and
``Neo4jStore`` (``neo4j_store.py``, a Neo4j 5 server).
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..io import atomic_write_text
from .codec import graph_from_json, graph_to_json
from .errors import InvalidGraphData
from .records import (
    DEFAULT_RUN, Graph, Link, Neighbour, Proposition, Relation, TrainingLog, check_dimension, relations_with_run,
    with_run,
)


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
        Returns how many distinct relations were written.
        """
        rels = relations_with_run(relations, run)
        return self._write_relations(rels, log=True) if rels else 0

    @abstractmethod
    def _write_propositions(self, props: list[Proposition], log: bool) -> int:
        """Store distinct (by id) propositions whose ``run`` is set; one TrainingLog per run if ``log``."""

    @abstractmethod
    def _write_relations(self, rels: list[Relation], log: bool) -> int:
        """Store distinct (by key) relations whose ``run`` is set, all or nothing if an end is missing."""

    @abstractmethod
    def _write_logs(self, logs: list[TrainingLog]) -> None:
        """Store training logs as they are (a log whose id exists already is kept as it was)."""

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
    def get(self, proposition_id: str) -> Proposition | None:
        """The proposition with this id, or None."""

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
    def _check_export_path(self, path: str | os.PathLike | None) -> None:
        own = getattr(self, "path", None)
        if path is not None and own is not None and Path(path).resolve() == Path(own).resolve():
            raise InvalidGraphData(f"{Path(path).name} is the store's own file; export to another file")

    def export_json(self, path: str | os.PathLike | None = None, include_embeddings: bool = True) -> dict[str, Any]:
        """The whole graph as a dict (see ``codec``); also written to ``path`` if given."""
        self._check_export_path(path)
        data = graph_to_json(self.graph(include_embeddings), self.dimension, include_embeddings)
        if path is not None:
            atomic_write_text(Path(path), json.dumps(data, ensure_ascii=False, indent=1))
        return data

    def export_entailment_graph_json(self, path: str | os.PathLike | None = None) -> dict[str, Any]:
        """The ENTAILS graph alone, as the dual-memory fork exports it: ``{"nodes": [{"id", "text",
        "language"}], "edges": [{"source", "target", "type", "confidence"}]}``, nodes that take part in an
        ENTAILS relation, sorted; also written to ``path`` (atomically) if given. Edges also carry
        ``"type": "ENTAILS"``, so ``import_json`` reads the file back."""
        self._check_export_path(path)
        graph = self.graph(include_embeddings=False)
        edges = [r for r in graph.edges if r.type == "ENTAILS"]
        ends = {end for r in edges for end in (r.source, r.target)}
        data = {"nodes": [{"id": p.id, "text": p.text, "language": p.language} for p in graph.nodes if p.id in ends],
                "edges": [{"source": r.source, "target": r.target, "type": r.type, "confidence": r.confidence}
                          for r in edges]}
        if path is not None:
            atomic_write_text(Path(path), json.dumps(data, ensure_ascii=False, indent=1))
        return data

    def import_json(self, data: Any, run: str = "import") -> dict[str, int]:
        """Add a graph export to this store: a dict, JSON text (str or bytes), a binary file
        (read in chunks, from its start) or a path.

        Checks the whole file first (InvalidGraphData, nothing written, if anything is
        wrong). Nodes/edges without a ``run`` get ``run``; training logs in the file are kept
        as they are, and a file without any gets one log per write, as ``add_*`` would.
        Returns counts of distinct items written (an edge given twice counts once).
        """
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
