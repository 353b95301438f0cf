"""Recall@10 of the embedded store's HNSW index against its search width, outside the store.

Issue 10 asks of the embedded store, at 1,000,000 propositions, nearest-neighbour p50 <= 20 ms with
recall@10 >= 0.95; the store bench (bench_longterm.py) measured 0.658 with the index settings of
ntm/longterm/vector_index.py. Rebuilding the store to try each search width costs about an hour a
try, so this script builds the same usearch index once over the same vectors (bench_longterm's
``make_vectors``: clustered 384-dim data, the same seed) and then, for each ef (usearch's
``expansion_search``) and each overfetch (candidates beyond k that are re-scored exactly from the
float32 rows, as the store does), measures recall@10 against exact search and the p50 time of one
query with its re-scoring. The store adds an SQLite read of the candidates on top (a few ms).

    python bench/bench_hnsw_recall.py --n 1000000 > bench/hnsw_recall_1m.json
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
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--connectivity", type=int, default=vector_index.CONNECTIVITY)
    parser.add_argument("--expansion-add", type=int, default=vector_index.EXPANSION_ADD)
    parser.add_argument("--ef", default="128,256,512,1024,2048", help="search widths to measure")
    parser.add_argument("--overfetch", default="10,40,90", help="candidates beyond k re-scored exactly")
    args = parser.parse_args()
    from usearch.index import Index

    result = {"benchmark": "HNSW recall@10 by search width (bench/README.md, long-term store)",
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
              "n": args.n, "dim": 384, "data": "clustered", "queries": args.queries,
              "index": {"connectivity": args.connectivity, "expansion_add": args.expansion_add,
                        "quantisation": vector_index.QUANTISATION}}
    vectors, queries = bench_longterm.make_vectors(args.n, 384, "clustered", args.queries, seed=0)
    truth = bench_longterm.exact_top_k(vectors, queries, K)
    index = Index(ndim=384, metric="cos", dtype=vector_index.QUANTISATION, connectivity=args.connectivity,
                  expansion_add=args.expansion_add)
    start = time.perf_counter()
    for s in range(0, args.n, 50_000):
        index.add(np.arange(s, min(args.n, s + 50_000), dtype=np.uint64), vectors[s:s + 50_000], threads=0)
    result["build_s"] = round(time.perf_counter() - start, 1)
    rows = []
    for ef in (int(x) for x in args.ef.split(",")):
        index.expansion_search = ef
        for over in (int(x) for x in args.overfetch.split(",")):
            hits, times = 0, []
            for q, want in zip(queries, truth):
                t0 = time.perf_counter()
                candidates = index.search(q, K + over).keys.astype(np.int64)
                found = candidates[np.argsort(-(vectors[candidates] @ q))[:K]]
                times.append(time.perf_counter() - t0)
                hits += len(set(found.tolist()) & set(want.tolist()))
            rows.append({"ef": ef, "overfetch": over, "recall_at_10": round(hits / (K * len(queries)), 4),
                         "p50_ms": round(1000 * float(np.median(times)), 2)})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    result["rows"] = rows
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
