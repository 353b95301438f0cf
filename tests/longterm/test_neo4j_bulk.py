"""Bulk writes to Neo4j: a batch of 1,000 embeddings is sent as parameters, exactly, without
the driver spelling every float into its debug log line (which cost more than the write)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from ntm.longterm import Proposition

pytestmark = pytest.mark.neo4j


def test_a_batch_of_embeddings_arrives_exactly_and_is_not_spelled_into_the_log(neo4j_store, caplog):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(1000, 384)).astype(np.float32)
    with caplog.at_level(logging.DEBUG, logger="neo4j"):
        written = neo4j_store.add_propositions(
            [Proposition(f"b{i:04d}", f"bulk {i}", "en", vectors[i]) for i in range(1000)], run="bulk")
    assert written == 1000
    runs = [r.getMessage() for r in caplog.records if " C: RUN " in r.getMessage()]
    assert runs and any("<1000 rows>" in m for m in runs)               # the batch itself was logged...
    assert max(len(m) for m in runs) < 10_000                            # ...without its 384,000 floats
    for i in (0, 517, 999):
        assert np.array_equal(neo4j_store.get(f"b{i:04d}").embedding, vectors[i])
    assert neo4j_store.nearest(vectors[517], k=1)[0].proposition.id == "b0517"
