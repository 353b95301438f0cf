"""Long-term memory of the dual-memory NTM: a graph of propositions behind one interface.

    from ntm.longterm import open_store, Proposition, Relation
    with open_store() as store:                 # embedded: one SQLite file, no server (the default)
        store.add_propositions([Proposition("p1", "A man is sleeping.", embedding=v)])
    with open_store("neo4j") as store:          # NEO4J_URI / NEO4J_USER / NEO4J_PASSWORD
        ...

One concern per module, imported in this order (no cycles):

    errors.py        the errors raised on purpose (each message says what to do)
    records.py       Proposition, Relation, TrainingLog, Neighbour, Link, Graph; ids; checks
    codec.py         the JSON graph export: graph_to_json, graph_from_json (streamed, checked)
    paths.py         where the embedded store lives; paths as users see them
    store.py         LongTermStore, the interface (writes, JSON import/export written once)
    vector_index.py  nearest-neighbour search kept in step with a database (NumPy exact; faiss sign bits + int8)
    sqlite_store.py  SQLiteStore, the default: one SQLite database, incremental crash-safe writes
    embedded.py      EmbeddedStore: networkx + numpy, one JSON file (the old default; migrates)
    neo4j_store.py   Neo4jStore: the official driver; parameterised, batched, idempotent Cypher
    render.py        the graph as an offline vis-network page, and its sandboxed frame
    examples.py      a small NLI example graph
    embedding.py     all-MiniLM-L6-v2 sentence embeddings (imports torch lazily, when first used)
    compat.py        the dual-memory fork's names: AbstractGraphMemory, InMemoryGraphMemory,
                     Neo4jGraphMemory (also importable from here)

See ``docs/longterm.md`` for Cypher examples and failure behaviour. This package never imports
the NTM model or Streamlit, and imports torch only inside ``embedding.embed``.
"""

from __future__ import annotations

from ..io import data_dir
from .codec import MAX_IMPORT_MB, graph_from_json, graph_to_json
from .errors import (
    DimensionMismatch, InvalidGraphData, LongTermStoreCorrupt, LongTermStoreError, LongTermStoreUnavailable,
    UnknownProposition,
)
from .paths import default_store_path, shown_path
from .records import (
    DEFAULT_RUN, RELATION_TYPES, Graph, Link, Neighbour, Proposition, Relation, TrainingLog, proposition_id,
    short_text,
)
from .store import LongTermStore

BACKENDS = ("embedded", "neo4j", "json")


def open_store(backend: str = "embedded", **kw) -> LongTermStore:
    """Open a long-term store.

    ``open_store("embedded", path=None, dimension=None)``: an SQLite database (default
    ``<NTM_EXPLORER_DATA or .data>/longterm/graph.sqlite3``; a ``.json`` path means the
    ``.sqlite3`` beside it), into which the old JSON store beside it migrates on open.
    ``open_store("json", path=None, dimension=None)``: the old JSON-file store itself.
    ``open_store("neo4j", uri=None, user=None, password=None, database=None, dimension=None,
    connect_timeout=5.0, ...)``: missing connection settings come from ``NEO4J_URI``,
    ``NEO4J_USER``, ``NEO4J_PASSWORD`` (and ``NEO4J_DATABASE``); raises
    LongTermStoreUnavailable within a few seconds if the server cannot be reached.
    """
    if backend == "embedded":
        from .sqlite_store import SQLiteStore
        return SQLiteStore(**kw)
    if backend == "json":
        from .embedded import EmbeddedStore
        return EmbeddedStore(**kw)
    if backend == "neo4j":
        from .neo4j_store import Neo4jStore
        return Neo4jStore(**kw)
    raise ValueError(f"unknown long-term store backend {backend!r}; choose one of {', '.join(BACKENDS)}")


__all__ = [
    "BACKENDS", "DEFAULT_RUN", "MAX_IMPORT_MB", "RELATION_TYPES", "DimensionMismatch", "Graph", "InvalidGraphData",
    "Link", "LongTermStore", "LongTermStoreCorrupt", "LongTermStoreError", "LongTermStoreUnavailable", "Neighbour",
    "Proposition", "Relation", "TrainingLog", "UnknownProposition", "data_dir", "default_store_path",
    "graph_from_json", "graph_to_json", "open_store", "proposition_id", "short_text", "shown_path",
]


_FORK_NAMES = ("AbstractGraphMemory", "InMemoryGraphMemory", "Neo4jGraphMemory")


def __getattr__(name: str):
    """The fork's names (``compat``), imported on first use: they pull in the Neo4j driver."""
    if name in _FORK_NAMES:
        from . import compat
        return getattr(compat, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
