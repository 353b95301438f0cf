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
  IVFIndex    n >= exact_limit: faiss ``IndexIVFFlat`` (inverted file over ``nlist`` k-means
              centroids, full float32 unit vectors in the lists, inner product). A query scans
              the ``nprobe`` lists whose centroids are nearest to q, about nprobe/nlist of the
              vectors; its scores are exact cosines, its recall depends on how clustered the
              data is (see docs/longterm.md). Rebuilt (re-trained) when n has grown 4x since
              training, or has shrunk below exact_limit / 2 (back to ExactIndex).

Both hold ids (the proposition's integer ``rid``) and answer ``search(q, n) -> ids`` with the
best ``n`` candidates; the store re-scores them from the database.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
from pathlib import Path
from typing import Iterable

import numpy as np

from ..io import atomic_write_text

EXACT_LIMIT = 20_000        # below this many embeddings, search is an exact scan (~8-12 ms at 20k x 384)
MAX_NLIST = 4096            # IVF lists: 4 sqrt(n), at most this (about 250 vectors a list at 1M)
GROWTH_BEFORE_RETRAIN = 4   # re-train the IVF centroids once n is this many times the training n
SAVE_AT_LEAST = 50_000      # save an index to disk only if rebuilding it would take seconds


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


class IVFIndex:
    """faiss ``IndexIVFFlat`` (inner product on unit vectors) with a hash-table id map, so
    single ids are removed in O(1)."""

    kind = "ivf"

    def __init__(self, index, trained_n: int):
        import faiss

        self._faiss = faiss
        self.index = index
        self.trained_n = trained_n
        self.nlist = index.nlist
        self.index.nprobe = nprobe_for(self.nlist)

    @classmethod
    def train(cls, vectors: np.ndarray, seed: int = 0) -> "IVFIndex":
        """k-means on a sample of ``vectors`` [n, D] unit float32 (10 iterations, on 30 points a
        centroid or 50,000 points, whichever is fewer, but at least 10 a centroid)."""
        import faiss

        n, dim = vectors.shape
        nlist = max(1, min(MAX_NLIST, int(4 * math.sqrt(n)), n // 30))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = 10
        index.cp.min_points_per_centroid = 5         # we sample 10-30 a centroid; faiss warns below 39
        index.cp.seed = seed
        rng = np.random.default_rng(seed)
        m = min(n, max(10 * nlist, min(30 * nlist, 50_000)))
        sample = vectors if m == n else vectors[np.sort(rng.choice(n, m, replace=False))]
        index.train(np.ascontiguousarray(sample))
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        return cls(index, n)

    @property
    def dim(self) -> int:
        return self.index.d

    @property
    def ntotal(self) -> int:
        return self.index.ntotal

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(unit_rows(vectors), np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: Iterable[int]) -> None:
        ids = np.fromiter((int(i) for i in ids), dtype=np.int64)
        if len(ids):
            self.index.remove_ids(self._faiss.IDSelectorArray(len(ids), self._faiss.swig_ptr(ids)))

    def search(self, q: np.ndarray, n: int) -> np.ndarray:
        _, ids = self.index.search(q[None, :].astype(np.float32), n)
        return ids[0][ids[0] >= 0]

    def save(self, path: Path) -> None:
        self._faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, trained_n: int) -> "IVFIndex":
        import faiss

        return cls(faiss.read_index(str(path)), trained_n)


def nprobe_for(nlist: int) -> int:
    """Lists scanned per query: 1/32 of them, at least 16 (all, for tiny indexes)."""
    return min(nlist, max(16, nlist // 32))


def faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def wants_rebuild(index: ExactIndex | IVFIndex | None, n: int, exact_limit: int) -> bool:
    """Whether an index holding ``n`` live vectors should be built anew (another kind, or
    centroids trained on far fewer vectors than it now holds)."""
    if index is None:
        return True
    if index.kind == "exact":
        return n >= exact_limit and faiss_available()
    return n < exact_limit // 2 or n > GROWTH_BEFORE_RETRAIN * index.trained_n


def build(ids: np.ndarray, vectors: np.ndarray, dim: int, exact_limit: int) -> ExactIndex | IVFIndex:
    """A new index over ``vectors`` [n, D] (ids [n]) of the kind their number calls for."""
    if len(ids) >= exact_limit and faiss_available():
        units = unit_rows(vectors)
        index = IVFIndex.train(units)
        index.add(ids, units)
        return index
    index = ExactIndex(dim)
    index.add(ids, vectors)
    return index


# ----------------------------------------------------------------------------- on disk


def saved_paths(db_path: Path) -> tuple[Path, Path]:
    """Where an IVF index is saved beside the database: the faiss file and its description."""
    return db_path.with_name(db_path.name + ".ivf"), db_path.with_name(db_path.name + ".ivf.json")


@contextlib.contextmanager
def _locked(db_path: Path):
    """One process at a time saves or loads the index files (they change together)."""
    with open(db_path.with_name(db_path.name + ".ivf.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def save(index: IVFIndex, db_path: Path, description: dict) -> None:
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
        atomic_write_text(desc_path, json.dumps({**description, "trained_n": index.trained_n}))


def load(db_path: Path) -> tuple[IVFIndex, dict] | None:
    """The saved index and its description, or None if there is none or it cannot be read
    (it is only a cache: the caller rebuilds it from the database)."""
    index_path, desc_path = saved_paths(db_path)
    if not desc_path.exists() or not faiss_available():
        return None
    try:
        with _locked(db_path):
            description = json.loads(desc_path.read_text(encoding="utf-8"))
            return IVFIndex.load(index_path, int(description["trained_n"])), description
    except Exception:  # noqa: BLE001 - any damage at all means "rebuild"
        return None


def discard(db_path: Path) -> None:
    """Remove a saved index (after ``clear``: it describes a graph that is gone)."""
    with _locked(db_path):
        for path in reversed(saved_paths(db_path)):
            path.unlink(missing_ok=True)
