"""Retrieval for the assistant: EdgeStore (qdrant-edge-py, HNSW m=64, ef_construct=200) against exact search, and
its filtered query latency against qdrant-client's local mode on the same vectors.

Records: 100,000 vectors of synthetic platform records (runs, model versions, deployments, monitors, pipeline
runs, notes) spread over 20 projects, each payload carrying its `project` and `kind`.

How the vectors are made: embedding 100k texts with all-MiniLM-L6-v2 on this machine's 2 shared CPUs takes well
over an hour (2,000 texts took ~2 min under load), so `--base` real texts (default 2,000) are embedded once and
cached under `~/.cache/jupyter-mlp/bench/` (keyed by the texts and the model), and each record's vector is a
seeded mix of two of them plus Gaussian noise, normalized: `normalize(0.7·e_a + 0.3·e_b + σ·g)`. The mixes keep
the embedding's geometry (clusters of similar records with a continuum between them) without 100k model calls.
Queries are embedded question texts (not records), each with a caller's project list: 1, 3 or 8 of the 20.

Measured, side by side in one run:
- recall@10 of EdgeStore against exact search (numpy brute force over the same project filter);
- p50/p95 filtered query latency, EdgeStore vs qdrant-client local mode (brute force in Python) on the same vectors
  and filters, and the ratio;
- EdgeStore's build time (upsert + optimize) and qdrant-client's load time;
- the floor: Qdrant's engine alone, the same shard searched with a request built before the timing (the query
  vector, the project filter and the search parameters precomputed; no payload, no result conversion), at
  EdgeStore's defaults (hnsw_ef 128, ACORN on). The `ratios:` line (tests/bench/_floor.py) gives qdrant-client /
  EdgeStore (peer) and EdgeStore / engine alone (floor), at p95.

Run: .venv/bin/python -m tests.bench.bench_retrieval [--records 100000] [--queries 300] [--client-queries 60]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from tests.bench._floor import print_ratios

PROJECTS = [f"p{i:02d}-{name}" for i, name in enumerate(
    ["churn", "credit-scoring", "fraud", "risk", "pricing", "demand", "ltv", "retention", "claims", "underwriting",
     "collections", "marketing", "supply", "forecast", "nlp-tickets", "vision-qc", "recsys", "anomaly", "ads",
     "search"])]
KINDS = ["run", "model_version", "deployment", "monitor_window", "pipeline_run", "note"]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "jupyter-mlp" / "bench"


def record_texts(n: int, rng: np.random.Generator) -> list[str]:
    algos = ["xgboost", "lightgbm", "logistic regression", "random forest", "catboost", "MLP", "linear SVM"]
    feats = ["target encoding", "one-hot encoding", "WoE binning", "frequency encoding", "embeddings",
             "polynomial features", "lag features", "rolling windows"]
    clients = ["Acme Bank", "Globex", "Initech", "Umbrella Insurance", "Stark Retail", "Wayne Telecom"]
    out = []
    for i in range(n):
        p = PROJECTS[i % len(PROJECTS)].split("-", 1)[1]
        k = KINDS[rng.integers(len(KINDS))]
        a, f, c = algos[rng.integers(len(algos))], feats[rng.integers(len(feats))], clients[rng.integers(len(clients))]
        auc, lat = rng.uniform(0.6, 0.95), rng.integers(5, 400)
        out.append({
            "run": f"Run {i} of experiment {p}: {a} with {f}, learning rate {rng.uniform(0.001, 0.3):.3f}, "
                   f"AUC {auc:.3f}, dataset applicants snapshot {rng.integers(1e6)}",
            "model_version": f"Model {p} version {rng.integers(1, 40)}: {a}, alias champion, gate passed with AUC "
                             f"{auc:.3f}, approved by lead {c.split()[0].lower()} for client {c}",
            "deployment": f"Deployment {p}-api serving {a} for {c}: p95 latency {lat} ms against an SLA of "
                          f"{lat + rng.integers(-50, 100)} ms, status running",
            "monitor_window": f"Monitor of {p} for {c}: window {rng.integers(1, 365)} drift on {f} PSI "
                              f"{rng.uniform(0, 0.5):.2f}, alert {'raised' if auc < 0.7 else 'none'}",
            "pipeline_run": f"Pipeline {p}-retrain run {i}: stage train {'failed in cell 7 with KeyError' if auc < 0.65 else 'succeeded'}, "
                            f"promotion {'blocked by the gate' if auc < 0.8 else 'done'}",
            "note": f"Project note for {p}: we switched from {f} to {feats[(i + 3) % len(feats)]} because {a} "
                    f"overfit on {c}'s data",
        }[k])
    return out


QUESTIONS = [
    "which feature engineering approach gave the highest AUC", "show me the drift for models deployed for a client",
    "why did last night's retraining not promote", "who approved the champion and on what evidence",
    "which runs used the applicants dataset snapshot", "what is the p95 latency of the api against its SLA",
    "compare the two best runs of the experiment", "which stage failed in the retraining pipeline",
    "models with target encoding and gradient boosting", "alerts raised on PSI drift this quarter",
]


def embed_cached(texts: list[str]) -> np.ndarray:
    from jupyter_mlp_gpu.assistant.embed import Embedder

    key = hashlib.sha256(("all-MiniLM-L6-v2\0" + "\0".join(texts)).encode()).hexdigest()[:16]
    path = CACHE / f"retrieval-{len(texts)}-{key}.npy"
    if path.exists():
        print(f"embeddings of {len(texts)} texts: cached at {path}")
        return np.load(path)
    t0 = time.perf_counter()
    v = Embedder().embed(texts, batch_size=64)
    dt = time.perf_counter() - t0
    print(f"embedded {len(texts)} texts in {dt:.1f} s ({len(texts) / dt:.1f} texts/s incl. model load); "
          f"cached at {path}")
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, v)
    return v


def exact_top(vecs: np.ndarray, proj_idx: np.ndarray, q: np.ndarray, allowed: list[int], k: int) -> list[int]:
    mask = np.isin(proj_idx, allowed)
    cand = np.flatnonzero(mask)
    scores = vecs[cand] @ q
    top = np.argpartition(-scores, k)[:k]
    return [int(cand[i]) for i in top[np.argsort(-scores[top])]]


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(xs), p))


def measure_edge(edge, queries, vecs, proj_idx):
    recall = {1: [], 3: [], 8: []}
    lat_edge = {1: [], 3: [], 8: []}
    for q, allowed in queries:  # warm-up pass, then timed
        edge.query(q.tolist(), [PROJECTS[i] for i in allowed], limit=10)
    for q, allowed in queries:
        names = [PROJECTS[i] for i in allowed]
        ql = q.tolist()
        t = time.perf_counter()
        hits = edge.query(ql, names, limit=10)
        lat_edge[len(allowed)].append(time.perf_counter() - t)
        got = {int(h[0].split(":")[1]) for h in hits}
        truth = set(exact_top(vecs, proj_idx, q, allowed, 10))
        recall[len(allowed)].append(len(got & truth) / 10)
    all_recall = [r for rs in recall.values() for r in rs]
    all_edge = [x for xs in lat_edge.values() for x in xs]
    return recall, lat_edge


def measure_floor(edge, queries) -> tuple[list[float], list[float]]:
    """Latency of the engine alone (`EdgeShard.query` with every request built ahead of the timing), each query
    timed right after the same query through `EdgeStore.query`: (EdgeStore, engine alone), interleaved so that the
    machine's load moves both alike."""
    qe = edge._qe
    requests = [qe.QueryRequest(
        limit=10, query=qe.Query.Nearest([float(x) for x in q]),
        filter=qe.Filter(must=[qe.FieldCondition(key="project", match=qe.MatchAny(any=[PROJECTS[i] for i in allowed]))]),
        with_payload=False,
        params=qe.SearchParams(hnsw_ef=edge.hnsw_ef, acorn=qe.AcornSearchParams(enable=edge.acorn)))
        for q, allowed in queries]
    for req in requests:  # warm-up pass, then timed
        edge._shard.query(req)
    ours, floor = [], []
    for req, (q, allowed) in zip(requests, queries):
        names, ql = [PROJECTS[i] for i in allowed], q.tolist()
        t = time.perf_counter()
        edge.query(ql, names, limit=10)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        edge._shard.query(req)
        floor.append(time.perf_counter() - t)
    return ours, floor


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--base", type=int, default=2_000, help="real texts embedded (the vectors are mixes of them)")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--client-queries", type=int, default=60, help="qdrant-client local mode is brute force: fewer")
    ap.add_argument("--sigma", type=float, default=0.35)
    ap.add_argument("--ef", default="128,256,512", help="hnsw_ef values to measure on the one index (comma list)")
    args = ap.parse_args()
    from jupyter_mlp_gpu.assistant.store import ClientStore, EdgeStore

    rng = np.random.default_rng(13)
    base = embed_cached(record_texts(args.base, np.random.default_rng(7)))
    qvecs = embed_cached(QUESTIONS * 1 + [f"{q} in {p.split('-', 1)[1]}" for q in QUESTIONS for p in PROJECTS[:10]])
    dim = base.shape[1]

    n = args.records
    a, b = rng.integers(len(base), size=n), rng.integers(len(base), size=n)
    vecs = 0.7 * base[a] + 0.3 * base[b] + args.sigma / np.sqrt(dim) * rng.normal(size=(n, dim))
    vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
    proj_idx = rng.integers(len(PROJECTS), size=n)
    kind_idx = rng.integers(len(KINDS), size=n)
    points = [(f"rec:{i}", vecs[i].tolist(), {"project": PROJECTS[proj_idx[i]], "kind": KINDS[kind_idx[i]]})
              for i in range(n)]
    print(f"{n} records x {dim} dims over {len(PROJECTS)} projects ({n // len(PROJECTS)} each)")

    queries = []
    for j in range(args.queries):
        q = qvecs[j % len(qvecs)] + 0.05 / np.sqrt(dim) * rng.normal(size=dim)
        size = (1, 3, 8)[j % 3]
        queries.append(((q / np.linalg.norm(q)).astype(np.float32), sorted(rng.choice(len(PROJECTS), size, replace=False).tolist())))

    tmp = Path(tempfile.mkdtemp(prefix="mlp-bench-retrieval-"))
    try:
        t0 = time.perf_counter()
        edge = EdgeStore(tmp / "edge", dim, m=64, ef_construct=200, optimize_after=0)
        for i in range(0, n, 5000):
            edge.upsert(points[i:i + 5000])
        t_up = time.perf_counter() - t0
        edge.optimize()
        t_build = time.perf_counter() - t0
        info = edge._shard.info()
        print(f"EdgeStore build: upsert {t_up:.1f} s, upsert + optimize (HNSW) {t_build:.1f} s; "
              f"{info.segments_count} segments, {info.indexed_vectors_count} vectors in HNSW")

        results = {}
        for acorn in (False, True):
            for ef in [int(x) for x in args.ef.split(",")]:
                edge.hnsw_ef, edge.acorn = ef, acorn
                results[f"hnsw_ef={ef}, acorn {'on' if acorn else 'off'}"] = measure_edge(edge, queries, vecs, proj_idx)

        edge.hnsw_ef, edge.acorn = 128, True  # EdgeStore's defaults: what the assistant queries with
        ours_default, floor_lat = measure_floor(edge, queries)

        t0 = time.perf_counter()
        client = ClientStore(dim, path=":memory:")
        for i in range(0, n, 5000):
            client.upsert(points[i:i + 5000])
        t_client_load = time.perf_counter() - t0
        lat_client = {1: [], 3: [], 8: []}
        cq = queries[:args.client_queries]
        client.query(queries[0][0].tolist(), [PROJECTS[i] for i in queries[0][1]], limit=10)
        for q, allowed in cq:
            t = time.perf_counter()
            client.query(q.tolist(), [PROJECTS[i] for i in allowed], limit=10)
            lat_client[len(allowed)].append(time.perf_counter() - t)
        all_client = [x for xs in lat_client.values() for x in xs]
        client.close()
        edge.close()

        for ef, (recall, lat_edge) in results.items():
            all_recall = [r for rs in recall.values() for r in rs]
            all_edge = [x for xs in lat_edge.values() for x in xs]
            print(f"{ef}: recall@10 of EdgeStore vs exact search (same project filter), {len(all_recall)} "
                  f"queries: mean {np.mean(all_recall):.4f}, min {min(all_recall):.1f}")
            for size in (1, 3, 8):
                print(f"  caller in {size} project(s): recall@10 {np.mean(recall[size]):.4f}; "
                      f"EdgeStore p50 {pct(lat_edge[size], 50) * 1000:.2f} ms p95 {pct(lat_edge[size], 95) * 1000:.2f} ms; "
                      f"qdrant-client local p50 {pct(lat_client[size] or [float('nan')], 50) * 1000:.1f} ms "
                      f"p95 {pct(lat_client[size] or [float('nan')], 95) * 1000:.1f} ms")
            pe, pc = pct(all_edge, 95), pct(all_client or [float("nan")], 95)
            print(f"  filtered query p95: EdgeStore {pe * 1000:.2f} ms ({len(all_edge)} queries), qdrant-client local "
                  f"mode {pc * 1000:.1f} ms ({len(all_client)} queries): ratio {pc / pe:.0f}x "
                  f"(qdrant-client load {t_client_load:.1f} s)")
        pe, pc, pf = pct(ours_default, 95), pct(all_client or [float("nan")], 95), pct(floor_lat, 95)
        print(f"EdgeStore at its defaults (hnsw_ef 128, ACORN on), each query beside the engine alone: p95 {pe * 1000:.2f} ms, p50 "
              f"{pct(ours_default, 50) * 1000:.2f} ms; the engine alone (requests built ahead, no payload) p95 "
              f"{pf * 1000:.2f} ms, p50 {pct(floor_lat, 50) * 1000:.2f} ms ({len(floor_lat)} queries)")
        print_ratios(pc / pe, "p95 qdrant-client local / EdgeStore", pe / pf, "p95 EdgeStore / Qdrant engine alone")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
