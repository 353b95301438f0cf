"""Nearest-neighbour search over the embeddings of the SQLite store, kept in step with it.

The database is the truth; this index is a cache of it in memory (and, when large, in a file
beside the database). Every embedding written is stamped with the write's sequence number
``vseq`` and every deleted one leaves a tombstone ``(seq, rid)``; an index that has applied
everything up to ``seq`` catches up by removing the ids changed or deleted since, then adding
their current vectors. Applying a change twice gives the same index, so a stale saved index,
a crash between saving the index and its description, or another process's writes are all
healed by the same catch-up.

Two kinds, chosen by size (n = live embeddings):

  ExactIndex  n < exact_limit: the [n, D] matrix of unit rows in NumPy; a query is one
              matrix-vector product, cos(q, x_i) = x_i . q / (|x_i| |q|), exact.
  HNSWIndex   n >= exact_limit: a hierarchical navigable small-world graph (Malkov & Yashunin,
              2018) from ``usearch``: every vector is a node linked to about M near others on
              each of a few layers (a node reaches layer l with probability ~ M^-l); a query
              descends greedily from the sparse top layer and searches layer 0 best-first,
              keeping the ``ef`` best nodes seen, so it visits O(ef M log n) nodes instead of
              n. Vectors are kept quantised to int8 (cosine on the quantised rows), 384 bytes a
              384-dim vector; the store re-scores the candidates from the exact float32 rows.
              Vectors are removed by id (their slot is freed and reused), so deletions and
              re-embeddings are followed without a rebuild. Rebuilt when n shrinks below
              exact_limit / 2 (back to ExactIndex) or when more vectors have been removed
              since it was built than it now holds (removed nodes leave holes in the graph).

Both hold ids (the proposition's integer ``rid``) and answer ``search(q, n) -> ids`` with the
best ``n`` candidates; the store re-scores them from the database.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import Iterable

import numpy as np

from ..io import atomic_write_text

EXACT_LIMIT = 20_000        # below this many embeddings, search is an exact scan (~8-12 ms at 20k x 384)
SAVE_AT_LEAST = EXACT_LIMIT // 2   # every graph index is saved: building one takes 10-60 s here

# HNSW settings (usearch names; hnswlib/faiss call them M, efConstruction, efSearch). Measured on
# the bench's clustered 384-dim data, 10,000 and 100,000 vectors, busy 2-core machine (load 5-8),
# recall@10 after the store's exact re-scoring of k + 10 candidates (docs/longterm.md):
CONNECTIVITY = 16       # M, links a node keeps per layer (2M on layer 0): 32 built 1.3x slower for no
                        # better recall (0.998 against 1.000 at 10,000)
EXPANSION_ADD = 64      # efConstruction, candidates kept while linking a new node: 128 built 1.7x
                        # slower for the same recall (1.000 at 10,000)
EXPANSION_SEARCH = 128  # ef, candidates kept by a query: recall 0.998 at 100,000 in 1.6 ms
                        # (64: 0.983 in 1.1 ms); the target is 0.95 within 20 ms
QUANTISATION = "i8"     # int8 rows: 4x smaller than float32, built 3.6x faster than float32 and
                        # 1.7-2.5x faster than float16 at 10,000, recall unchanged once the store
                        # re-scores the candidates exactly (0.998-1.000)


def unit_rows(m: np.ndarray) -> np.ndarray:
    """[n, D] float32 rows scaled to unit length (rows are never zero: records refuse that)."""
    m = np.ascontiguousarray(m, dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


class ExactIndex:
    """All unit vectors in one [capacity, D] array; ``rows[rid]`` is a vector's row."""

    kind = "exact"

    def __init__(self, dim: int):
        self.dim = dim
        self._m = np.zeros((0, dim), np.float32)
        self._ids = np.zeros(0, np.int64)
        self._n = 0
        self._row: dict[int, int] = {}

    @property
    def ntotal(self) -> int:
        return self._n

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """ids [n] int64 not in the index, vectors [n, D] float32 (any length)."""
        n = len(ids)
        if not n:
            return
        if self._n + n > len(self._ids):
            cap = max(1024, 2 * (self._n + n))
            m, i = np.zeros((cap, self.dim), np.float32), np.zeros(cap, np.int64)
            m[:self._n], i[:self._n] = self._m[:self._n], self._ids[:self._n]
            self._m, self._ids = m, i
        self._m[self._n:self._n + n] = unit_rows(vectors)
        self._ids[self._n:self._n + n] = ids
        for j, rid in enumerate(ids.tolist()):
            self._row[rid] = self._n + j
        self._n += n

    def remove(self, ids: Iterable[int]) -> None:
        """Drop these ids (those not held are ignored): the last row moves into the hole."""
        for rid in ids:
            row = self._row.pop(int(rid), None)
            if row is None:
                continue
            last = self._n - 1
            if row != last:
                self._m[row], self._ids[row] = self._m[last], self._ids[last]
                self._row[int(self._ids[row])] = row
            self._n = last

    def search(self, q: np.ndarray, n: int) -> np.ndarray:
        """The ids of the ``n`` rows with the highest x . q (q [D], unit), in no fixed order."""
        if not self._n:
            return np.zeros(0, np.int64)
        # [n] cosine similarities; einsum, not BLAS: one core and no thread hand-off, which
        # on a busy machine is faster and steadier for one matrix-vector product.
        scores = np.einsum("ij,j->i", self._m[:self._n], q)
        n = min(n, self._n)
        return self._ids[np.argpartition(-scores, n - 1)[:n]]


class HNSWIndex:
    """A ``usearch.Index`` (HNSW graph, cosine on int8-quantised unit rows) keyed by ``rid``.

    ``connectivity`` (M), ``expansion_add`` (efConstruction) and ``expansion_search`` (ef): see
    the module constants for what they are and why these values. ``removed`` counts vectors
    removed since the graph was built (their slots are reused, but a graph that has lost more
    nodes than it holds is rebuilt: see ``wants_rebuild``)."""

    kind = "hnsw"

    def __init__(self, dim: int, connectivity: int = CONNECTIVITY, expansion_add: int = EXPANSION_ADD,
                 expansion_search: int = EXPANSION_SEARCH, index=None, removed: int = 0):
        from usearch.index import Index

        self.index = index if index is not None else Index(
            ndim=dim, metric="cos", dtype=QUANTISATION, connectivity=connectivity,
            expansion_add=expansion_add, expansion_search=expansion_search)
        self.index.expansion_add, self.index.expansion_search = expansion_add, expansion_search
        self.removed = removed

    @property
    def dim(self) -> int:
        return self.index.ndim

    @property
    def ntotal(self) -> int:
        return len(self.index)

    @property
    def settings(self) -> dict:
        """What the bench and the saved description record."""
        return {"connectivity": self.index.connectivity, "expansion_add": self.index.expansion_add,
                "expansion_search": self.index.expansion_search, "quantisation": QUANTISATION}

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """ids [n] int64 not in the index, vectors [n, D] (linked on all cores)."""
        if len(ids):
            self.index.add(np.ascontiguousarray(ids, dtype=np.uint64), unit_rows(vectors), threads=0)

    def remove(self, ids: Iterable[int]) -> None:
        """Drop these ids (those not held are ignored)."""
        ids = np.fromiter((int(i) for i in ids), dtype=np.uint64)
        if len(ids):
            self.removed += int(self.index.remove(ids))

    def search(self, q: np.ndarray, n: int) -> np.ndarray:
        """The ids of (about) the ``n`` rows with the highest cosine to q [D], best first."""
        if not len(self.index):
            return np.zeros(0, np.int64)
        return self.index.search(np.ascontiguousarray(q, dtype=np.float32), n).keys.astype(np.int64)

    def save(self, path: Path) -> None:
        self.index.save(str(path))

    @classmethod
    def load(cls, path: Path, removed: int = 0) -> "HNSWIndex":
        from usearch.index import Index

        index = Index.restore(str(path))
        if index is None or index.metric_kind.name != "Cos" or index.dtype.name != QUANTISATION.upper():
            raise ValueError("not an index of this kind")
        return cls(index.ndim, index=index, removed=removed)


def wants_rebuild(index: ExactIndex | HNSWIndex | None, n: int, exact_limit: int) -> bool:
    """Whether an index holding ``n`` live vectors should be built anew: another kind is due,
    or a graph has lost more nodes since it was built than it now holds."""
    if index is None:
        return True
    if index.kind == "exact":
        return n >= exact_limit
    return n < exact_limit // 2 or index.removed > n


def build(ids: np.ndarray, vectors: np.ndarray, dim: int, exact_limit: int) -> ExactIndex | HNSWIndex:
    """A new index over ``vectors`` [n, D] (ids [n]) of the kind their number calls for."""
    index = HNSWIndex(dim) if len(ids) >= exact_limit else ExactIndex(dim)
    index.add(ids, vectors)
    return index


# ----------------------------------------------------------------------------- on disk


def saved_paths(db_path: Path) -> tuple[Path, Path]:
    """Where a graph index is saved beside the database: the usearch file and its description."""
    return db_path.with_name(db_path.name + ".hnsw"), db_path.with_name(db_path.name + ".hnsw.json")


def _old_paths(db_path: Path) -> tuple[Path, ...]:
    """Files of the faiss IVF index saved before issue 10's graph index (removed when seen)."""
    return tuple(db_path.with_name(db_path.name + end) for end in (".ivf.json", ".ivf", ".ivf.lock"))


@contextlib.contextmanager
def _locked(db_path: Path):
    """One process at a time saves or loads the index files (they change together)."""
    with open(db_path.with_name(db_path.name + ".index.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def save(index: HNSWIndex, db_path: Path, description: dict) -> None:
    """Save the index and its description (``generation``, ``seq``, ...): the description is
    removed first and written last, so a description on disk never claims more than the index
    beside it holds (a crash in between leaves no description: the index is rebuilt)."""
    index_path, desc_path = saved_paths(db_path)
    tmp = index_path.with_name(f".{index_path.name}.{os.getpid()}.tmp")
    with _locked(db_path):
        desc_path.unlink(missing_ok=True)
        try:
            index.save(tmp)
            os.replace(tmp, index_path)
        finally:
            tmp.unlink(missing_ok=True)
        atomic_write_text(desc_path, json.dumps({**description, "removed": index.removed, **index.settings}))
        for path in _old_paths(db_path):
            path.unlink(missing_ok=True)


def load(db_path: Path) -> tuple[HNSWIndex, dict] | None:
    """The saved index and its description, or None if there is none or it cannot be read
    (it is only a cache: the caller rebuilds it from the database)."""
    index_path, desc_path = saved_paths(db_path)
    if not desc_path.exists():
        return None
    try:
        with _locked(db_path):
            description = json.loads(desc_path.read_text(encoding="utf-8"))
            return HNSWIndex.load(index_path, int(description["removed"])), description
    except Exception:  # noqa: BLE001 - any damage at all means "rebuild"
        return None


def discard(db_path: Path) -> None:
    """Remove a saved index (after ``clear``: it describes a graph that is gone)."""
    with _locked(db_path):
        for path in (*reversed(saved_paths(db_path)), *_old_paths(db_path)[:2]):
            path.unlink(missing_ok=True)
