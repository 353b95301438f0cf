"""Recall@10 of the embedded store's binary index against its Hamming candidates, outside the store.

Issue 10 asks of the embedded store, at 1,000,000 propositions, nearest-neighbour p50 <= 20 ms with
recall@10 >= 0.95. The store's index above 20,000 embeddings (``vector_index.BinaryIndex``) scans
the sign bits of every row by Hamming distance, keeps the nearest ``HAMMING_CANDIDATES`` (at least
``CANDIDATES_PER_RESULT`` per id asked for), re-scores those in int8 and returns the best k + 10,
which the store re-scores exactly from the float32 rows. This script builds that index once over
the store bench's vectors (bench_longterm's ``make_vectors``: clustered 384-dim data, the same
seed), then for each number of Hamming candidates measures recall@10 against exact search and the
time of one query with its exact re-scoring (p50 and p90). The store adds an SQLite read of the
k + 10 candidates on top (a few ms). Run it alone: it measures the time of a scan.

    nice -n 10 python bench/bench_binary_recall.py --n 1000000 > bench/binary_recall_1m.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_longterm  # noqa: E402  (the store bench's data, so both measure the same vectors)

from ntm.longterm import vector_index  # noqa: E402

K = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--candidates", default="250,500,1000,2000,4000",
                        help="comma-separated HAMMING_CANDIDATES to try (CANDIDATES_PER_RESULT kept at 1)")
    args = parser.parse_args()

    result = {"benchmark": "binary index recall@10 by Hamming candidates (bench/README.md, long-term store)",
              "n": args.n, "queries": args.queries, "dim": 384, "data": "clustered",
              "noise": bench_longterm.NOISE, "re_scored_exactly": K + 10,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}}
    vectors, queries = bench_longterm.make_vectors(args.n, 384, "clustered", args.queries)
    truth = bench_longterm.exact_top_k(vectors, queries)
    start = time.perf_counter()
    index = vector_index.BinaryIndex(384)
    for s in range(0, args.n, 50_000):                 # as the store builds it: chunks read from SQLite
        index.add(np.arange(s, min(args.n, s + 50_000), dtype=np.int64), vectors[s:s + 50_000])
    result["build_s"] = round(time.perf_counter() - start, 2)
    vector_index.CANDIDATES_PER_RESULT = 1
    rows = []
    for candidates in (int(x) for x in args.candidates.split(",")):
        vector_index.HAMMING_CANDIDATES = candidates
        hits, times = 0, []
        for q, want in zip(queries, truth):
            t0 = time.perf_counter()
            found = index.search(q, K + 10)
            found = found[np.argsort(-(vectors[found] @ q))[:K]]
            times.append(time.perf_counter() - t0)
            hits += len(set(found.tolist()) & set(want.tolist()))
        rows.append({"hamming_candidates": candidates, "recall_at_10": round(hits / (K * len(queries)), 4),
                     "p50_ms": round(1000 * float(np.median(times)), 2),
                     "p90_ms": round(1000 * float(np.percentile(times, 90)), 2),
                     "load_average": [round(x, 2) for x in os.getloadavg()]})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    result["rows"] = rows
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
