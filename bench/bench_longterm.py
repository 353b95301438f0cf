"""Long-term store speed for each backend, printed as JSON.

    python bench/bench_longterm.py [--n 10000] [--queries 1000] [--dim 384] [--backends embedded,neo4j]
                                   [--use-env-neo4j]

For each backend: write N propositions (random unit [D] float32 vectors, D = 384 as the
sentence model gives) in batches of 1,000, then 2N relations (each proposition to two others,
types cycling ENTAILS / CONTRADICTS / NEUTRAL), then run Q nearest-neighbour queries (k = 10,
each query a stored vector plus noise). Reports seconds, rates, per-query latency
percentiles and recall@10 against exact float64 cosine (the embedded backend is exact; Neo4j
answers from its HNSW vector index and re-scores the candidates exactly).

Neo4j: a throwaway server is built and started on 127.0.0.1 (scripts/neo4j/manage.py) and
stopped afterwards. ``--use-env-neo4j`` uses NEO4J_URI / NEO4J_USER / NEO4J_PASSWORD instead;
that database's propositions, relations and training logs are DELETED first.

Run from the project folder after ``pip install -e .`` (the script imports the installed ``ntm``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from ntm.io import ROOT
from ntm.longterm import RELATION_TYPES, Proposition, Relation, open_store

BATCH = 1000
K = 10


def make_data(n: int, dim: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    props = [Proposition(f"b{i:06d}", f"benchmark proposition {i}", "en", vectors[i]) for i in range(n)]
    rels = []
    for i in range(n):
        for j, step in enumerate((1, 1 + int(rng.integers(1, max(2, n - 1))))):
            target = (i + step) % n
            if target != i:
                rels.append(Relation(props[i].id, props[target].id, RELATION_TYPES[(i + j) % 3],
                                     float(rng.uniform(0.5, 1.0))))
    return vectors, props, rels


def run_backend(store, vectors, props, rels, queries: int, seed: int = 1) -> dict:
    store.clear()
    t0 = time.perf_counter()
    for start in range(0, len(props), BATCH):
        store.add_propositions(props[start:start + BATCH], run="bench")
    t_props = time.perf_counter() - t0
    t0 = time.perf_counter()
    for start in range(0, len(rels), BATCH):
        store.add_relations(rels[start:start + BATCH], run="bench")
    t_rels = time.perf_counter() - t0
    path = getattr(store, "path", None)
    file_mb = round(os.path.getsize(path) / 2**20, 1) if path is not None else None

    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(props), size=queries)
    qs = vectors[picks] + 0.05 * rng.normal(size=(queries, vectors.shape[1])).astype(np.float32)
    exact = np.argsort(-(vectors.astype(np.float64) @ qs.T.astype(np.float64)), axis=0)[:K].T   # [Q, K]
    latencies, recalls = [], []
    t0 = time.perf_counter()
    for q, truth in zip(qs, exact):
        t = time.perf_counter()
        hits = store.nearest(q, k=K)
        latencies.append(time.perf_counter() - t)
        got = {int(h.proposition.id[1:]) for h in hits}
        recalls.append(len(got & set(truth.tolist())) / K)
    t_queries = time.perf_counter() - t0

    t0 = time.perf_counter()
    exported = store.export_json()
    t_export = time.perf_counter() - t0
    stats = store.stats()
    assert stats["propositions"] == len(props) and stats["relations"] == len(rels), stats
    assert len(exported["nodes"]) == len(props)
    store.clear()
    ms = sorted(x * 1000 for x in latencies)
    return {
        "write_propositions_s": round(t_props, 2),
        "propositions_per_s": round(len(props) / t_props),
        "write_relations_s": round(t_rels, 2),
        "relations_per_s": round(len(rels) / t_rels),
        "nearest_queries_s": round(t_queries, 2),
        "nearest_ms_p50": round(statistics.median(ms), 2),
        "nearest_ms_p95": round(ms[int(0.95 * (len(ms) - 1))], 2),
        "recall_at_10": round(float(np.mean(recalls)), 4),
        "export_json_s": round(t_export, 2),
        **({"file_mb": file_mb} if file_mb is not None else {}),
    }


def load_manager():
    spec = importlib.util.spec_from_file_location("neo4j_manage", ROOT / "scripts" / "neo4j" / "manage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--backends", default="embedded,neo4j")
    parser.add_argument("--use-env-neo4j", action="store_true",
                        help="benchmark the server at NEO4J_URI (its long-term data is deleted) instead of a throwaway one")
    args = parser.parse_args()

    vectors, props, rels = make_data(args.n, args.dim)
    result = {"n_propositions": args.n, "n_relations": len(rels), "n_queries": args.queries, "dim": args.dim,
              "k": K, "batch": BATCH, "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    for backend in args.backends.split(","):
        if backend == "embedded":
            with tempfile.TemporaryDirectory() as tmp:
                with open_store("embedded", path=Path(tmp) / "graph.json") as store:
                    result["embedded"] = run_backend(store, vectors, props, rels, args.queries)
        elif backend == "neo4j":
            server = None
            if args.use_env_neo4j:
                settings = {}
            else:
                manage = load_manager()
                server = manage.Neo4jServer(home=Path(tempfile.mkdtemp(prefix="bench-neo4j-")), exit_with_parent=True)
                server.start(timeout=300)
                settings = {"uri": server.uri, "user": server.user, "password": server.password}
            try:
                with open_store("neo4j", batch_size=BATCH, **settings) as store:
                    result["neo4j"] = run_backend(store, vectors, props, rels, args.queries)
                    result["neo4j"]["server"] = "throwaway 5.26 (-Xmx1g, 256 MB page cache)" if server else store.uri
            finally:
                if server is not None:
                    server.stop()
                    shutil.rmtree(server.home, ignore_errors=True)
        else:
            parser.error(f"unknown backend {backend!r}")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
