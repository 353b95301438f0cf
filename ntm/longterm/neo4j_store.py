"""Neo4j backend: the proposition graph in a Neo4j 5 server, through the official driver.

Schema (created on connect, all ``IF NOT EXISTS``):
  constraint ``proposition_id``   (:Proposition) id IS UNIQUE      -> MERGE never duplicates
  constraint ``training_log_id``  (:TrainingLog) id IS UNIQUE
  range indexes on Proposition.run, TrainingLog.run and the relations' run (clear_run)
  vector index ``proposition_embedding`` on Proposition.embedding, cosine, D dimensions
  (created when D is first known: ``dimension=`` or the first write with embeddings)

Every query is parameterised. The one thing spelled into query text is the relationship type,
taken only from the fixed RELATION_TYPES (Cypher cannot parameterise it in MERGE).
Writes go in batches of ``batch_size`` rows with ``UNWIND``, one transaction per batch,
each batch with its TrainingLog, so a log exists exactly when its writes do.

Failure behaviour:
  * Connecting checks the server at once (``verify_connectivity`` with a short timeout): an
    unreachable server, a bad URI or a wrong password raise LongTermStoreUnavailable in a few
    seconds, with what to do.
  * If the server goes away during a call, the driver retries each batch for ``retry_time``
    seconds; then the call raises LongTermStoreUnavailable. Batches acknowledged before that
    are committed and stay (``exc.committed`` counts their items); nothing is buffered.
    Writes are idempotent MERGEs, so once the server is back, repeating the same call adds
    what is missing and duplicates nothing. The driver reconnects by itself.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from .errors import (
    DimensionMismatch, InvalidGraphData, LongTermStoreError, LongTermStoreUnavailable, UnknownProposition,
)
from .records import (
    RELATION_TYPES, Graph, Link, Neighbour, Proposition, Relation, TrainingLog, as_embedding, check_dimension,
    check_direction, make_log, relation_types,
)
from .store import LongTermStore

VECTOR_INDEX = "proposition_embedding"
BOLT_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")
WHAT_TO_DO = ("start a server (python scripts/neo4j/manage.py start, or docker compose up -d) "
              "or fix NEO4J_URI, NEO4J_USER and NEO4J_PASSWORD (in the app: .streamlit/secrets.toml)")

_SCHEMA = {   # name -> statement (a constraint's backing index has the constraint's name)
    "proposition_id": "CREATE CONSTRAINT proposition_id IF NOT EXISTS FOR (p:Proposition) REQUIRE p.id IS UNIQUE",
    "training_log_id": "CREATE CONSTRAINT training_log_id IF NOT EXISTS FOR (l:TrainingLog) REQUIRE l.id IS UNIQUE",
    "sequence_name": "CREATE CONSTRAINT sequence_name IF NOT EXISTS FOR (s:NtmSequence) REQUIRE s.name IS UNIQUE",
    "proposition_run": "CREATE INDEX proposition_run IF NOT EXISTS FOR (p:Proposition) ON (p.run)",
    "training_log_run": "CREATE INDEX training_log_run IF NOT EXISTS FOR (l:TrainingLog) ON (l.run)",
    **{f"{t.lower()}_run": f"CREATE INDEX {t.lower()}_run IF NOT EXISTS FOR ()-[r:{t}]-() ON (r.run)"
       for t in RELATION_TYPES},
}
_ALL_TYPES = "|".join(RELATION_TYPES)

# p.idx: 0, 1, 2, ... in the order propositions were first written (the dual-memory fork's
# ``n.idx``), from one counter node whose row lock serialises concurrent writers. The lock is
# taken (SET then REMOVE of a dummy property) before s.next is first read: otherwise two
# transactions can read the same s.next and number two propositions alike (measured with two
# writers of 10,000 rows: 9,998-9,999 distinct idx, and with small batches a deadlock error;
# tests/longterm/test_neo4j_bulk.py).
_WRITE_PROPOSITIONS = """
MERGE (s:NtmSequence {name: 'proposition idx'})
  ON CREATE SET s.next = 0
SET s._lock = true REMOVE s._lock
WITH s
UNWIND $rows AS row
MERGE (p:Proposition {id: row.id})
  ON CREATE SET p.run = row.run, p.idx = s.next, s.next = s.next + 1
SET p.text = row.text, p.language = row.language, p.embedding = row.embedding
"""
# {type} is one of RELATION_TYPES, never caller text.
_WRITE_RELATIONS = """
UNWIND $rows AS row
MATCH (a:Proposition {{id: row.source}})
MATCH (b:Proposition {{id: row.target}})
MERGE (a)-[r:{type}]->(b)
  ON CREATE SET r.run = row.run
SET r.confidence = row.confidence
RETURN count(r) AS written
"""
_WRITE_LOGS = """
UNWIND $logs AS log
MERGE (l:TrainingLog {id: log.id})
  ON CREATE SET l.run = log.run, l.timestamp = log.timestamp, l.kind = log.kind, l.count = log.count,
                l.proposition_ids = log.proposition_ids, l.relation_keys = log.relation_keys
WITH l, log
OPTIONAL MATCH (p:Proposition {id: log.first})
SET l.source_idx = p.idx, l.proposition = p.text
"""
_MISSING_IDS = """
UNWIND $ids AS id
OPTIONAL MATCH (p:Proposition {id: id})
WITH id, p WHERE p IS NULL
RETURN collect(id) AS missing
"""


def _log_row(log: TrainingLog, first: str | None = None) -> dict[str, Any]:
    """A log as written: its JSON plus ``first``, the id of the proposition it starts from (the
    first one written, or the source of the first relation; for an imported log, read from its
    first relation key). The node's ``source_idx`` and ``proposition`` (the dual-memory fork's
    TrainingLog fields) are that proposition's ``idx`` and text."""
    if first is None:
        first = log.proposition_ids[0] if log.proposition_ids else (
            log.relation_keys[0].split("|", 1)[0] if log.relation_keys else None)
    return {**log.to_json(), "first": first}


_PROPOSITION_FIELDS = "{id: p.id, text: p.text, language: p.language, embedding: p.embedding, run: p.run}"


def _settings(uri, user, password, database) -> tuple[str, str, str, str | None]:
    uri = uri or os.environ.get("NEO4J_URI")
    if not uri:
        raise LongTermStoreUnavailable(f"no Neo4j server configured: NEO4J_URI is not set; {WHAT_TO_DO}")
    return (uri, user or os.environ.get("NEO4J_USER") or "neo4j",
            password if password is not None else os.environ.get("NEO4J_PASSWORD", ""),
            database or os.environ.get("NEO4J_DATABASE") or None)


def neo4j_settings(secrets: Mapping[str, Any] | None = None,
                   environ: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """``{"uri", "user", "password"}`` for a Neo4j store: from NEO4J_URI / NEO4J_USER /
    NEO4J_PASSWORD when NEO4J_URI is set, else from ``secrets`` (the app's secrets.toml:
    a ``[neo4j]`` table with ``uri``, ``user``, ``password``, or top-level ``NEO4J_*`` keys)."""
    environ = os.environ if environ is None else environ
    settings = {k: environ.get(f"NEO4J_{k.upper()}") for k in ("uri", "user", "password")}
    if not settings["uri"] and secrets:
        table = secrets.get("neo4j")
        table = table if isinstance(table, Mapping) else {}
        settings = {k: table.get(k) or secrets.get(f"NEO4J_{k.upper()}") for k in settings}
    return {k: None if v is None else str(v) for k, v in settings.items()}


class _Rows(list):
    """Query rows with a short repr. The driver (6.4) formats every RUN's parameters for its
    debug log even when nothing logs (``" ".join(map(repr, fields))``): for 1,000 rows of 384-dim
    embeddings that took longer than sending them (see bench/README.md)."""

    def __repr__(self) -> str:
        return f"<{len(self)} rows>"


def _row_to_proposition(row: dict) -> Proposition:
    emb = row.get("embedding")
    return Proposition(row["id"], row["text"] if row.get("text") is not None else "", row.get("language"),
                       None if emb is None else np.asarray(emb, dtype=np.float32), row.get("run"))


class Neo4jStore(LongTermStore):
    """``Neo4jStore(uri=None, user=None, password=None, database=None, dimension=None,
    connect_timeout=5.0, retry_time=5.0, batch_size=1000)``; unset connection settings come
    from NEO4J_URI / NEO4J_USER (default ``neo4j``) / NEO4J_PASSWORD / NEO4J_DATABASE."""

    backend = "neo4j"

    def __init__(self, uri: str | None = None, user: str | None = None, password: str | None = None,
                 database: str | None = None, dimension: int | None = None, connect_timeout: float = 5.0,
                 retry_time: float = 5.0, batch_size: int = 1000):
        import neo4j
        from neo4j import GraphDatabase

        self._neo4j = neo4j
        self.uri, self.user, password, self.database = _settings(uri, user, password, database)
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = batch_size
        scheme = self.uri.split("://", 1)[0].lower() if "://" in self.uri else ""
        if scheme not in BOLT_SCHEMES:
            raise LongTermStoreUnavailable(
                f"NEO4J_URI {self.uri!r} is not a usable Neo4j address: use a Bolt address such as "
                "bolt://127.0.0.1:7687 or neo4j://host:7687 (not the browser's http port)")
        try:
            self._driver = GraphDatabase.driver(
                self.uri, auth=(self.user, password), connection_timeout=connect_timeout,
                connection_acquisition_timeout=connect_timeout, max_transaction_retry_time=retry_time,
                telemetry_disabled=True, user_agent="ntm-explorer-longterm",
                notifications_min_severity="OFF")     # no "property does not exist yet" chatter in logs
        except (ValueError, neo4j.exceptions.ConfigurationError) as exc:
            raise LongTermStoreUnavailable(f"NEO4J_URI {self.uri!r} is not a usable Neo4j address ({exc}); "
                                           "expected e.g. bolt://127.0.0.1:7687 or neo4j://host:7687") from None
        try:
            with self._translate("connecting"):
                self._driver.verify_connectivity()
            self._dimension: int | None = None
            self._fixed_dimension = dimension
            self._ensure_schema(dimension)
        except BaseException:
            self._driver.close()
            raise

    # -- errors ----------------------------------------------------------------------
    @contextmanager
    def _translate(self, doing: str, committed: int = 0, total: int | None = None) -> Iterator[None]:
        """Driver exceptions -> our errors, with what to do."""
        exc_mod = self._neo4j.exceptions
        try:
            yield
        except exc_mod.AuthError:
            raise LongTermStoreUnavailable(
                f"Neo4j at {self.uri} refused user {self.user!r}: wrong user name or password; "
                "set NEO4J_USER and NEO4J_PASSWORD (in the app: .streamlit/secrets.toml)", committed) from None
        except (exc_mod.ServiceUnavailable, exc_mod.SessionExpired, exc_mod.IncompleteCommit,
                exc_mod.DatabaseUnavailable, exc_mod.ConnectionAcquisitionTimeoutError, OSError) as exc:
            done = ""
            if total is not None:
                done = (f" after {committed} of {total} items were committed (they stay; writes are idempotent, "
                        "so repeat the same call once the server is back: nothing will be duplicated)")
            raise LongTermStoreUnavailable(
                f"cannot reach Neo4j at {self.uri} while {doing}{done} ({_first_line(exc)}); {WHAT_TO_DO}",
                committed) from None
        except exc_mod.Neo4jError as exc:
            raise LongTermStoreError(f"Neo4j at {self.uri} rejected a query while {doing}: "
                                     f"{exc.code}: {_first_line(exc)}") from None

    def _run(self, query: str, doing: str, **params: Any) -> list[dict]:
        """One auto-retried query; records as dicts."""
        with self._translate(doing):
            records, _, _ = self._driver.execute_query(query, params, database_=self.database)
        return [r.data() for r in records]

    def _write_tx(self, work: Callable[[Any], Any]) -> Any:
        with self._driver.session(database=self.database) as session:
            return session.execute_write(work)

    def _read_tx(self, work: Callable[[Any], Any]) -> Any:
        with self._driver.session(database=self.database) as session:
            return session.execute_read(work)

    # -- schema ----------------------------------------------------------------------
    def _ensure_schema(self, dimension: int | None) -> None:
        existing = set(self._run("SHOW INDEXES YIELD name RETURN collect(name) AS names", "reading the schema")[0]["names"])
        for name, statement in _SCHEMA.items():
            if name in existing:
                continue
            try:
                self._run(statement, "creating the schema")
            except LongTermStoreError as exc:
                if name.endswith("_id"):
                    raise LongTermStoreError(
                        f"{exc}. The database may already hold nodes with the same id (written by another "
                        "program); clear them or use another database (NEO4J_DATABASE)") from None
                raise
        self._dimension = self._index_dimension()
        if dimension is not None:
            if self._dimension is not None and self._dimension != dimension:
                raise DimensionMismatch(
                    f"the Neo4j vector index {VECTOR_INDEX} holds {self._dimension}-dim embeddings but "
                    f"dimension={dimension} was asked for; use another database for another embedding model")
            self._create_vector_index(dimension)

    def _index_dimension(self) -> int | None:
        rows = self._run("SHOW VECTOR INDEXES YIELD name, options WHERE name = $name RETURN options",
                         "reading the vector index", name=VECTOR_INDEX)
        if not rows:
            return None
        return int(rows[0]["options"]["indexConfig"]["vector.dimensions"])

    def _create_vector_index(self, dimension: int) -> None:
        if self._dimension == dimension:
            return
        self._run(
            f"CREATE VECTOR INDEX {VECTOR_INDEX} IF NOT EXISTS FOR (p:Proposition) ON p.embedding "
            "OPTIONS {indexConfig: {`vector.dimensions`: $dimension, `vector.similarity_function`: 'cosine'}}",
            "creating the vector index", dimension=int(dimension))
        self._run("CALL db.awaitIndex($name, 300)", "waiting for the vector index", name=VECTOR_INDEX)
        self._dimension = self._index_dimension()
        if self._dimension != dimension:
            raise DimensionMismatch(f"the vector index {VECTOR_INDEX} has {self._dimension} dimensions, not {dimension}")

    @property
    def dimension(self) -> int | None:
        return self._dimension

    # -- writing ---------------------------------------------------------------------
    def _batches(self, items: Sequence[Any]) -> Iterator[Sequence[Any]]:
        for start in range(0, len(items), self.batch_size):
            yield items[start:start + self.batch_size]

    def _write_propositions(self, props: list[Proposition], log: bool) -> int:
        dim = check_dimension(props, self._dimension)
        if dim is not None and dim != self._dimension:
            self._create_vector_index(dim)
        committed = 0
        for batch in self._batches(props):
            rows = _Rows({"id": p.id, "text": p.text, "language": p.language, "run": p.run,
                          "embedding": None if p.embedding is None else p.embedding.tolist()} for p in batch)
            logs = [_log_row(make_log(run, "propositions", proposition_ids=[p.id for p in batch if p.run == run]))
                    for run in sorted({p.run for p in batch})] if log else []

            def work(tx, rows=rows, logs=logs):
                tx.run(_WRITE_PROPOSITIONS, rows=rows).consume()
                if logs:
                    tx.run(_WRITE_LOGS, logs=logs).consume()

            with self._translate("writing propositions", committed=committed, total=len(props)):
                self._write_tx(work)
            committed += len(batch)
        return committed

    def _write_relations(self, rels: list[Relation], log: bool) -> int:
        ids = sorted({end for r in rels for end in (r.source, r.target)})
        with self._translate("checking relation ends"):
            missing = self._read_tx(lambda tx: tx.run(_MISSING_IDS, ids=ids).single()["missing"])
        if missing:
            raise UnknownProposition(
                f"relations name {len(missing)} proposition id(s) not in the store, e.g. {missing[0]!r}; "
                "add the propositions first (nothing of this batch was written)")
        committed = 0
        for batch in self._batches(rels):
            by_type = {t: [{"source": r.source, "target": r.target, "confidence": r.confidence, "run": r.run}
                           for r in batch if r.type == t] for t in RELATION_TYPES}
            logs = [_log_row(make_log(run, "relations", relation_keys=[r.key for r in batch if r.run == run]),
                             first=next(r.source for r in batch if r.run == run))
                    for run in sorted({r.run for r in batch})] if log else []

            def work(tx, by_type=by_type, logs=logs):
                for rtype, rows in by_type.items():
                    if rows:
                        written = tx.run(_WRITE_RELATIONS.format(type=rtype), rows=rows).single()["written"]
                        if written != len(rows):   # an end was deleted since the check: write nothing
                            raise UnknownProposition(
                                f"{len(rows) - written} relation end(s) vanished while writing; nothing of this "
                                "batch was written")
                if logs:
                    tx.run(_WRITE_LOGS, logs=logs).consume()

            with self._translate("writing relations", committed=committed, total=len(rels)):
                self._write_tx(work)
            committed += len(batch)
        return committed

    def _write_logs(self, logs: list[TrainingLog]) -> None:
        for batch in self._batches(logs):
            rows = [_log_row(g) for g in batch]
            with self._translate("writing training logs"):
                self._write_tx(lambda tx, rows=rows: tx.run(_WRITE_LOGS, logs=rows).consume())

    def _delete_in_batches(self, query: str, doing: str, **params: Any) -> int:
        total = 0
        while True:
            n = self._run(query, doing, limit=10_000, **params)[0]["n"]
            total += n
            if n == 0:
                return total

    def clear_run(self, run: str) -> dict[str, int]:
        """Delete in batches of 10,000 (one transaction each); after an interruption, calling
        it again finishes the job."""
        rels = self._delete_in_batches(
            f"MATCH (a:Proposition)-[r:{_ALL_TYPES}]->(b:Proposition) "
            "WHERE r.run = $run OR a.run = $run OR b.run = $run WITH r LIMIT $limit DELETE r RETURN count(*) AS n",
            "clearing a run", run=run)
        props = self._delete_in_batches(
            "MATCH (p:Proposition {run: $run}) WITH p LIMIT $limit DETACH DELETE p RETURN count(*) AS n",
            "clearing a run", run=run)
        logs = self._delete_in_batches(
            "MATCH (l:TrainingLog {run: $run}) WITH l LIMIT $limit DELETE l RETURN count(*) AS n",
            "clearing a run", run=run)
        return {"propositions": props, "relations": rels, "training_logs": logs}

    def clear(self) -> None:
        """Delete our propositions (those with an id), their relations and our training logs,
        and the vector index: D is unset again (or back to ``dimension=`` given at open)."""
        self._delete_in_batches("MATCH (p:Proposition) WHERE p.id IS NOT NULL WITH p LIMIT $limit "
                                "DETACH DELETE p RETURN count(*) AS n", "clearing the store")
        self._delete_in_batches("MATCH (l:TrainingLog) WHERE l.id IS NOT NULL WITH l LIMIT $limit "
                                "DELETE l RETURN count(*) AS n", "clearing the store")
        self._run("MATCH (s:NtmSequence {name: 'proposition idx'}) DELETE s", "clearing the store")   # idx from 0
        self._run(f"DROP INDEX {VECTOR_INDEX} IF EXISTS", "dropping the vector index")
        self._dimension = None
        if self._fixed_dimension is not None:
            self._create_vector_index(self._fixed_dimension)

    # -- reading ---------------------------------------------------------------------
    def get(self, proposition_id: str) -> Proposition | None:
        rows = self._run(f"MATCH (p:Proposition {{id: $id}}) RETURN {_PROPOSITION_FIELDS} AS p",
                         "reading a proposition", id=proposition_id)
        return _row_to_proposition(rows[0]["p"]) if rows else None

    def nearest(self, vector: Any, k: int = 5) -> list[Neighbour]:
        """Best first. The vector index (HNSW, approximate) proposes max(10k, 100) candidates;
        the server re-scores them with exact cosine and returns the top k, whose scores are
        then recomputed in float32 like the embedded backend (recall@10 ~0.99 on 10,000
        random 384-dim vectors, see bench/bench_longterm.py)."""
        q = as_embedding(vector, what="query vector")
        if self._dimension is None or k <= 0:
            return []
        if q.shape[0] != self._dimension:
            raise InvalidGraphData(f"query vector has {q.shape[0]} values, the store's embeddings have {self._dimension}")
        rows = self._run(
            "CALL db.index.vector.queryNodes($index, $candidates, $vector) YIELD node AS p "
            "WITH p, vector.similarity.cosine(p.embedding, $vector) AS similarity "
            "ORDER BY similarity DESC, p.id LIMIT $k "
            f"RETURN {_PROPOSITION_FIELDS} AS p",
            "searching nearest propositions", index=VECTOR_INDEX, candidates=max(10 * k, 100), k=k,
            vector=[float(x) for x in q])
        props = [_row_to_proposition(r["p"]) for r in rows]
        props = [p for p in props if p.embedding is not None]
        if not props:
            return []
        m = np.stack([p.embedding for p in props])
        scores = (m / np.linalg.norm(m, axis=1, keepdims=True)) @ (q / np.linalg.norm(q))
        order = sorted(range(len(props)), key=lambda i: (-scores[i], props[i].id))[:k]
        return [Neighbour(props[i], float(scores[i])) for i in order]

    def neighbours(self, proposition_id: str, relation: str | Sequence[str] | None = None,
                   direction: str = "out") -> list[Link]:
        types = list(relation_types(relation))
        patterns = {"out": ["(a)-[r]->(b:Proposition)"], "in": ["(a)<-[r]-(b:Proposition)"],
                    "both": ["(a)-[r]->(b:Proposition)", "(a)<-[r]-(b:Proposition)"]}
        check_direction(direction)
        rows_all: list[dict] = []
        for pattern in patterns[direction]:
            rows = self._run(
                "MATCH (a:Proposition {id: $id}) "
                f"OPTIONAL MATCH {pattern} WHERE type(r) IN $types AND b.id IS NOT NULL "
                f"RETURN a.id AS a, startNode(r).id AS source, endNode(r).id AS target, type(r) AS type, "
                "r.confidence AS confidence, r.run AS run, "
                "CASE WHEN b IS NULL THEN null ELSE b{.id, .text, .language, .embedding, .run} END AS b",
                "following relations", id=proposition_id, types=types)
            if not rows:
                raise UnknownProposition(f"no proposition with id {proposition_id!r} in the store")
            rows_all += [r for r in rows if r["b"] is not None]
        links = [Link(Relation(r["source"], r["target"], r["type"], _confidence(r["confidence"]), r["run"]),
                      _row_to_proposition(r["b"])) for r in rows_all]
        links.sort(key=lambda link: (link.relation.type, link.proposition.id, link.relation.source))
        return links

    def graph(self, include_embeddings: bool = True) -> Graph:
        emb = ".embedding, " if include_embeddings else ""
        nodes = self._run(f"MATCH (p:Proposition) WHERE p.id IS NOT NULL RETURN p{{.id, .text, .language, {emb}.run}} AS p",
                          "reading the graph")
        edges = self._run(
            f"MATCH (a:Proposition)-[r:{_ALL_TYPES}]->(b:Proposition) WHERE a.id IS NOT NULL AND b.id IS NOT NULL "
            "RETURN a.id AS source, b.id AS target, type(r) AS type, r.confidence AS confidence, r.run AS run",
            "reading the graph")
        logs = self._run("MATCH (l:TrainingLog) WHERE l.id IS NOT NULL RETURN l{.*} AS l", "reading the graph")
        return Graph(
            [_row_to_proposition(r["p"]) for r in nodes],
            [Relation(r["source"], r["target"], r["type"], _confidence(r["confidence"]), r["run"]) for r in edges],
            [TrainingLog(g["id"], g.get("run") or "", g.get("timestamp") or "", g.get("kind") or "",
                         int(g.get("count") or 0), tuple(g.get("proposition_ids") or ()),
                         tuple(g.get("relation_keys") or ())) for g in (r["l"] for r in logs)],
        ).sort()

    def runs(self) -> list[str]:
        rows = self._run(
            "MATCH (p:Proposition) WHERE p.id IS NOT NULL RETURN DISTINCT p.run AS run "
            f"UNION MATCH (:Proposition)-[r:{_ALL_TYPES}]->(:Proposition) RETURN DISTINCT r.run AS run "
            "UNION MATCH (l:TrainingLog) WHERE l.id IS NOT NULL RETURN DISTINCT l.run AS run", "listing runs")
        return sorted(r["run"] for r in rows if r["run"])

    def stats(self) -> dict[str, int]:
        row = self._run(
            "RETURN COUNT { MATCH (p:Proposition) WHERE p.id IS NOT NULL } AS propositions, "
            f"COUNT {{ MATCH (a:Proposition)-[r:{_ALL_TYPES}]->(b:Proposition) "
            "WHERE a.id IS NOT NULL AND b.id IS NOT NULL } AS relations, "
            "COUNT { MATCH (l:TrainingLog) WHERE l.id IS NOT NULL } AS training_logs", "counting")[0]
        return {k: int(v) for k, v in row.items()}

    def close(self) -> None:
        self._driver.close()

    def __repr__(self) -> str:
        return f"Neo4jStore(uri={self.uri!r}, database={self.database!r})"


def _confidence(value: Any) -> float:
    """Relations written by other programs (the fork) carry no confidence: read as 1.0."""
    return 1.0 if value is None else min(1.0, max(0.0, float(value)))


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
