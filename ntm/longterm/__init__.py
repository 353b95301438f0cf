"""Long-term memory of the dual-memory NTM: a graph of propositions behind one interface.

    from ntm.longterm import open_store, Proposition, Relation
    with open_store() as store:                 # embedded, a local file (the default)
        store.add_propositions([Proposition("p1", "A man is sleeping.", embedding=v)])
    with open_store("neo4j") as store:          # NEO4J_URI / NEO4J_USER / NEO4J_PASSWORD
        ...

Backends: ``embedded`` (networkx + numpy, one JSON file, no server) and ``neo4j`` (the
official driver; parameterised, batched, idempotent Cypher). See ``base`` for the graph
model and ``docs/longterm.md`` for Cypher examples and failure behaviour. This package never
imports torch or Streamlit (``embedding`` imports transformers lazily, when first used).
"""

from __future__ import annotations

from .base import (
    DEFAULT_RUN, RELATION_TYPES, DimensionMismatch, Graph, InvalidGraphData, Link, LongTermStore,
    LongTermStoreError, LongTermStoreUnavailable, Neighbour, Proposition, Relation, TrainingLog,
    UnknownProposition, data_dir, default_store_path, graph_from_json, proposition_id,
)

BACKENDS = ("embedded", "neo4j")


def open_store(backend: str = "embedded", **kw) -> LongTermStore:
    """Open a long-term store.

    ``open_store("embedded", path=None, dimension=None)``: a local file (default
    ``<NTM_EXPLORER_DATA or .data>/longterm/graph.json``).
    ``open_store("neo4j", uri=None, user=None, password=None, database=None, dimension=None,
    connect_timeout=5.0, ...)``: missing connection settings come from ``NEO4J_URI``,
    ``NEO4J_USER``, ``NEO4J_PASSWORD`` (and ``NEO4J_DATABASE``); raises
    LongTermStoreUnavailable within a few seconds if the server cannot be reached.
    """
    if backend == "embedded":
        from .embedded import EmbeddedStore
        return EmbeddedStore(**kw)
    if backend == "neo4j":
        from .neo4j_store import Neo4jStore
        return Neo4jStore(**kw)
    raise ValueError(f"unknown long-term store backend {backend!r}; choose one of {', '.join(BACKENDS)}")


__all__ = [
    "BACKENDS", "DEFAULT_RUN", "RELATION_TYPES", "DimensionMismatch", "Graph", "InvalidGraphData", "Link",
    "LongTermStore", "LongTermStoreError", "LongTermStoreUnavailable", "Neighbour", "Proposition", "Relation",
    "TrainingLog", "UnknownProposition", "data_dir", "default_store_path", "graph_from_json", "open_store",
    "proposition_id",
]
