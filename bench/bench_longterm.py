"""Long-term store speed for each backend, printed as JSON.

    python bench/bench_longterm.py [--n 10000] [--queries 1000] [--dim 384] [--data clustered|random]
                                   [--backends embedded,neo4j] [--neo4j-n N] [--single-adds 200]
                                   [--use-env-neo4j]

    python bench/bench_longterm.py --n 1000000 --neo4j-n 20000     # the issue's full size (~15 min)

For each backend: write N propositions ([D] float32 vectors, D = 384 as the sentence model
gives) in batches of 1,000, then 2N relations (each proposition to two others, types cycling
ENTAILS / CONTRADICTS / NEUTRAL); then time single adds (one new proposition per call, the
graph at full size), the first nearest-neighbour query (it builds the embedded store's index),
and Q more queries (k = 10). Reports seconds, rates, latency percentiles and recall@10
against exact cosine.

Data (``--data``): ``clustered`` (the default) draws each vector around one of N / 100 random
topic centres (cosine to its centre about 0.55, to its 10th neighbour about 0.35), as sentence
embeddings group by topic; a query is a fresh draw from the same topics. ``random`` is uniform
on the sphere with a query = a stored vector plus noise: with no structure at all, any index
that does not scan everything finds few of the true 10 nearest (its recall is reported as is).
``embedded`` is the default store (SQLite + its vector index), ``json`` the old JSON store.

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


NOISE = 1.5          # clustered data: a vector is centre + NOISE * N(0, I/D), then unit length


def unit(m: np.ndarray) -> np.ndarray:
    return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)


def make_vectors(n: int, dim: int, data: str, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """([n, D] stored vectors, [Q, D] queries), unit float32 (see the module docstring)."""
    rng = np.random.default_rng(seed)
    vectors = np.empty((n, dim), np.float32)
    if data == "random":
        for start in range(0, n, 100_000):
            vectors[start:start + 100_000] = unit(rng.normal(size=(min(100_000, n - start), dim)))
        qs = vectors[rng.integers(0, n, queries)] + 0.05 * rng.normal(size=(queries, dim)).astype(np.float32)
        return vectors, unit(qs)
    centres = unit(rng.normal(size=(max(10, n // 100), dim)))
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        noise = rng.normal(size=(m, dim)).astype(np.float32) * (NOISE / np.sqrt(dim))
        vectors[start:start + m] = unit(centres[rng.integers(0, len(centres), m)] + noise)
    noise = rng.normal(size=(queries, dim)).astype(np.float32) * (NOISE / np.sqrt(dim))
    return vectors, unit(centres[rng.integers(0, len(centres), queries)] + noise)


def propositions(vectors: np.ndarray, start: int, stop: int) -> list[Proposition]:
    """Records made with their run, as a training loop makes them (add_* then need not copy them)."""
    return [Proposition(f"b{i:07d}", f"benchmark proposition {i}", "en", vectors[i], "bench")
            for i in range(start, stop)]


def relations(n: int, start: int, stop: int, seed: int = 0) -> list[Relation]:
    """Relations of propositions start..stop-1: to the next one and to a random other one."""
    rng = np.random.default_rng(seed + start)
    rels = []
    for i in range(start, stop):
        for j, step in enumerate((1, 1 + int(rng.integers(1, max(2, n - 1))))):
            target = (i + step) % n
            if target != i:
                rels.append(Relation(f"b{i:07d}", f"b{target:07d}", RELATION_TYPES[(i + j) % 3],
                                     float(rng.uniform(0.5, 1.0)), "bench"))
    return rels


def exact_top_k(vectors: np.ndarray, qs: np.ndarray, k: int = K) -> np.ndarray:
    """[Q, k] indices of the k highest cosines of each query (unit rows: dot products), in chunks."""
    best_s = np.full((len(qs), 0), -np.inf, np.float32)
    best_i = np.zeros((len(qs), 0), np.int64)
    for start in range(0, len(vectors), 200_000):
        s = qs @ vectors[start:start + 200_000].T                                   # [Q, chunk]
        top = np.argpartition(-s, min(k, s.shape[1] - 1), axis=1)[:, :k]
        best_s = np.concatenate([best_s, np.take_along_axis(s, top, 1)], axis=1)
        best_i = np.concatenate([best_i, top + start], axis=1)
        keep = np.argsort(-best_s, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(best_s, keep, 1), np.take_along_axis(best_i, keep, 1)
    return best_i


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = sorted(x * 1000 for x in seconds)
    return {"p50": round(statistics.median(ms), 2), "p95": round(ms[int(0.95 * (len(ms) - 1))], 2),
            "max": round(ms[-1], 2)}


def run_backend(store, vectors: np.ndarray, qs: np.ndarray, single_adds: int, export_max: int) -> dict:
    n = len(vectors)
    store.clear()
    t0 = time.perf_counter()
    for start in range(0, n, BATCH):
        store.add_propositions(propositions(vectors, start, min(n, start + BATCH)), run="bench")
    t_props = time.perf_counter() - t0
    t0, n_rels = time.perf_counter(), 0
    for start in range(0, n, BATCH // 2):
        rels = relations(n, start, min(n, start + BATCH // 2))
        store.add_relations(rels, run="bench")
        n_rels += len(rels)
    t_rels = time.perf_counter() - t0

    rng = np.random.default_rng(2)
    adds = []
    for j in range(single_adds):
        p = Proposition(f"single{j:05d}", f"one more proposition {j}", "en",
                        unit(rng.normal(size=(1, vectors.shape[1])))[0], "single")
        t = time.perf_counter()
        store.add_propositions([p], run="single")
        adds.append(time.perf_counter() - t)
    store.clear_run("single")

    truth = exact_top_k(vectors, qs)
    load_at_queries = [round(x, 2) for x in os.getloadavg()]
    t0 = time.perf_counter()
    store.nearest(qs[0], k=K)                          # builds or catches up the index
    t_first = time.perf_counter() - t0
    latencies, recalls = [], []
    for q, true in zip(qs, truth):
        t = time.perf_counter()
        hits = store.nearest(q, k=K)
        latencies.append(time.perf_counter() - t)
        recalls.append(len({int(h.proposition.id[1:]) for h in hits} & set(true.tolist())) / K)

    stats = store.stats()
    assert stats["propositions"] == n and stats["relations"] == n_rels, stats
    result = {
        "n_propositions": n,
        "n_relations": n_rels,
        "write_propositions_s": round(t_props, 2),
        "propositions_per_s": round(n / t_props),
        "write_relations_s": round(t_rels, 2),
        "relations_per_s": round(n_rels / t_rels),
        **({"single_add_ms": percentiles(adds)} if adds else {}),
        "first_nearest_s": round(t_first, 2),
        "nearest_ms": percentiles(latencies),
        "recall_at_10": round(float(np.mean(recalls)), 4),
        "load_average_at_queries": load_at_queries,
    }
    index = getattr(store, "_index", None)
    if index is not None:
        result["index"] = {"kind": index.kind, **getattr(index, "settings", {})}
    if n <= export_max:
        t0 = time.perf_counter()
        exported = store.export_json()
        result["export_json_s"] = round(time.perf_counter() - t0, 2)
        assert len(exported["nodes"]) == n
    path = getattr(store, "path", None)
    if path is not None:
        t0 = time.perf_counter()
        store.close()                                  # the embedded store saves its index here
        result["close_s"] = round(time.perf_counter() - t0, 2)
        result["files_mb"] = round(sum(f.stat().st_size for f in Path(path).parent.iterdir()) / 2**20, 1)
    return result


def load_manager():
    spec = importlib.util.spec_from_file_location("neo4j_manage", ROOT / "scripts" / "neo4j" / "manage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="propositions (2N relations)")
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--data", choices=("clustered", "random"), default="clustered")
    parser.add_argument("--noise", type=float, default=NOISE, help="clustered data: spread around a centre")
    parser.add_argument("--backends", default="embedded,neo4j", help="comma-separated: embedded, neo4j, json")
    parser.add_argument("--neo4j-n", type=int, default=None, help="propositions for Neo4j (default --n)")
    parser.add_argument("--single-adds", type=int, default=200, help="single-proposition adds timed at full size")
    parser.add_argument("--export-max", type=int, default=100_000, help="time export_json only up to this N")
    parser.add_argument("--use-env-neo4j", action="store_true",
                        help="benchmark the server at NEO4J_URI (its long-term data is deleted) instead of a throwaway one")
    args = parser.parse_args()
    globals()["NOISE"] = args.noise

    sizes = {b: (args.neo4j_n or args.n) if b == "neo4j" else args.n for b in args.backends.split(",")}
    result = {"data": args.data, **({"noise": args.noise} if args.data == "clustered" else {}), "n_queries": args.queries, "dim": args.dim, "k": K, "batch": BATCH,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}}
    for backend, n in sizes.items():
        vectors, qs = make_vectors(n, args.dim, args.data, args.queries)
        t_start = time.perf_counter()
        if backend in ("embedded", "json"):
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / ("graph.sqlite3" if backend == "embedded" else "graph.json")
                store = open_store(backend, path=path)
                result[backend] = run_backend(store, vectors, qs, args.single_adds, args.export_max)
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
                    result["neo4j"] = run_backend(store, vectors, qs, args.single_adds, args.export_max)
                    result["neo4j"]["server"] = "throwaway 5.26 (-Xmx1g, 256 MB page cache)" if server else store.uri
                    store.clear()
            finally:
                if server is not None:
                    server.stop()
                    shutil.rmtree(server.home, ignore_errors=True)
        else:
            parser.error(f"unknown backend {backend!r}")
        result[backend]["wall_s"] = round(time.perf_counter() - t_start, 1)
        result[backend]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        del vectors, qs
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
