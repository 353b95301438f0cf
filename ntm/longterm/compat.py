"""The dual-memory fork of pytorch-ntm's long-term memory names, over this package's stores.

Code written against the fork keeps working:

    from ntm.longterm.compat import InMemoryGraphMemory, Neo4jGraphMemory, AbstractGraphMemory
    memory = Neo4jGraphMemory("bolt://localhost:7687", "neo4j", "password")   # or NEO4J_* variables
    memory.export_entailment_graph_json("entailment_graph.json")
    isinstance(memory, AbstractGraphMemory)                                   # True

``AbstractGraphMemory`` is the interface (``LongTermStore``). ``InMemoryGraphMemory`` is the embedded
store: the fork kept its graph in the process, we keep it in one SQLite file (``path=None``: the
default file), so it survives a restart; give a path in a temporary folder for a throwaway graph.
``Neo4jGraphMemory`` is the Neo4j store. On Neo4j, propositions carry ``idx`` (0, 1, 2, ... in the
order first written) and TrainingLog nodes carry ``source_idx``, ``proposition`` and
``timestamp``, so the fork's documented Cypher returns values (see docs/longterm.md).
"""

from __future__ import annotations

from .neo4j_store import Neo4jStore
from .sqlite_store import SQLiteStore
from .store import LongTermStore

AbstractGraphMemory = LongTermStore


class InMemoryGraphMemory(SQLiteStore):
    """The fork's in-process graph memory: our embedded store (``open_store("embedded", ...)``)."""


class Neo4jGraphMemory(Neo4jStore):
    """The fork's Neo4j graph memory: our Neo4j store (``open_store("neo4j", ...)``); positional
    ``(uri, user, password)`` as in the fork, unset ones from ``NEO4J_URI`` / ``NEO4J_USER`` /
    ``NEO4J_PASSWORD``."""


__all__ = ["AbstractGraphMemory", "InMemoryGraphMemory", "Neo4jGraphMemory"]
