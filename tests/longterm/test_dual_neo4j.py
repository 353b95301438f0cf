"""The dual-memory NTM's long-term write and read path on a real Neo4j server (issue 12): a batch's
propositions, predicted relations and training logs land in Neo4j, where the fork's Cypher finds
them, and the next forward pass reads them back through the server's nearest-neighbour query."""

from __future__ import annotations

import pytest
import torch

from ntm.model import build_model
from ntm.tasks import make_task

pytestmark = pytest.mark.neo4j


def test_dual_model_writes_and_reads_neo4j(neo4j_store, neo4j_target):
    from neo4j import GraphDatabase

    torch.set_num_threads(1)
    task = make_task("cdcl-nli", max_examples=60)
    torch.manual_seed(0)
    model = build_model("dual", {"input_size": task.input_size, "output_size": task.output_size,
                                 "controller_size": 16, "memory_slots": 8, "memory_width": 8,
                                 "long_term_nodes": 3, "long_term_dim": 4, "write_confidence": 0.0})
    model.attach_store(neo4j_store)
    model.run_name = "neo4j-run"
    batch = task.sample(3, torch.Generator().manual_seed(0), length=2)
    logits, _, _ = model(batch.inputs)
    written = model.after_batch(1, batch, logits.detach())
    sentences = {t for e in batch.examples for t, _ in [*e.premises, e.hypothesis]}
    assert written == {"propositions": len(sentences), "relations": 6}

    with GraphDatabase.driver(neo4j_target.uri, auth=(neo4j_target.user, neo4j_target.password)) as driver:
        texts = {r["text"] for r in driver.execute_query(
            "MATCH (n:Proposition) RETURN n.text AS text").records}
        kinds = {r["type"] for r in driver.execute_query(
            "MATCH (:Proposition)-[r]->(:Proposition) RETURN type(r) AS type").records}
        logs = driver.execute_query("MATCH (n:TrainingLog) RETURN n.run AS run, n.timestamp AS timestamp").records
    assert texts == sentences and kinds <= {"ENTAILS", "CONTRADICTS", "NEUTRAL"}
    assert logs and all(r["run"] == "neo4j-run" and r["timestamp"] for r in logs)

    model(batch.inputs)                                     # reads them back from the server
    assert model.last_reads and all(len(ids) == 3 for ids in model.last_reads[-1].ids)
