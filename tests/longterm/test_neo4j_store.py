"""What only the Neo4j backend promises: the fork's Cypher works on our data, the schema that
makes writes idempotent, fast clear failures, and no loss or duplication when the server
dies mid-batch. All against a real Neo4j server (see conftest.py)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from ntm.longterm import LongTermStoreUnavailable, Proposition, Relation, open_store

pytestmark = pytest.mark.neo4j
D = 16


def vec(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=D).astype(np.float32)


@pytest.fixture
def driver(neo4j_target):
    from neo4j import GraphDatabase
    with GraphDatabase.driver(neo4j_target.uri, auth=(neo4j_target.user, neo4j_target.password)) as d:
        yield d


def test_the_forks_cypher_queries_read_our_data(neo4j_store, driver):
    texts = {"a": "A man is playing a guitar.", "b": "A man plays an instrument.",
             "c": "Someone makes music.", "d": "Nobody is playing anything."}
    written = {k: Proposition(k, t, "en", vec(i)) for i, (k, t) in enumerate(texts.items())}
    neo4j_store.add_propositions(written.values(), run="fork-check")
    neo4j_store.add_relations([Relation("a", "b", "ENTAILS", 0.9), Relation("b", "c", "ENTAILS", 0.8),
                               Relation("a", "d", "CONTRADICTS", 0.95)], run="fork-check")

    records = driver.execute_query("MATCH (n:Proposition)-[:ENTAILS]->(m:Proposition) RETURN n, m").records
    assert {(r["n"]["text"], r["m"]["text"]) for r in records} == {(texts["a"], texts["b"]), (texts["b"], texts["c"])}
    for r in records:
        for key in ("n", "m"):
            node = r[key]
            assert np.array_equal(np.asarray(node["embedding"], dtype=np.float32), written[node["id"]].embedding)

    rows = driver.execute_query(
        "MATCH (n:Proposition) RETURN n.text AS text, n.embedding AS embedding ORDER BY n.text").records
    assert [r["text"] for r in rows] == sorted(texts.values())
    assert all(len(r["embedding"]) == D for r in rows)

    rows = driver.execute_query("MATCH ()-[r]->() RETURN type(r) AS relationship_type, count(*) AS count").records
    assert {r["relationship_type"]: r["count"] for r in rows} == {"ENTAILS": 2, "CONTRADICTS": 1}

    rows = driver.execute_query(
        "MATCH (n:Proposition)-[r:ENTAILS]->(m:Proposition) RETURN n.text AS source, m.text AS target, "
        "r.confidence AS confidence ORDER BY n.text, m.text").records
    assert [(r["source"], r["confidence"]) for r in rows] == [(texts["a"], 0.9), (texts["b"], 0.8)]

    rows = driver.execute_query("MATCH (n:TrainingLog) RETURN n.run AS run, n.kind AS kind, n.timestamp AS timestamp "
                                "ORDER BY n.timestamp DESC LIMIT 10").records
    assert {(r["run"], r["kind"]) for r in rows} == {("fork-check", "propositions"), ("fork-check", "relations")}

    rows = driver.execute_query(
        "MATCH (n:Proposition) RETURN n.text AS text, COUNT { (n)-[:ENTAILS]->() } AS out_degree, "
        "COUNT { ()-[:ENTAILS]->(n) } AS in_degree ORDER BY out_degree DESC, text").records
    assert [(r["text"], r["out_degree"], r["in_degree"]) for r in rows][:2] == [
        (texts["a"], 1, 0), (texts["b"], 1, 1)]

    rows = driver.execute_query(
        "CALL db.index.vector.queryNodes('proposition_embedding', 1, $v) YIELD node, score "
        "RETURN node.text AS text", v=vec(2).tolist()).records
    assert rows[0]["text"] == texts["c"]


def test_schema_makes_ids_unique_and_indexes_embeddings(neo4j_store, driver):
    neo4j_store.add_propositions([Proposition("a", "x", embedding=vec(1))])
    constraints = {r["name"]: r for r in driver.execute_query(
        "SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties").records}
    assert constraints["proposition_id"]["type"] in ("UNIQUENESS", "NODE_PROPERTY_UNIQUENESS")
    assert constraints["proposition_id"]["properties"] == ["id"]
    index = driver.execute_query("SHOW VECTOR INDEXES YIELD name, state, options WHERE name = 'proposition_embedding' "
                                 "RETURN state, options").records[0]
    assert index["state"] == "ONLINE"
    assert index["options"]["indexConfig"]["vector.dimensions"] == D
    assert index["options"]["indexConfig"]["vector.similarity_function"].lower() == "cosine"
    from neo4j.exceptions import ConstraintError
    with pytest.raises(ConstraintError):
        driver.execute_query("CREATE (:Proposition {id: 'a', text: 'a duplicate'})")


def test_reopening_reads_the_dimension_from_the_index(neo4j_store, neo4j_target):
    neo4j_store.add_propositions([Proposition("a", "x", embedding=vec(1))])
    with neo4j_target.open() as again:
        assert again.dimension == D
        assert again.nearest(vec(1), k=1)[0].proposition.id == "a"
    from ntm.longterm import DimensionMismatch
    with pytest.raises(DimensionMismatch, match="another database"):
        neo4j_target.open(dimension=D + 1)


# ----------------------------------------------------------------------------- fast, clear failures


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_fails_fast_with_what_to_do():
    start = time.monotonic()
    with pytest.raises(LongTermStoreUnavailable) as info:
        open_store("neo4j", uri=f"bolt://127.0.0.1:{_free_port()}", user="neo4j", password="x")
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert "cannot reach Neo4j" in message and "scripts/neo4j/manage.py start" in message and "NEO4J_URI" in message


def test_wrong_password_fails_fast_with_what_to_do(neo4j_target):
    start = time.monotonic()
    try:
        store = neo4j_target.open(password=neo4j_target.password + "-wrong")
    except LongTermStoreUnavailable as exc:
        assert time.monotonic() - start < 5
        assert "wrong user name or password" in str(exc) and "NEO4J_PASSWORD" in str(exc)
        return
    store.close()
    if neo4j_target.server is not None:
        pytest.fail("the throwaway server runs with auth on, yet a wrong password was accepted")
    pytest.skip(f"the server at {neo4j_target.uri} has authentication disabled")


def test_missing_or_bad_settings_say_what_to_do(monkeypatch):
    monkeypatch.delenv("NEO4J_URI", raising=False)
    with pytest.raises(LongTermStoreUnavailable, match="NEO4J_URI is not set"):
        open_store("neo4j")
    with pytest.raises(LongTermStoreUnavailable, match="not a usable Neo4j address"):
        open_store("neo4j", uri="http://127.0.0.1:7474", password="x")
    with pytest.raises(ValueError, match="unknown long-term store backend"):
        open_store("mongodb")


# ----------------------------------------------------------------------------- server lost mid-run


@pytest.fixture
def restartable(neo4j_target, neo4j_manage, tmp_path_factory):
    """A Neo4j target whose server this test may stop: the session's throwaway server, or, when
    the session uses an outside server (NEO4J_URI), a throwaway one of its own."""
    if neo4j_target.server is not None:
        target, own = neo4j_target, None
    else:
        manage = neo4j_manage
        own = manage.Neo4jServer(home=tmp_path_factory.mktemp("neo4j-restart"), exit_with_parent=True)
        try:
            own.start(timeout=240)
        except manage.Neo4jServerError as exc:
            pytest.fail(f"cannot start a throwaway Neo4j server to stop mid-batch: {exc}")
        target = type(neo4j_target)(own.uri, own.user, own.password, own)
    try:
        yield target
    finally:
        if own is not None:
            own.stop()
        else:
            if not target.server.running():
                target.server.start(timeout=240)    # leave the session's server as we found it
            with target.open() as s:
                s.clear()


def _stop_mid_write(target, store, write, count_key: str, at_least: int, kill: bool):
    """Run ``write`` in a thread, stop the server once ``at_least`` items are in, return the error.

    The writer is held before its next batch once ``at_least`` items are out, and let go the
    moment the stop begins: on a fast machine the write would otherwise finish first. Whether
    the batch it then sends meets a dying server mid-transaction or a dead one is left to timing;
    the assertions hold for both.
    """
    errors: list[BaseException] = []
    stopping = threading.Event()
    batches = store._batches

    def gated(items):
        sent = 0
        for batch in batches(items):
            if sent >= at_least:
                stopping.wait(timeout=120)
            yield batch
            sent += len(batch)

    def run():
        try:
            write()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            errors.append(exc)

    store._batches = gated
    try:
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        with target.open() as watcher:
            deadline = time.monotonic() + 120
            while watcher.stats()[count_key] < at_least:
                assert thread.is_alive(), f"the write finished before the server could be stopped ({errors})"
                assert time.monotonic() < deadline, "the write made no progress"
                time.sleep(0.05)
        assert thread.is_alive(), "the writer should be held before its next batch"
        stopped_at = time.monotonic()
        stopping.set()
        target.server.stop(kill=kill)
        thread.join(timeout=60)
    finally:
        stopping.set()
        del store._batches
    assert not thread.is_alive(), "the write did not give up after the server went away"
    assert time.monotonic() - stopped_at < 30
    assert len(errors) == 1, "the write should have failed when the server went away"
    return errors[0]


def _column(target, query: str) -> set:
    """Column ``x`` of a query, through a fresh driver (not the store under test)."""
    from neo4j import GraphDatabase
    with GraphDatabase.driver(target.uri, auth=(target.user, target.password)) as d:
        return {r["x"] for r in d.execute_query(query).records}


def test_server_stopped_mid_batch_loses_nothing_acknowledged_and_duplicates_nothing(restartable):
    # Sizes: enough batches that the stop lands mid-call with margin on a slow machine.
    n, batch = 3_000, 25
    ps = [Proposition(f"k{i:05d}", f"proposition {i}", "en", vec(i)) for i in range(n)]
    rels = [Relation(ps[i].id, ps[j].id, rtype, 0.5) for i in range(n)
            for j, rtype in ((i + 1, "ENTAILS"), (i + 2, "NEUTRAL")) if j < n]
    store = restartable.open(retry_time=2.0, batch_size=batch)
    try:
        store.clear()
        # 1. A crash (SIGKILL) while propositions are being written.
        exc = _stop_mid_write(restartable, store, lambda: store.add_propositions(ps, run="crash"),
                              "propositions", at_least=500, kill=True)
        assert isinstance(exc, LongTermStoreUnavailable), repr(exc)
        # Acknowledged batches; the one in flight may have committed without its answer arriving.
        assert 0 < exc.committed < n and exc.committed % batch == 0
        assert "repeat the same call" in str(exc)
        restartable.server.start(timeout=240)
        present = _column(restartable, "MATCH (p:Proposition) RETURN p.id AS x")
        assert {p.id for p in ps[:exc.committed]} <= present          # every acknowledged batch survived
        assert store.add_propositions(ps, run="crash") == n            # the same store reconnects by itself
        # 2. A clean stop (SIGTERM) while relations are being written.
        exc = _stop_mid_write(restartable, store, lambda: store.add_relations(rels, run="crash"),
                              "relations", at_least=500, kill=False)
        assert isinstance(exc, LongTermStoreUnavailable), repr(exc)
        restartable.server.start(timeout=240)
        present = _column(restartable, "MATCH (a:Proposition)-[r]->(b:Proposition) "
                                        "RETURN a.id + '|' + type(r) + '|' + b.id AS x")
        assert {r.key for r in rels[:exc.committed]} <= present
        store.add_relations(rels, run="crash")
        assert store.stats() == {"propositions": n, "relations": len(rels),
                                 "training_logs": len(range(0, n, batch)) + len(range(0, len(rels), batch))}
        assert _column(restartable, "MATCH (p:Proposition) WITH p.id AS id, count(*) AS c WHERE c > 1 "
                                    "RETURN id AS x") == set()
        assert _column(restartable, "MATCH (a)-[r]->(b) WITH a, b, type(r) AS t, count(r) AS c WHERE c > 1 "
                                    "RETURN a.id AS x") == set()
        assert store.get("k01234").text == "proposition 1234"
    finally:
        store.close()
