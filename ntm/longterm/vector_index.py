"""Nearest-neighbour search over the embeddings of the SQLite store, kept in step with it.

The database is the truth; this index is a cache of it in memory, built from the database
when a store first searches and never saved. Every embedding written is stamped with the
write's sequence number ``vseq`` and every deleted one leaves a tombstone ``(seq, rid)``; an
index that has applied everything up to ``seq`` catches up by removing the ids changed or
deleted since, then adding their current vectors. Applying a change twice gives the same
index, so another process's writes are followed by the same catch-up.

Two kinds, chosen by size (n = live embeddings, D = dimension):

  ExactIndex   n < exact_limit: the [n, D] float32 matrix of unit rows in NumPy; a query is
               one matrix-vector product, cos(q, x_i) = x_i . q / (|x_i| |q|), exact.
  BinaryIndex  n >= exact_limit: binary quantisation, then re-scoring (as in Charikar's
               SimHash, 2002, and the "binary + rescore" retrieval of sentence embeddings).
               Each unit row keeps its D sign bits b_i = [x_i > 0] (D/8 bytes: 48 at D = 384).
               For a random hyperplane through the origin the chance that x and q fall on
               different sides is theta / pi (theta the angle between them), and the sign bits
               of a sentence embedding behave much like such hyperplanes, so
                   E[hamming(b_q, b_i)] / D ~ theta(q, x_i) / pi,
               a monotone proxy for cosine. A query scans all n codes with SIMD popcount
               (faiss ``IndexBinaryFlat``: exact Hamming, no graph, no training), keeps the
               ``candidates(n)`` nearest by Hamming, re-scores those with an int8 copy of the
               rows (x_i ~ c_i * s_i, c_i in [-127, 127]^D, s_i = max|x_i| / 127), and returns
               the best. The store then re-scores the top k + 10 from the float32 rows, so the
               scores it reports are exact cosines. Rows are appended (amortised O(1) per add);
               a removed row is marked dead in a bitmap the scan skips, and the arrays are
               compacted once dead rows outnumber live ones, so deletions and re-embeddings
               are followed without a rebuild. Rebuilt as ExactIndex when n shrinks below
               exact_limit / 2.

Both hold ids (the proposition's integer ``rid``) and answer ``search(q, n) -> ids`` with the
best ``n`` candidates; the store re-scores them from the database.

Why the index is not saved beside the database: at 1M x 384 the first query of an opened store
builds it in 18 s (about 11 s reading the vectors out of SQLite in chunks, 6.5 s making the bits
and int8 rows; load ~3), once per open. A saved copy (430 MB) would load in a second or two but
brings back a cache to keep in step with the database and to heal after a crash mid-save, which
the 44-minute HNSW build needed and an 18-second build does not (docs/longterm.md, "Search").
Files of the indexes saved by earlier versions (faiss IVF ``.ivf``, usearch HNSW ``.hnsw``) are
removed when a store opens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

EXACT_LIMIT = 20_000        # below this many embeddings, search is an exact scan (~8-12 ms at 20k x 384)

# BinaryIndex settings, measured on the bench's clustered 384-dim data (bench/bench_binary_recall.py,
# bench/binary_recall_1m.json), 1M vectors, 2-core machine at load ~3, recall@10 after the store's
# exact re-scoring of k + 10 candidates (p50 of one query; the scan alone is ~14 ms of it):
HAMMING_CANDIDATES = 1000   # rows kept by the Hamming scan for int8 re-scoring, at least: 250 -> 0.928,
                            # 500 -> 0.955, 1,000 -> 0.977 (15.6 ms), 2,000 -> 0.987 (19.9 ms),
                            # 4,000 -> 0.992 (28.5 ms); the store at 1M: 0.980, p50 18.9 ms
CANDIDATES_PER_RESULT = 50  # ... and at least this many per id asked for (k + 10 = 20 -> 1,000)
COMPACT_AT_LEAST = 1024     # dead rows are compacted away only past this many (and past the live ones)


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


class BinaryIndex:
    """Sign bits in a faiss ``IndexBinaryFlat`` plus an int8 copy of the rows (module docstring).

    Row r (in order of adding) holds: its sign bits in the faiss index ([rows, ceil(D/8)] uint8,
    bits past D are 0 in every row), ``_codes[r]`` [D] int8, ``_scale[r]`` its s, ``_ids[r]`` its
    rid, and bit r of ``_alive`` (little-endian bitmap, what faiss's ``IDSelectorBitmap`` reads)."""

    kind = "binary"

    def __init__(self, dim: int):
        import faiss

        self.dim = dim
        self._faiss = faiss.IndexBinaryFlat(8 * ((dim + 7) // 8))
        self._codes = np.zeros((0, dim), np.int8)
        self._scale = np.zeros(0, np.float32)
        self._ids = np.zeros(0, np.int64)
        self._alive = np.zeros(0, np.uint8)
        self._rows = 0                   # rows written (live + dead)
        self._dead = 0
        self._row: dict[int, int] = {}

    @property
    def ntotal(self) -> int:
        """Live vectors."""
        return self._rows - self._dead

    @property
    def settings(self) -> dict:
        """What the bench records."""
        return {"hamming_candidates": HAMMING_CANDIDATES, "candidates_per_result": CANDIDATES_PER_RESULT,
                "codes": "sign bits (faiss IndexBinaryFlat) + int8 rows"}

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """ids [n] int64 not in the index, vectors [n, D] float32 (any length): appended."""
        n = len(ids)
        if not n:
            return
        x = unit_rows(vectors)
        if x.shape[1] != self.dim:
            raise ValueError(f"vectors have {x.shape[1]} values, the index holds {self.dim}")
        scale = np.abs(x).max(axis=1) / 127                                     # [n] s_i
        r0, r1 = self._rows, self._rows + n
        if r1 > len(self._ids):
            self._grow(max(1024, 2 * r1))
        self._codes[r0:r1] = np.rint(x / scale[:, None])
        self._scale[r0:r1] = scale
        self._ids[r0:r1] = ids
        self._faiss.add(np.packbits(x > 0, axis=1))                            # [n, ceil(D/8)] sign bits
        self._rows = r1
        self._set_alive(np.arange(r0, r1), True)
        for j, rid in enumerate(ids.tolist()):
            self._row[rid] = r0 + j

    def _grow(self, capacity: int) -> None:
        for name in ("_codes", "_scale", "_ids"):
            old = getattr(self, name)
            new = np.zeros((capacity, *old.shape[1:]), old.dtype)
            new[:self._rows] = old[:self._rows]
            setattr(self, name, new)
        alive = np.zeros((capacity + 7) // 8, np.uint8)
        alive[:len(self._alive)] = self._alive
        self._alive = alive

    def _set_alive(self, rows: np.ndarray, alive: bool) -> None:
        bits = np.left_shift(1, rows & 7).astype(np.uint8)
        if alive:
            np.bitwise_or.at(self._alive, rows >> 3, bits)
        else:
            np.bitwise_and.at(self._alive, rows >> 3, ~bits)

    def remove(self, ids: Iterable[int]) -> None:
        """Drop these ids (those not held are ignored): their rows are marked dead, and the
        arrays compacted when dead rows outnumber live ones (amortised O(1) per removal)."""
        rows = [r for r in (self._row.pop(int(rid), None) for rid in ids) if r is not None]
        if not rows:
            return
        self._set_alive(np.array(rows, np.int64), False)
        self._dead += len(rows)
        if self._dead >= COMPACT_AT_LEAST and self._dead > self.ntotal:
            self.compact()

    def compact(self) -> None:
        """Drop the dead rows, keeping the live ones in order."""
        import faiss

        keep = np.flatnonzero(np.unpackbits(self._alive, bitorder="little")[:self._rows])
        bits = faiss.vector_to_array(self._faiss.xb).reshape(self._rows, -1)[keep]
        self._faiss.reset()
        self._faiss.add(bits)
        n = len(keep)
        self._codes[:n], self._scale[:n], self._ids[:n] = self._codes[keep], self._scale[keep], self._ids[keep]
        self._alive[:] = 0
        self._rows, self._dead = n, 0
        self._set_alive(np.arange(n), True)
        self._row = {rid: r for r, rid in enumerate(self._ids[:n].tolist())}

    def search(self, q: np.ndarray, n: int) -> np.ndarray:
        """The ids of the ``n`` live rows with the highest int8 cosine c_i . q s_i among the
        ``candidates`` nearest to q [D] (unit) in Hamming distance, in no fixed order."""
        import faiss

        live = self.ntotal
        if not live or n <= 0:
            return np.zeros(0, np.int64)
        if q.shape[-1] != self.dim:
            raise ValueError(f"the query has {q.shape[-1]} values, the index holds {self.dim}")
        q = np.ascontiguousarray(q, dtype=np.float32)
        over = min(live, max(HAMMING_CANDIDATES, CANDIDATES_PER_RESULT * n))
        params = None
        if self._dead:              # the scan skips dead rows (the bitmap test costs ~25% at 1M)
            params = faiss.SearchParameters(sel=faiss.IDSelectorBitmap(self._rows, faiss.swig_ptr(self._alive)))
        # One thread, as ExactIndex's einsum: on the busy 2-core machine two OpenMP threads made a
        # 1M scan 3x slower (333 against 94 ms p50, load ~5), none faster.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            _, rows = self._faiss.search(np.packbits(q > 0)[None], over, params=params)   # [1, over] rows
        finally:
            faiss.omp_set_num_threads(threads)
        rows = rows[0][rows[0] >= 0]
        scores = np.einsum("ij,j->i", self._codes[rows].astype(np.float32), q) * self._scale[rows]   # [over]
        n = min(n, len(rows))
        return self._ids[rows[np.argpartition(-scores, n - 1)[:n]]]


def wants_rebuild(index: ExactIndex | BinaryIndex | None, n: int, exact_limit: int) -> bool:
    """Whether an index holding ``n`` live vectors should be built anew: another kind is due."""
    if index is None:
        return True
    if index.kind == "exact":
        return n >= exact_limit
    return n < exact_limit // 2


def new(dim: int, n: int, exact_limit: int) -> ExactIndex | BinaryIndex:
    """An empty index of the kind ``n`` vectors call for."""
    return BinaryIndex(dim) if n >= exact_limit else ExactIndex(dim)


def build(ids: np.ndarray, vectors: np.ndarray, dim: int, exact_limit: int) -> ExactIndex | BinaryIndex:
    """A new index over ``vectors`` [n, D] (ids [n]) of the kind their number calls for."""
    index = new(dim, len(ids), exact_limit)
    index.add(ids, vectors)
    return index


def old_files(db_path: Path) -> tuple[Path, ...]:
    """Files of the indexes earlier versions saved beside the database (faiss IVF, then usearch
    HNSW, and their lock): the store removes them when it opens."""
    return tuple(db_path.with_name(db_path.name + end)
                 for end in (".ivf.json", ".ivf", ".ivf.lock", ".hnsw.json", ".hnsw", ".index.lock"))


def remove_old_files(db_path: Path) -> None:
    for path in old_files(db_path):
        path.unlink(missing_ok=True)
