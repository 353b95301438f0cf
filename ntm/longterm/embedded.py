"""Embedded backend: the proposition graph in this process, persisted to one local JSON file.

No server. The graph is a networkx ``MultiDiGraph`` (edge key = relation type, so one relation
of each type per ordered pair) plus a dict of [D] float32 embeddings. Every write call is
saved before it returns: the whole file is written to a temporary file in the same folder,
fsynced, then ``os.replace``d over the old one, so a crash mid-write leaves the previous file
whole. Several processes may share a file: writers take an exclusive ``flock`` on
``<file>.lock`` and every call first reloads the file if another process replaced it.

File format (``ntm-explorer/longterm-embedded``, version 1)::

    {"format", "version", "dimension": D | null,
     "nodes": [{"id", "text", "language", "run", "embedding_f32": base64 of D little-endian
                float32, or null}],
     "edges": [{"source", "target", "type", "confidence", "run"}],
     "training_logs": [{"id", "run", "timestamp", "kind", "count", "proposition_ids", "relation_keys"}]}

Embeddings are stored as base64 float32 (exact, and ~4x smaller than JSON numbers); the
JSON export (``export_json``) writes them as plain lists like the fork did.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import threading
from pathlib import Path
from typing import Any, Iterator, Sequence

import networkx as nx
import numpy as np

from ..io import atomic_write_text
from .errors import InvalidGraphData, LongTermStoreCorrupt, LongTermStoreError, UnknownProposition
from .paths import default_store_path, shown_path
from .records import (
    Graph, Link, Neighbour, Proposition, Relation, TrainingLog, as_embedding, check_dimension, check_direction,
    make_log, relation_types,
)
from .store import LongTermStore

FILE_FORMAT = "ntm-explorer/longterm-embedded"
FILE_VERSION = 1
_UNREAD = object()          # "memory does not reflect any state of the file yet"


def _encode_vec(v: np.ndarray | None) -> str | None:
    return None if v is None else base64.b64encode(v.astype("<f4").tobytes()).decode("ascii")


def _decode_vec(s: str | None, dim: int | None, where: str) -> np.ndarray | None:
    if s is None:
        return None
    try:
        v = np.frombuffer(base64.b64decode(s, validate=True), dtype="<f4").astype(np.float32)
    except (ValueError, TypeError) as exc:
        raise LongTermStoreCorrupt(f"{where}: bad embedding ({exc})") from None
    if dim is not None and v.shape[0] != dim:
        raise LongTermStoreCorrupt(f"{where}: embedding has {v.shape[0]} values, the file says D={dim}")
    return v


class EmbeddedStore(LongTermStore):
    """The default backend: ``EmbeddedStore(path=None, dimension=None)``.

    ``path`` defaults to ``<NTM_EXPLORER_DATA or .data>/longterm/graph.json``; the file is
    created on the first write. ``dimension`` optionally fixes D up front.
    """

    backend = "embedded"

    def __init__(self, path: str | os.PathLike | None = None, dimension: int | None = None):
        self.path = Path(path) if path is not None else default_store_path()
        self._lock = threading.RLock()
        self._fixed_dimension = dimension
        self._file_id: Any = _UNREAD
        self._reset_memory()
        self._refresh()
        if dimension is not None and self._dimension != dimension:  # the file already has another D
            raise InvalidGraphData(
                f"{shown_path(self.path)} holds {self._dimension}-dim embeddings but dimension={dimension} was asked for; "
                "use another file for another embedding model")

    # -- in memory -------------------------------------------------------------------
    def _reset_memory(self) -> None:
        self._g = nx.MultiDiGraph()
        self._emb: dict[str, np.ndarray] = {}
        self._logs: dict[str, TrainingLog] = {}
        self._dimension: int | None = None
        self._matrix: tuple[list[str], np.ndarray] | None = None   # ids, [N, D] unit rows

    def _prop(self, pid: str) -> Proposition:
        a = self._g.nodes[pid]
        return Proposition(pid, a["text"], a["language"], self._emb.get(pid), a["run"])

    # -- the file --------------------------------------------------------------------
    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _refresh(self) -> None:
        """Reload from disk if the file changed since we last read or wrote it."""
        file_id = self._stat()
        if file_id == self._file_id:
            return
        self._reset_memory()
        if file_id is None:
            self._dimension = self._fixed_dimension
        else:
            self._load()
        self._file_id = file_id

    def _load(self) -> None:
        where = shown_path(self.path)
        try:
            data = json.loads(self.path.read_bytes())
        except OSError as exc:
            raise LongTermStoreCorrupt(
                f"cannot read the long-term store {where} ({exc.strerror or type(exc).__name__}); check the "
                "file's permissions, or move it aside to start an empty store") from None
        except (UnicodeDecodeError, RecursionError, ValueError) as exc:   # ValueError: JSON, int digits
            raise LongTermStoreCorrupt(
                f"cannot read the long-term store {where} ({type(exc).__name__}); move the file aside to start "
                "an empty store, or restore it from an export") from None
        if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
            raise LongTermStoreCorrupt(
                f"{where} is not an embedded long-term store file (format {FILE_FORMAT!r}); "
                "to load a JSON graph export use import_json instead")
        if data.get("version") != FILE_VERSION:
            raise LongTermStoreCorrupt(f"{where}: file version {data.get('version')!r} is not supported "
                                       f"(this code reads version {FILE_VERSION})")
        try:
            dim = data.get("dimension")
            for n in data["nodes"]:
                self._g.add_node(n["id"], text=n["text"], language=n["language"], run=n["run"])
                v = _decode_vec(n.get("embedding_f32"), dim, f"{where}: node {n['id']!r}")
                if v is not None:
                    self._emb[n["id"]] = v
            for e in data["edges"]:
                self._g.add_edge(e["source"], e["target"], key=e["type"],
                                 confidence=float(e["confidence"]), run=e["run"])
            for g in data["training_logs"]:
                self._logs[g["id"]] = TrainingLog(g["id"], g["run"], g["timestamp"], g["kind"], g["count"],
                                                  tuple(g["proposition_ids"]), tuple(g["relation_keys"]))
        except (KeyError, TypeError) as exc:
            raise LongTermStoreCorrupt(f"{where}: missing or malformed field ({exc!r}); "
                                       "restore the file from an export") from None
        self._dimension = dim if dim is not None else self._fixed_dimension

    def _save(self) -> None:
        nodes = []
        for pid, a in self._g.nodes(data=True):
            nodes.append({"id": pid, "text": a["text"], "language": a["language"], "run": a["run"],
                          "embedding_f32": _encode_vec(self._emb.get(pid))})
        edges = [{"source": u, "target": v, "type": k, "confidence": a["confidence"], "run": a["run"]}
                 for u, v, k, a in self._g.edges(keys=True, data=True)]
        data = {"format": FILE_FORMAT, "version": FILE_VERSION, "dimension": self._dimension,
                "nodes": nodes, "edges": edges,
                "training_logs": [g.to_json() for g in self._logs.values()]}
        atomic_write_text(self.path, json.dumps(data, ensure_ascii=False, separators=(",", ":")))
        self._file_id = self._stat()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Exclusive write: this thread, this file; fresh state in, saved state out.
        If anything fails, memory is reloaded from the (untouched) file; a failing disk
        (full, read-only, no permission) is reported as LongTermStoreError."""
        with self._lock, self._disk("write"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path.with_name(self.path.name + ".lock"), "a") as lock_file:
                fcntl.flock(lock_file, fcntl.LOCK_EX)
                try:
                    self._refresh()
                    try:
                        yield
                        self._save()
                    except BaseException:
                        self._file_id = _UNREAD       # force a reload from the file on disk
                        self._refresh()
                        raise
                finally:
                    fcntl.flock(lock_file, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _disk(self, doing: str) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise LongTermStoreError(
                f"cannot {doing} the long-term store {shown_path(self.path)} "
                f"({exc.strerror or exc}); free some space or fix the folder's permissions, then retry "
                "(nothing of this call was saved)") from None

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        with self._lock:
            self._refresh()
            yield

    # -- writing ---------------------------------------------------------------------
    def _write_propositions(self, props: list[Proposition], log: bool) -> int:
        with self._writing():
            self._dimension = check_dimension(props, self._dimension)
            for p in props:
                if p.id in self._g:
                    a = self._g.nodes[p.id]
                    a.update(text=p.text, language=p.language)      # run stays the creator's
                else:
                    self._g.add_node(p.id, text=p.text, language=p.language, run=p.run)
                if p.embedding is not None:
                    self._emb[p.id] = p.embedding.copy()
                else:
                    self._emb.pop(p.id, None)
            self._matrix = None
            if log:
                for run in sorted({p.run for p in props}):
                    entry = make_log(run, "propositions", proposition_ids=[p.id for p in props if p.run == run])
                    self._logs.setdefault(entry.id, entry)
        return len(props)

    def _write_relations(self, rels: list[Relation], log: bool) -> int:
        with self._writing():
            missing = sorted({end for r in rels for end in (r.source, r.target) if end not in self._g})
            if missing:
                raise UnknownProposition(
                    f"relations name {len(missing)} proposition id(s) not in the store, e.g. {missing[0]!r}; "
                    "add the propositions first (nothing of this batch was written)")
            for r in rels:
                if self._g.has_edge(r.source, r.target, key=r.type):
                    self._g.edges[r.source, r.target, r.type]["confidence"] = r.confidence
                else:
                    self._g.add_edge(r.source, r.target, key=r.type, confidence=r.confidence, run=r.run)
            if log:
                for run in sorted({r.run for r in rels}):
                    entry = make_log(run, "relations", relation_keys=[r.key for r in rels if r.run == run])
                    self._logs.setdefault(entry.id, entry)
        return len(rels)

    def _write_logs(self, logs: list[TrainingLog]) -> None:
        with self._writing():
            for g in logs:
                self._logs.setdefault(g.id, g)

    def clear_run(self, run: str) -> dict[str, int]:
        with self._writing():
            nodes = [n for n, a in self._g.nodes(data=True) if a["run"] == run]
            touching = {(u, v, k) for n in nodes for u, v, k in
                        [*self._g.out_edges(n, keys=True), *self._g.in_edges(n, keys=True)]}
            own = {(u, v, k) for u, v, k, a in self._g.edges(keys=True, data=True) if a["run"] == run}
            self._g.remove_edges_from(own - touching)
            self._g.remove_nodes_from(nodes)
            for n in nodes:
                self._emb.pop(n, None)
            logs = [i for i, g in self._logs.items() if g.run == run]
            for i in logs:
                del self._logs[i]
            self._matrix = None
        return {"propositions": len(nodes), "relations": len(own | touching), "training_logs": len(logs)}

    def clear(self) -> None:
        """Delete everything; D is unset again (or back to ``dimension=`` given at open)."""
        with self._writing():
            self._reset_memory()
            self._dimension = self._fixed_dimension

    # -- reading ---------------------------------------------------------------------
    @property
    def dimension(self) -> int | None:
        with self._reading():
            return self._dimension

    def get(self, proposition_id: str) -> Proposition | None:
        with self._reading():
            return self._prop(proposition_id) if proposition_id in self._g else None

    def nearest(self, vector: Any, k: int = 5) -> list[Neighbour]:
        q = as_embedding(vector, what="query vector")
        with self._reading():
            if self._dimension is not None and q.shape[0] != self._dimension:
                raise InvalidGraphData(f"query vector has {q.shape[0]} values, the store's embeddings have {self._dimension}")
            if self._matrix is None:
                ids = sorted(self._emb)
                m = np.stack([self._emb[i] for i in ids]) if ids else np.zeros((0, q.shape[0]), np.float32)
                m = m / np.linalg.norm(m, axis=1, keepdims=True)
                self._matrix = (ids, m.astype(np.float32))
            ids, m = self._matrix
            if not ids or k <= 0:
                return []
            scores = m @ (q / np.linalg.norm(q))                    # [N] cosine similarities
            k = min(k, len(ids))
            top = sorted(np.argpartition(-scores, k - 1)[:k], key=lambda i: (-scores[i], ids[i]))
            return [Neighbour(self._prop(ids[i]), float(scores[i])) for i in top]

    def neighbours(self, proposition_id: str, relation: str | Sequence[str] | None = None,
                   direction: str = "out") -> list[Link]:
        types = relation_types(relation)
        check_direction(direction)
        with self._reading():
            if proposition_id not in self._g:
                raise UnknownProposition(f"no proposition with id {proposition_id!r} in the store")
            links = []
            if direction in ("out", "both"):
                for _, v, k, a in self._g.out_edges(proposition_id, keys=True, data=True):
                    if k in types:
                        links.append(Link(Relation(proposition_id, v, k, a["confidence"], a["run"]), self._prop(v)))
            if direction in ("in", "both"):
                for u, _, k, a in self._g.in_edges(proposition_id, keys=True, data=True):
                    if k in types:
                        links.append(Link(Relation(u, proposition_id, k, a["confidence"], a["run"]), self._prop(u)))
            links.sort(key=lambda link: (link.relation.type, link.proposition.id, link.relation.source))
            return links

    def graph(self, include_embeddings: bool = True) -> Graph:
        with self._reading():
            nodes = [Proposition(n, a["text"], a["language"], self._emb.get(n) if include_embeddings else None, a["run"])
                     for n, a in self._g.nodes(data=True)]
            edges = [Relation(u, v, k, a["confidence"], a["run"]) for u, v, k, a in self._g.edges(keys=True, data=True)]
            return Graph(nodes, edges, list(self._logs.values())).sort()

    def runs(self) -> list[str]:
        with self._reading():
            found = {a["run"] for _, a in self._g.nodes(data=True)}
            found |= {a["run"] for _, _, a in self._g.edges(data=True)}
            found |= {g.run for g in self._logs.values()}
            return sorted(r for r in found if r)

    def stats(self) -> dict[str, int]:
        with self._reading():
            return {"propositions": self._g.number_of_nodes(), "relations": self._g.number_of_edges(),
                    "training_logs": len(self._logs)}

    def __repr__(self) -> str:
        return f"EmbeddedStore(path={str(self.path)!r})"

