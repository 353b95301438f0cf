"""Neo4j bulk-write experiments, interleaved on one throwaway 5.26 server (bench/neo4j_bulk.json).

    nice -n 10 python bench/bench_neo4j_bulk.py N CONFIGS_JSON REPS OUT.jsonl      [HEAP=2g]

CONFIGS_JSON is a list of keyword sets for ``run``: name, store ("list": today's
``SET p.embedding = row.embedding``; "f32": ``db.create.setNodeVectorProperty``, a FLOAT32 array;
"lock": the counter node locked before it is read), index (vector index or none),
opts (vector index options), batch (rows per transaction), writers (concurrent sessions).
Each configuration clears the database, recreates the index, writes N clustered 384-dim
propositions (bench_longterm.make_vectors) in UNWIND batches through the driver and reports
propositions/s, the server's CPU seconds during the writes (/proc), the 1-min load average,
distinct idx values, and recall@10 of ``Neo4jStore.nearest`` on 200 queries. Every REPS round
runs all configurations in turn, so they share the machine's conditions; the server's JIT warms
up over the first minutes, so put a warm-up configuration first and compare later rounds.
"""
import json, os, sys, time, tempfile, threading, importlib.util
from pathlib import Path
import numpy as np
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench")); sys.path.insert(0, str(ROOT))
from bench_longterm import make_vectors, exact_top_k
from ntm.longterm.neo4j_store import Neo4jStore, VECTOR_INDEX
import neo4j

HEAD = """MERGE (s:NtmSequence {name: 'proposition idx'}) ON CREATE SET s.next = 0
WITH s UNWIND $rows AS row
MERGE (p:Proposition {id: row.id}) ON CREATE SET p.run = row.run, p.idx = s.next, s.next = s.next + 1
"""
Q = {"list": HEAD + "SET p.text = row.text, p.language = row.language, p.embedding = row.embedding",
     "f32": HEAD + "SET p.text = row.text, p.language = row.language\n"
            "WITH p, row CALL db.create.setNodeVectorProperty(p, 'embedding', row.embedding)",
     "lock": HEAD.replace("ON CREATE SET s.next = 0\n", "ON CREATE SET s.next = 0\nSET s._lock = true REMOVE s._lock\n")
             + "SET p.text = row.text, p.language = row.language, p.embedding = row.embedding"}

JPID = None
def jcpu():
    f = open(f"/proc/{JPID}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

def run(uri, auth, vecs, qs, truth, name, store_kind="list", index=True, opts=None, batch=1000, writers=1, nq=200):
    drv = neo4j.GraphDatabase.driver(uri, auth=auth)
    st = Neo4jStore(uri=uri, user=auth[0], password=auth[1], dimension=vecs.shape[1])
    st.clear()
    drv.execute_query(f"DROP INDEX {VECTOR_INDEX} IF EXISTS")
    if index:
        cfg = {"vector.dimensions": vecs.shape[1], "vector.similarity_function": "cosine", **(opts or {})}
        drv.execute_query(f"CREATE VECTOR INDEX {VECTOR_INDEX} FOR (p:Proposition) ON p.embedding OPTIONS {{indexConfig: $cfg}}", cfg=cfg)
        drv.execute_query(f"CALL db.awaitIndex('{VECTOR_INDEX}', 300)")
    n = len(vecs)
    batches = [[{"id": f"p{i:06d}", "text": f"proposition number {i}", "language": "en", "run": "bench",
                 "embedding": vecs[i].tolist()} for i in range(s, min(n, s + batch))] for s in range(0, n, batch)]
    load0 = os.getloadavg()[0]
    def worker(mine):
        with drv.session() as sess:
            for rows in mine:
                sess.execute_write(lambda tx: tx.run(Q[store_kind], rows=rows).consume())
    cpu0 = jcpu(); t0 = time.perf_counter()
    ths = [threading.Thread(target=worker, args=(batches[w::writers],)) for w in range(writers)]
    [t.start() for t in ths]; [t.join() for t in ths]
    dt = time.perf_counter() - t0; cpu1 = jcpu()
    res = {"name": name, "store": store_kind, "index": index, "index_options": opts or {}, "batch": batch,
           "writers": writers, "n": n, "seconds": round(dt, 2), "propositions_per_s": round(n / dt),
           "load_average_1min": [round(load0, 2), round(os.getloadavg()[0], 2)]}
    if index:
        st2 = Neo4jStore(uri=uri, user=auth[0], password=auth[1])
        rec = []
        for q, true in zip(qs[:nq], truth[:nq]):
            hits = st2.nearest(q, k=10)
            rec.append(len({int(h.proposition.id[1:]) for h in hits} & set(true.tolist())) / 10)
        res["recall_at_10"] = round(float(np.mean(rec)), 4)
        typ = drv.execute_query("MATCH (p:Proposition) WITH p LIMIT 1 RETURN valueType(p.embedding) AS t").records[0]["t"]
        res["stored_type"] = typ
        st2.close()
    cnt = drv.execute_query("MATCH (p:Proposition) RETURN count(p) AS c, count(DISTINCT p.idx) AS d").records[0]
    res["nodes"], res["distinct_idx"] = cnt["c"], cnt["d"]
    st.close(); drv.close()
    res["server_cpu_s"] = round(cpu1 - cpu0, 2)
    print(json.dumps(res), flush=True)
    return res

if __name__ == "__main__":
    n = int(sys.argv[1]); configs = json.loads(sys.argv[2]); reps = int(sys.argv[3]); out = sys.argv[4]
    heap = os.environ.get("HEAP")
    spec = importlib.util.spec_from_file_location("m", ROOT / "scripts" / "neo4j" / "manage.py")
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    if heap:
        m.JVM_OPTIONS[:] = [o if not o.startswith("-Xmx") else f"-Xmx{heap}" for o in m.JVM_OPTIONS]
    srv = m.Neo4jServer(home=Path(tempfile.mkdtemp(prefix="nb-neo4j-")), exit_with_parent=True).start()
    JPID = srv.pid
    vecs, qs = make_vectors(n, 384, "clustered", 200)
    truth = exact_top_k(vecs, qs)
    results = []
    try:
        for r in range(reps):
            for c in configs:
                res = run(srv.uri, (srv.user, srv.password), vecs, qs, truth, **c)
                res["rep"] = r; res["heap"] = heap or "1g"; results.append(res)
                with open(out, "a") as f: f.write(json.dumps(res) + "\n")
    finally:
        srv.stop()
