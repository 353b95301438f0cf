"""The default embedded backend: the proposition graph in one SQLite database, no server.

``SQLiteStore(path=None, dimension=None)``; the database is ``<data dir>/longterm/graph.sqlite3``
unless ``path`` says otherwise (a path ending in ``.json`` names a legacy JSON store: the
database is then the ``.sqlite3`` file beside it).

Tables (SQLite from the standard library, WAL journal, ``synchronous=FULL``)::

    propositions(rid INTEGER PRIMARY KEY, id TEXT UNIQUE, text, language, run,
                 embedding BLOB,            -- D little-endian float32, or NULL
                 vseq INTEGER)              -- the write that last set it (vector_index.py)
    relations(source rid, type, target rid, confidence, run)   PRIMARY KEY (source, type, target)
    training_logs(id TEXT PRIMARY KEY, run, timestamp, kind, count, proposition_ids JSON, relation_keys JSON)
    deleted_vectors(seq, rid)               -- tombstones, so an index can catch up on deletions
    meta(key, value)                        -- format, version, generation, seq, dimension, ...

Every write call is one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``): it is on disk (the
WAL fsynced) before the call returns, and a crash at any moment leaves the database as it
was before or after the call, never between. Writes change only the rows they touch, so a
single add costs well under a millisecond of SQL whatever the graph's size. Several processes
may use one database: SQLite serialises the writers (waiting up to ``busy_timeout`` s) and
every read sees the latest commit.

Nearest-neighbour search runs on an index in memory (``vector_index``: exact NumPy scan up to
20,000 embeddings, sign bits scanned by Hamming distance and re-scored in int8 above), built from
the database by the first query and caught up with it before each one. Candidates are re-scored
from the stored float32 vectors, so scores are exact cosines in every case.

Migration: if the legacy JSON store (``graph.json``, ``EmbeddedStore``) exists beside the
database and has changed since it was last read, its whole content is written into the
database in one transaction on open (training logs kept as they were; existing rows are
updated, as a write of the same items would). The JSON file is left as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from . import vector_index
from .errors import (
    DimensionMismatch, InvalidGraphData, LongTermStoreCorrupt, LongTermStoreError, UnknownProposition,
)
from .paths import default_store_path, shown_path
from .records import (
    Graph, Link, Neighbour, Proposition, Relation, TrainingLog, as_embedding, check_dimension,
    check_direction, make_log, relation_types,
)
from .store import LongTermStore

DB_FORMAT = "ntm-explorer/longterm-sqlite"
DB_VERSION = 1
DB_SUFFIX = ".sqlite3"
BUSY_TIMEOUT_S = 60.0          # a writer waits this long for another process's write to finish
OVERFETCH = 10                 # candidates asked of the index beyond k, re-scored exactly
_BUILD_CHUNK = 50_000          # embeddings read at a time when an index is built (bounds the memory)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS propositions(
    rid INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, text TEXT NOT NULL, language TEXT,
    run TEXT NOT NULL, embedding BLOB, vseq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS propositions_run ON propositions(run);
CREATE INDEX IF NOT EXISTS propositions_vseq ON propositions(vseq);
CREATE TABLE IF NOT EXISTS relations(
    source INTEGER NOT NULL, type TEXT NOT NULL, target INTEGER NOT NULL, confidence REAL NOT NULL,
    run TEXT NOT NULL, PRIMARY KEY(source, type, target)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS relations_target ON relations(target);
CREATE INDEX IF NOT EXISTS relations_run ON relations(run);
CREATE TABLE IF NOT EXISTS training_logs(
    id TEXT PRIMARY KEY, run TEXT NOT NULL, timestamp TEXT NOT NULL, kind TEXT NOT NULL, count INTEGER NOT NULL,
    proposition_ids TEXT NOT NULL, relation_keys TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS training_logs_run ON training_logs(run);
CREATE TABLE IF NOT EXISTS deleted_vectors(seq INTEGER NOT NULL, rid INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS deleted_vectors_seq ON deleted_vectors(seq);
"""
_PROPOSITION = "p.id, p.text, p.language, p.embedding, p.run"
_UPSERT_PROPOSITION = """
INSERT INTO propositions(id, text, language, run, embedding, vseq) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT(id) DO UPDATE SET text = excluded.text, language = excluded.language,
                              embedding = excluded.embedding, vseq = excluded.vseq
"""
_UPSERT_RELATION = """
INSERT INTO relations(source, type, target, confidence, run) VALUES (?, ?, ?, ?, ?)
ON CONFLICT(source, type, target) DO UPDATE SET confidence = excluded.confidence
"""
_INSERT_LOG = "INSERT OR IGNORE INTO training_logs VALUES (?, ?, ?, ?, ?, ?, ?)"
_IN_CHUNK = 500                # ids per "IN (?, ...)" (SQLite allows 32,766 parameters)


def database_path(path: str | os.PathLike | None) -> tuple[Path, Path]:
    """(the database, the legacy JSON store that migrates into it) for a store ``path``."""
    path = Path(path) if path is not None else default_store_path()
    if path.suffix == ".json":
        return path.with_suffix(DB_SUFFIX), path
    return path, path.with_suffix(".json")


def _blob(v: np.ndarray | None) -> bytes | None:
    return None if v is None else v.astype("<f4").tobytes()


def _vector(blob: bytes | None) -> np.ndarray | None:
    return None if blob is None else np.frombuffer(blob, dtype="<f4").astype(np.float32)


def _proposition(row: Sequence[Any]) -> Proposition:
    return Proposition(row[0], row[1], row[2], _vector(row[3]), row[4])


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


class SQLiteStore(LongTermStore):
    """The default backend (``open_store()`` / ``open_store("embedded")``).

    ``path``: the database (default ``<data dir>/longterm/graph.sqlite3``; a ``.json`` path
    means the ``.sqlite3`` beside it). ``dimension`` optionally fixes D up front.
    ``exact_limit``: below this many embeddings nearest() scans them all exactly.
    """

    backend = "embedded"

    def __init__(self, path: str | os.PathLike | None = None, dimension: int | None = None,
                 exact_limit: int = vector_index.EXACT_LIMIT):
        self.path, self.legacy_path = database_path(path)
        self._fixed_dimension = dimension
        self.exact_limit = exact_limit
        self._lock = threading.RLock()
        self._index: vector_index.ExactIndex | vector_index.BinaryIndex | None = None
        self._index_at: tuple[str, int] | None = None       # (generation, seq) the index has applied
        self._db: sqlite3.Connection | None = None
        with self._disk("open"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = self._connect()
        with contextlib.suppress(OSError):      # indexes saved by earlier versions: rebuilt now, not read
            vector_index.remove_old_files(self.path)
        try:
            self._migrate_legacy()
            have = self._meta("dimension")
            if dimension is not None and have is not None and have != dimension:
                raise DimensionMismatch(
                    f"{shown_path(self.path)} holds {have}-dim embeddings but dimension={dimension} was asked "
                    "for; use another file for another embedding model")
        except BaseException:
            self._db.close()
            raise

    # -- the database ----------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        where = shown_path(self.path)
        try:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise LongTermStoreError(f"cannot open the long-term store {where} ({exc}); check the folder's "
                                     "permissions") from None
        try:
            with self._translate("open"):
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")      # the WAL is fsynced at every commit
                db.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    fmt = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
                    if fmt is None:
                        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                        db.executemany("INSERT INTO meta VALUES (?, ?)", [
                            ("format", DB_FORMAT), ("version", DB_VERSION), ("generation", uuid.uuid4().hex),
                            ("seq", 0)])
                        if tables - {"meta", "propositions", "relations", "training_logs", "deleted_vectors",
                                     "sqlite_sequence"}:
                            raise LongTermStoreCorrupt(
                                f"{where} is an SQLite database of another program; use another file")
                    elif fmt[0] != DB_FORMAT:
                        raise LongTermStoreCorrupt(f"{where} is an SQLite database of another program; "
                                                   "use another file")
                    else:
                        version = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
                        if version is None or version[0] != DB_VERSION:
                            raise LongTermStoreCorrupt(
                                f"{where}: database version {version and version[0]!r} is not supported "
                                f"(this code reads version {DB_VERSION})")
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
        except BaseException:
            db.close()
            raise
        return db

    @contextlib.contextmanager
    def _translate(self, doing: str) -> Iterator[None]:
        """SQLite and OS errors -> our errors, with what to do."""
        where = shown_path(self.path)
        try:
            yield
        except sqlite3.DatabaseError as exc:
            text = str(exc)
            if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
                raise LongTermStoreError(
                    f"the long-term store {where} is busy: another process kept it locked for over "
                    f"{BUSY_TIMEOUT_S:.0f} s; retry (nothing of this call was saved)") from None
            if "not a database" in text or "malformed" in text or "corrupt" in text:
                raise LongTermStoreCorrupt(
                    f"cannot read the long-term store {where} ({text}); move the file aside to start an empty "
                    "store, or restore it from an export") from None
            raise LongTermStoreError(
                f"cannot {doing} the long-term store {where} ({text}); free some space or fix the folder's "
                "permissions, then retry (nothing of this call was saved)") from None
        except OSError as exc:
            raise LongTermStoreError(
                f"cannot {doing} the long-term store {where} ({exc.strerror or exc}); free some space or fix "
                "the folder's permissions, then retry (nothing of this call was saved)") from None

    _disk = _translate

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise LongTermStoreError("the long-term store was closed; open it again")
        return self._db

    @contextlib.contextmanager
    def _writing(self) -> Iterator[tuple[sqlite3.Cursor, int]]:
        """One write transaction: (a cursor, this write's sequence number). Committed (and
        fsynced) when the block ends, rolled back entirely if it raises."""
        with self._lock, self._translate("write"):
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                cur = db.cursor()
                seq = cur.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()[0] + 1
                cur.execute("UPDATE meta SET value = ? WHERE key = 'seq'", (seq,))
                yield cur, seq
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Cursor]:
        """One read transaction: everything read in the block is one consistent snapshot."""
        with self._lock, self._translate("read"):
            db = self._conn()
            db.execute("BEGIN")
            try:
                yield db.cursor()
            finally:
                if db.in_transaction:
                    db.execute("COMMIT")

    def _meta(self, key: str, cur: sqlite3.Cursor | None = None) -> Any:
        row = (cur or self._conn()).execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    @staticmethod
    def _set_meta(cur: sqlite3.Cursor, key: str, value: Any) -> None:
        cur.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, value))

    # -- migration from the JSON store -------------------------------------------------
    def _migrate_legacy(self) -> None:
        """Write the legacy JSON store into the database if it changed since it was last read."""
        try:
            st = os.stat(self.legacy_path)
        except FileNotFoundError:
            return
        except OSError:
            return
        stamp = f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
        if self._meta("legacy_stamp") == stamp:
            return
        from .embedded import EmbeddedStore

        legacy = EmbeddedStore(self.legacy_path)      # LongTermStoreCorrupt says to move it aside
        graph, dim = legacy.graph(include_embeddings=True), legacy.dimension
        legacy.close()
        with self._writing() as (cur, seq):
            if self._meta("legacy_stamp", cur) == stamp:           # another process did it meanwhile
                return
            have = self._dimension(cur)
            if dim is not None and have is not None and dim != have:
                raise DimensionMismatch(
                    f"{shown_path(self.legacy_path)} holds {dim}-dim embeddings but {shown_path(self.path)} "
                    f"holds {have}-dim ones; move one of them aside")
            if graph.nodes:
                self._put_propositions(cur, seq, graph.nodes, log=False)
            if graph.edges:
                self._put_relations(cur, graph.edges, log=False)
            self._put_logs(cur, graph.training_logs)
            if dim is not None and have is None:
                self._set_meta(cur, "dimension", dim)
            self._set_meta(cur, "legacy_stamp", stamp)

    # -- writing ---------------------------------------------------------------------
    def _dimension(self, cur: sqlite3.Cursor) -> int | None:
        d = self._meta("dimension", cur)
        return d if d is not None else self._fixed_dimension

    def _put_propositions(self, cur: sqlite3.Cursor, seq: int, props: list[Proposition], log: bool) -> None:
        dim = check_dimension(props, self._dimension(cur))
        if dim is not None and self._meta("dimension", cur) is None:
            self._set_meta(cur, "dimension", dim)
        cur.executemany(_UPSERT_PROPOSITION,
                        ((p.id, p.text, p.language, p.run, _blob(p.embedding), seq) for p in props))
        if log:
            self._put_logs(cur, [make_log(run, "propositions", proposition_ids=[p.id for p in props if p.run == run])
                                 for run in sorted({p.run for p in props})])

    def _rids(self, cur: sqlite3.Cursor, ids: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for chunk in _chunks(ids):
            found.update(cur.execute(f"SELECT id, rid FROM propositions WHERE id IN ({_marks(len(chunk))})", chunk))
        return found

    def _put_relations(self, cur: sqlite3.Cursor, rels: list[Relation], log: bool) -> None:
        ends = sorted({end for r in rels for end in (r.source, r.target)})
        rid = self._rids(cur, ends)
        missing = [end for end in ends if end not in rid]
        if missing:
            raise UnknownProposition(
                f"relations name {len(missing)} proposition id(s) not in the store, e.g. {missing[0]!r}; "
                "add the propositions first (nothing of this batch was written)")
        cur.executemany(_UPSERT_RELATION,
                        ((rid[r.source], r.type, rid[r.target], r.confidence, r.run) for r in rels))
        if log:
            self._put_logs(cur, [make_log(run, "relations", relation_keys=[r.key for r in rels if r.run == run])
                                 for run in sorted({r.run for r in rels})])

    @staticmethod
    def _put_logs(cur: sqlite3.Cursor, logs: list[TrainingLog]) -> None:
        cur.executemany(_INSERT_LOG, ((g.id, g.run, g.timestamp, g.kind, g.count, json.dumps(list(g.proposition_ids)),
                                       json.dumps(list(g.relation_keys))) for g in logs))

    def _write_propositions(self, props: list[Proposition], log: bool) -> int:
        with self._writing() as (cur, seq):
            self._put_propositions(cur, seq, props, log)
        return len(props)

    def _write_relations(self, rels: list[Relation], log: bool) -> int:
        with self._writing() as (cur, _):
            self._put_relations(cur, rels, log)
        return len(rels)

    def _write_logs(self, logs: list[TrainingLog]) -> None:
        with self._writing() as (cur, _):
            self._put_logs(cur, logs)

    def clear_run(self, run: str) -> dict[str, int]:
        with self._writing() as (cur, seq):
            owned = "SELECT rid FROM propositions WHERE run = ?"
            rels = cur.execute(f"DELETE FROM relations WHERE run = ? OR source IN ({owned}) OR target IN ({owned})",
                               (run, run, run)).rowcount
            cur.execute("INSERT INTO deleted_vectors SELECT ?, rid FROM propositions "
                        "WHERE run = ? AND embedding IS NOT NULL", (seq, run))
            props = cur.execute("DELETE FROM propositions WHERE run = ?", (run,)).rowcount
            logs = cur.execute("DELETE FROM training_logs WHERE run = ?", (run,)).rowcount
        return {"propositions": props, "relations": rels, "training_logs": logs}

    def clear(self) -> None:
        """Delete everything; D is unset again (or back to ``dimension=`` given at open)."""
        with self._writing() as (cur, _):
            for table in ("relations", "propositions", "training_logs", "deleted_vectors"):
                cur.execute(f"DELETE FROM {table}")
            cur.execute("DELETE FROM meta WHERE key = 'dimension'")
            self._set_meta(cur, "generation", uuid.uuid4().hex)     # every index of the old graph is void
        with self._lock:
            self._index = self._index_at = None

    # -- reading ---------------------------------------------------------------------
    @property
    def dimension(self) -> int | None:
        with self._reading() as cur:
            return self._dimension(cur)

    def get(self, proposition_id: str) -> Proposition | None:
        with self._reading() as cur:
            row = cur.execute(f"SELECT {_PROPOSITION} FROM propositions p WHERE id = ?", (proposition_id,)).fetchone()
        return None if row is None else _proposition(row)

    def _catch_up(self, cur: sqlite3.Cursor, dim: int) -> None:
        """Bring the index in memory up to the database's state read through ``cur``."""
        generation, seq = self._meta("generation", cur), self._meta("seq", cur)
        if self._index is None or self._index_at is None or self._index_at[0] != generation:
            self._index, self._index_at = None, None
        if self._index is not None and self._index_at[1] < seq:
            since = self._index_at[1]
            changed = cur.execute("SELECT rid, embedding FROM propositions WHERE vseq > ?", (since,)).fetchall()
            gone = [r for (r,) in cur.execute("SELECT rid FROM deleted_vectors WHERE seq > ?", (since,))]
            self._index.remove([r for r, _ in changed] + gone)
            with_vectors = [(r, b) for r, b in changed if b is not None]
            if with_vectors:
                self._index.add(np.array([r for r, _ in with_vectors], np.int64),
                                np.frombuffer(b"".join(b for _, b in with_vectors), "<f4").reshape(-1, dim))
            self._index_at = (generation, seq)
        if self._index is None or vector_index.wants_rebuild(self._index, self._index.ntotal, self.exact_limit):
            n = cur.execute("SELECT count(*) FROM propositions WHERE embedding IS NOT NULL").fetchone()[0]
            self._index = vector_index.new(dim, n, self.exact_limit)
            cur.execute("SELECT rid, embedding FROM propositions WHERE embedding IS NOT NULL")
            while rows := cur.fetchmany(_BUILD_CHUNK):
                self._index.add(np.array([r for r, _ in rows], np.int64),
                                np.frombuffer(b"".join(b for _, b in rows), "<f4").reshape(-1, dim))
            self._index_at = (generation, seq)

    def nearest(self, vector: Any, k: int = 5) -> list[Neighbour]:
        q = as_embedding(vector, what="query vector")
        with self._reading() as cur:
            dim = self._meta("dimension", cur)
            if dim is None:
                dim = self._fixed_dimension
                if dim is not None and q.shape[0] != dim:
                    raise InvalidGraphData(f"query vector has {q.shape[0]} values, the store's embeddings have {dim}")
                return []
            if q.shape[0] != dim:
                raise InvalidGraphData(f"query vector has {q.shape[0]} values, the store's embeddings have {dim}")
            if k <= 0:
                return []
            self._catch_up(cur, dim)
            unit_q = q / np.linalg.norm(q)
            candidates = self._index.search(unit_q.astype(np.float32), k + OVERFETCH).tolist()
            rows = []
            for chunk in _chunks(candidates):
                rows += cur.execute(f"SELECT {_PROPOSITION} FROM propositions p WHERE rid IN ({_marks(len(chunk))}) "
                                    "AND embedding IS NOT NULL", chunk).fetchall()
        props = [_proposition(r) for r in rows]
        if not props:
            return []
        m = np.stack([p.embedding for p in props])
        scores = (m / np.linalg.norm(m, axis=1, keepdims=True)) @ unit_q                 # [n] cosines
        order = sorted(range(len(props)), key=lambda i: (-scores[i], props[i].id))[:k]
        return [Neighbour(props[i], float(scores[i])) for i in order]

    def neighbours(self, proposition_id: str, relation: str | Sequence[str] | None = None,
                   direction: str = "out") -> list[Link]:
        types = relation_types(relation)
        check_direction(direction)
        with self._reading() as cur:
            row = cur.execute("SELECT rid FROM propositions WHERE id = ?", (proposition_id,)).fetchone()
            if row is None:
                raise UnknownProposition(f"no proposition with id {proposition_id!r} in the store")
            rows = []
            ways = {"out": [("source", "target")], "in": [("target", "source")],
                    "both": [("source", "target"), ("target", "source")]}[direction]
            for here, there in ways:
                rows += cur.execute(
                    f"SELECT r.type, r.confidence, r.run, '{here}', {_PROPOSITION} FROM relations r "
                    f"JOIN propositions p ON p.rid = r.{there} "
                    f"WHERE r.{here} = ? AND r.type IN ({_marks(len(types))})", (row[0], *types)).fetchall()
        links = []
        for rtype, confidence, run, here, *other in rows:
            p = _proposition(other)
            ends = (proposition_id, p.id) if here == "source" else (p.id, proposition_id)
            links.append(Link(Relation(ends[0], ends[1], rtype, confidence, run), p))
        links.sort(key=lambda link: (link.relation.type, link.proposition.id, link.relation.source))
        return links

    def graph(self, include_embeddings: bool = True) -> Graph:
        emb = "p.embedding" if include_embeddings else "NULL"
        with self._reading() as cur:
            nodes = [_proposition(r) for r in cur.execute(
                f"SELECT p.id, p.text, p.language, {emb}, p.run FROM propositions p ORDER BY p.id")]
            edges = [Relation(*r) for r in cur.execute(
                "SELECT a.id, b.id, r.type, r.confidence, r.run FROM relations r "
                "JOIN propositions a ON a.rid = r.source JOIN propositions b ON b.rid = r.target")]
            logs = self._logs(cur)
        return Graph(nodes, edges, logs).sort()

    @staticmethod
    def _logs(cur: sqlite3.Cursor, run: str | None = None) -> list[TrainingLog]:
        where, args = ("WHERE run = ?", (run,)) if run is not None else ("", ())
        return [TrainingLog(i, r, ts, kind, count, tuple(json.loads(pids)), tuple(json.loads(rkeys)))
                for i, r, ts, kind, count, pids, rkeys in cur.execute(
                    f"SELECT * FROM training_logs {where} ORDER BY timestamp, id", args)]

    def training_logs(self, run: str | None = None) -> list[TrainingLog]:
        with self._reading() as cur:
            return self._logs(cur, run)

    def runs(self) -> list[str]:
        with self._reading() as cur:
            rows = cur.execute("SELECT run FROM propositions UNION SELECT run FROM relations "
                               "UNION SELECT run FROM training_logs").fetchall()
        return sorted(r for (r,) in rows if r)

    def stats(self) -> dict[str, int]:
        with self._reading() as cur:
            return {table: cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                    for table in ("propositions", "relations", "training_logs")}

    # -- lifetime --------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            if self._db is None:
                return
            self._db.close()
            self._db = None
            self._index = None

    def __repr__(self) -> str:
        return f"SQLiteStore(path={str(self.path)!r})"

