"""The dual-memory fork's names and Cypher work here (issue 12): its class names, its entailment
export, and its documented queries return values on Neo4j (``n.idx``, TrainingLog fields)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ntm.longterm import Proposition, Relation



def vec(i: int) -> np.ndarray:
    return np.random.default_rng(i).standard_normal(8).astype(np.float32)


PROPS = [Proposition(f"p{i}", f"sentence {i}", "en", vec(i)) for i in range(4)]
RELS = [Relation("p0", "p1", "ENTAILS", 0.9), Relation("p1", "p2", "ENTAILS", 0.8),
        Relation("p0", "p3", "CONTRADICTS", 0.7)]


def test_the_fork_class_names_are_our_stores(tmp_path):
    import ntm.longterm as lt
    from ntm.longterm.neo4j_store import Neo4jStore
    from ntm.longterm.sqlite_store import SQLiteStore

    assert lt.AbstractGraphMemory is lt.LongTermStore
    assert issubclass(lt.InMemoryGraphMemory, SQLiteStore) and issubclass(lt.Neo4jGraphMemory, Neo4jStore)
    with lt.InMemoryGraphMemory(tmp_path / "g.sqlite3") as memory:
        assert isinstance(memory, lt.AbstractGraphMemory)
        memory.add_propositions(PROPS)
        assert memory.get("p2").text == "sentence 2"
    with pytest.raises(AttributeError):
        lt.NoSuchGraphMemory  # noqa: B018 - the module's __getattr__ must not invent names


def test_export_entailment_graph_json_holds_only_entails(store, tmp_path):
    store.add_propositions(PROPS)
    store.add_relations(RELS)
    out = tmp_path / "entailment_graph.json"
    data = store.export_entailment_graph_json(out)
    assert json.loads(out.read_text(encoding="utf-8")) == data
    assert [n["id"] for n in data["nodes"]] == ["p0", "p1", "p2"]              # p3 only contradicts
    assert data["edges"] == [{"source": "p0", "target": "p1", "type": "ENTAILS", "confidence": pytest.approx(0.9)},
                             {"source": "p1", "target": "p2", "type": "ENTAILS", "confidence": pytest.approx(0.8)}]
    assert data["nodes"][0] == {"id": "p0", "text": "sentence 0", "language": "en"}
    other = type(store)(tmp_path / "copy.sqlite3") if hasattr(store, "path") else None
    if other is not None:                                     # the file reads back into a store
        with other:
            assert other.import_json(out)["relations"] == 2
            assert {r.type for r in other.graph(False).edges} == {"ENTAILS"}


@pytest.mark.neo4j
def test_the_forks_documented_cypher_returns_values_on_neo4j(neo4j_store, neo4j_target):
    from neo4j import GraphDatabase

    neo4j_store.add_propositions(PROPS[:2], run="r")
    neo4j_store.add_propositions(PROPS, run="r")              # p0, p1 again: their idx stays
    neo4j_store.add_relations(RELS, run="r")

    def query(cypher: str) -> list[dict]:
        with GraphDatabase.driver(neo4j_target.uri, auth=(neo4j_target.user, neo4j_target.password)) as d:
            return [r.data() for r in d.execute_query(cypher).records]

    rows = query("MATCH (n:Proposition) RETURN n.text AS text, n.embedding AS embedding, n.idx AS idx "
                 "ORDER BY n.text")
    assert [(r["text"], r["idx"]) for r in rows] == [(f"sentence {i}", i) for i in range(4)]
    assert all(len(r["embedding"]) == 8 for r in rows)
    logs = query("MATCH (n:TrainingLog) RETURN n.source_idx AS source_idx, n.proposition AS proposition, "
                 "n.timestamp AS timestamp ORDER BY n.timestamp DESC LIMIT 10")
    assert len(logs) == 3                                      # two proposition writes, one relation write
    assert all(r["source_idx"] is not None and r["proposition"] and r["timestamp"] for r in logs)
    assert {(r["source_idx"], r["proposition"]) for r in logs} == {(0, "sentence 0")}
    # The fork's degree queries in their Neo4j 5 form (docs/longterm.md): size() of a pattern is gone.
    degrees = query("MATCH (n:Proposition) RETURN n.text AS text, COUNT { (n)-[:ENTAILS]->() } AS out_degree, "
                    "COUNT { ()-[:ENTAILS]->(n) } AS in_degree ORDER BY out_degree DESC, in_degree DESC, text")
    assert [(r["text"], r["out_degree"], r["in_degree"]) for r in degrees][:3] == [
        ("sentence 1", 1, 1), ("sentence 0", 1, 0), ("sentence 2", 0, 1)]
    busiest = query("MATCH (n:Proposition) WITH n, COUNT { (n)-[:ENTAILS]->() } + COUNT { ()-[:ENTAILS]->(n) } "
                    "AS total_connections RETURN n.text AS text, total_connections "
                    "ORDER BY total_connections DESC, text LIMIT 10")
    assert busiest[0] == {"text": "sentence 1", "total_connections": 2}
    neo4j_store.clear()
    neo4j_store.add_propositions(PROPS[3:], run="r")
    assert query("MATCH (n:Proposition) RETURN n.idx AS idx") == [{"idx": 0}]   # a cleared store counts from 0
