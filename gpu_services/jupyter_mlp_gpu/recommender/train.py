"""Train the recommender's encoder and register it in the platform's own registry (the platform dogfoods it).

`python -m jupyter_mlp_gpu.recommender.train [--corpus DIR] [--history] [--layers N ...]`, or `retrain(settings)`
(the weekly Dagster schedule runs this module): as a platform admin, through the backend's API like any client,

1. makes the platform project `mlp-recommender` when it is missing (an admin's project, not a client's);
2. with `--history`, rebuilds the firm's-history part of the corpus: the platform's finished runs with a profiled
   dataset (`GET /api/recommender/history`), each a dataset (its profile) x configuration (family, parameters)
   score, merged with the prior corpus into `$MLP_HOME/recommender/corpus` (versioned by content hash; the AI
   services load it from there);
3. trains the encoder twice: on 80% of the corpus's datasets to measure it on the 20% it never saw (normalised
   regret of the best of its top 5, and the same figure for the greedy portfolio trained on the same split), then
   on all of them;
4. logs an MLflow run in the project (params: the model settings; metrics: final and first training loss,
   training time, the held-out figures; the corpus as the run's dataset read, `mlp.datasets`, so the version's
   data lineage digest is the corpus's version) with the model as an MLflow model folder `encoder` (MLmodel,
   `model.pt` tensors, `model.json`);
5. registers it (`POST /api/projects/mlp-recommender/models`: files hashed and signed, lineage digests) and asks
   the gates for `champion`. The model's gates are set on the first registration (held-out regret at most
   `--max-regret`); leads of the project may change them. The AI services load only a signed champion.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .corpus import SHIPPED, Corpus, load_corpus, write_corpus
from .signed import ALIAS, MODEL, PROJECT

TOP = 5
DEFAULT_MAX_REGRET = 0.25


def admin_user(settings: Any) -> str:
    """Who trains: the first platform admin (standalone without admins: the local user, who is admin)."""
    return settings.admin_users[0] if settings.admin_users else getpass.getuser()


# --- the corpus ------------------------------------------------------------------------------------------------

def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
                          ).hexdigest()[:16]


def history_frames(items: list[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The platform's runs (history items) as corpus frames: a dataset per distinct profile, a configuration per
    family and parameters, the run's score. No name reaches the corpus: ids are digests of the statistics."""
    datasets, configs, scores = {}, {}, {}
    for it in items:
        meta = {k: float(v) for k, v in (it.get("meta") or {}).items() if isinstance(v, (int, float))}
        task, family = it.get("task"), it.get("family")
        if not meta or task not in ("binary", "multiclass", "regression") or not family or it.get("score") is None:
            continue
        params = {k: v for k, v in (it.get("params") or {}).items() if isinstance(v, (int, float, str, bool))}
        did = f"platform:{_digest([meta, task])}"
        cid = f"platform:{family}:{_digest(params)}"
        datasets[did] = {"dataset_id": did, "source": "platform", "task": task,
                         "meta": json.dumps(meta, sort_keys=True), "n_rows": int(meta.get("n_rows", 0) or 0),
                         "n_features": int(meta.get("n_features", 0) or 0)}
        configs[cid] = {"config_id": cid, "family": family, "params": json.dumps(params, sort_keys=True),
                        "space": "grid"}
        key = (did, cid, str(it.get("metric") or "score"))
        scores[key] = max(float(it["score"]), scores.get(key, -np.inf))  # the best run of a configuration counts
    s = [{"dataset_id": d, "config_id": c, "metric": m, "score": v} for (d, c, m), v in scores.items()]
    return (pd.DataFrame(list(datasets.values()), columns=["dataset_id", "source", "task", "meta", "n_rows",
                                                           "n_features"]),
            pd.DataFrame(list(configs.values()), columns=["config_id", "family", "params", "space"]),
            pd.DataFrame(s, columns=["dataset_id", "config_id", "score", "metric"]))


def rebuild_corpus(prior: Corpus, items: list[dict[str, Any]], out: Path) -> Corpus:
    """The prior corpus (without any earlier platform part) plus the platform's history, written to `out`."""
    hd, hc, hs = history_frames(items)
    keep = prior.datasets["source"] != "platform"
    ds = pd.concat([prior.datasets[keep], hd], ignore_index=True)
    cf = pd.concat([prior.configs[~prior.configs["config_id"].str.startswith("platform:")], hc], ignore_index=True)
    sc = pd.concat([prior.scores[prior.scores["dataset_id"].isin(set(ds["dataset_id"]))
                                 & prior.scores["config_id"].isin(set(cf["config_id"]))], hs], ignore_index=True)
    sources = {**prior.manifest.get("sources", {}), "platform": f"{len(hd)} datasets, {len(hs)} scores"}
    tmp = out.with_name(out.name + ".new")
    shutil.rmtree(tmp, ignore_errors=True)
    write_corpus(tmp, ds, cf, sc, built_by="jupyter_mlp_gpu.recommender.train --history", sources=sources)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)  # the AI services never see half a corpus
    return load_corpus(out)


# --- training and the held-out figure ----------------------------------------------------------------------------

def heldout(corpus: Corpus, s: Any, share: float = 0.2) -> dict[str, float]:
    """Train on (1 - share) of the datasets; on the rest, mean normalised regret of the best of the top 5 for the
    encoder and for the greedy portfolio (auto-sklearn 2.0 style) trained on the same datasets."""
    from .baselines import PortfolioRanker
    from .model import train
    from .ranking import as_frames, normalised_regret

    frames = as_frames(corpus, space=s.space)
    ids = list(frames.datasets["dataset_id"])
    rng = np.random.default_rng(s.seed)
    test = set(rng.choice(ids, size=max(1, int(round(share * len(ids)))), replace=False)) if len(ids) > 1 else set()
    if not test:
        return {}
    fit = as_frames(corpus, space=s.space, datasets=[d for d in ids if d not in test])
    model, portfolio = train(fit, s), PortfolioRanker(fit)
    held = as_frames(corpus, space=s.space, datasets=test)
    regret = normalised_regret(held.matrix().to_numpy())
    cols = {c: j for j, c in enumerate(held.configs["config_id"])}
    out: dict[str, list[float]] = {"encoder": [], "portfolio": []}
    for i, row in held.datasets.iterrows():
        for name, ranker in (("encoder", model), ("portfolio", portfolio)):
            top = [cols[c] for c, _ in ranker.rank(row["meta"], row["task"]) if c in cols][:TOP]
            out[name].append(float(regret[i, top].min()) if top else 1.0)
    return {"heldout_datasets": float(len(test)), f"heldout_regret_at_{TOP}": float(np.mean(out["encoder"])),
            f"heldout_portfolio_regret_at_{TOP}": float(np.mean(out["portfolio"]))}


MLMODEL = """artifact_path: encoder
flavors:
  jupyter_mlp_recommender:
    format: jupyter-mlp-recommender/1
    weights: model.pt
    config: model.json
    corpus_version: {corpus}
    loader: jupyter_mlp_gpu.recommender.signed.load_verified
model_uuid: {uuid}
utc_time_created: '{created}'
"""


def save_mlflow_folder(model: Any, folder: Path) -> Path:
    """The encoder as an MLflow model folder: MLmodel (no pickle, no python_function flavor: it is loaded only by
    the signed path), `model.pt` (a state_dict of tensors) and `model.json`."""
    import datetime as dt
    import uuid

    model.save(folder)
    (folder / "MLmodel").write_text(MLMODEL.format(
        corpus=json.dumps(model.corpus_version), uuid=uuid.uuid4().hex,
        created=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")))
    return folder


# --- the platform --------------------------------------------------------------------------------------------------

@contextmanager
def _tracking(env: dict[str, str]):
    import mlflow

    before = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield mlflow.MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def ensure_project(client: Any) -> None:
    from jupyter_mlp.client import APIError

    try:
        client.get(f"/projects/{PROJECT}")
    except APIError as e:
        if e.status != 404:
            raise
        client.post("/projects", {"slug": PROJECT, "name": "Recommender (platform)",
                                  "description": "The platform's own models: the recommender's encoder, trained on "
                                                 "the corpus and retrained weekly. Made by the platform."})


def log_run(client: Any, model: Any, corpus: Corpus, corpus_path: str, s: Any, metrics: dict[str, float]) -> str:
    """An MLflow run in the project with params, metrics, the corpus as its dataset read, and the model folder."""
    creds = client.post(f"/projects/{PROJECT}/kernel-token")
    env = {"MLFLOW_TRACKING_URI": f"{client.url}{creds['tracking_path']}", "MLFLOW_TRACKING_TOKEN": creds["token"]}
    read = {"name": "recommender-corpus", "path": corpus_path, "sha256": corpus.version.removeprefix("sha256:"),
            "snapshot_id": None, "rows": int(len(corpus.scores))}
    folder = Path(tempfile.mkdtemp(prefix="mlp-encoder-"))
    try:
        with _tracking(env) as mlf:
            run = mlf.create_run(creds["experiment_id"], run_name=f"encoder-{time.strftime('%Y%m%d-%H%M%S')}", tags={
                "mlp.datasets": json.dumps([read], separators=(",", ":")), "mlp.recommender.corpus": corpus.version,
                "mlp.recommender.trained_by": "jupyter_mlp_gpu.recommender.train"})
            rid = run.info.run_id
            params = {k: v for k, v in asdict(s).items()}
            for i in range(0, len(params), 100):
                chunk = list(params.items())[i:i + 100]
                from mlflow.entities import Metric, Param

                mlf.log_batch(rid, params=[Param(k, str(v)) for k, v in chunk])
            now = int(time.time() * 1000)
            mlf.log_batch(rid, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()]
                          + [Metric("train_loss", float(v), now, step) for step, v in enumerate(model.losses)])
            mlf.log_artifacts(rid, str(save_mlflow_folder(model, folder / "encoder")), "encoder")
            mlf.set_terminated(rid, "FINISHED")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return rid


def register_and_promote(client: Any, run_id: str, max_regret: float) -> dict[str, Any]:
    """Register the run's model (signed, with lineage), set the gates on the first version, ask for champion."""
    v = client.post(f"/projects/{PROJECT}/models", {"name": MODEL, "run_id": run_id, "artifact_path": "encoder"})
    model = client.get(f"/projects/{PROJECT}/models/{MODEL}")
    if not (model.get("gates") or {}).get("thresholds"):
        client.put(f"/projects/{PROJECT}/models/{MODEL}/gates", {
            "thresholds": [{"metric": f"heldout_regret_at_{TOP}", "op": "<=", "value": max_regret}]})
    decision = client.post(f"/projects/{PROJECT}/models/{MODEL}/versions/{v['version']}/promote", {"alias": ALIAS})
    return {"version": v["version"], "decision": decision}


def retrain(settings: Any = None, *, corpus: str | Path | None = None, history: bool = True,
            model_settings: Any = None, max_regret: float = DEFAULT_MAX_REGRET, log=print) -> dict[str, Any]:
    """Rebuild the corpus's platform part (when `history`), train, log, register, ask for champion."""
    from jupyter_mlp.client import BackendClient
    from jupyter_mlp.settings import load_settings

    from .model import Settings, train

    settings = settings or load_settings()
    s = model_settings or Settings()
    client = BackendClient(settings, user=admin_user(settings))
    ensure_project(client)
    local = settings.home / "recommender" / "corpus"
    prior_path = Path(corpus) if corpus else (local if (local / "manifest.json").is_file() else SHIPPED)
    data = load_corpus(prior_path)
    if history:
        items = client.get("/recommender/history").get("items", [])
        data = rebuild_corpus(data, items, local)
        prior_path = local
        log(f"corpus {data.version[:19]}: {len(data.datasets)} datasets, of which "
            f"{int((data.datasets['source'] == 'platform').sum())} from the platform's runs")
    figures = heldout(data, s)
    start = time.perf_counter()
    model = train(data, s)
    seconds = time.perf_counter() - start
    metrics = {**figures, "train_seconds": seconds, "final_loss": model.losses[-1] if model.losses else float("nan"),
               "first_loss": model.losses[0] if model.losses else float("nan"), "datasets": float(len(data.datasets))}
    metrics = {k: v for k, v in metrics.items() if np.isfinite(v)}
    log(f"trained in {seconds:.1f} s: " + ", ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items())))
    run_id = log_run(client, model, data, str(prior_path), s, metrics)
    out = register_and_promote(client, run_id, max_regret)
    d = out["decision"]
    log(f"registered {MODEL} version {out['version']} in {PROJECT} (run {run_id}); {ALIAS}: {d.get('status')}")
    return {"run_id": run_id, "metrics": metrics, "corpus_version": data.version, **out}


def main(argv: list[str] | None = None) -> int:
    from .model import Settings

    p = argparse.ArgumentParser(prog="python -m jupyter_mlp_gpu.recommender.train", description=__doc__.split("\n")[0])
    p.add_argument("--corpus", help="the prior corpus folder (default: $MLP_HOME/recommender/corpus, else shipped)")
    p.add_argument("--history", action="store_true", help="rebuild the corpus's part from the platform's runs")
    p.add_argument("--gpu", action="store_true", help="the seed's size (6 layers x 12 heads) on CUDA when present")
    p.add_argument("--settings", default="{}", help="model settings as JSON, e.g. '{\"epochs\": 50}'")
    p.add_argument("--max-regret", type=float, default=DEFAULT_MAX_REGRET,
                   help=f"the gate set on the first version: held-out regret at {TOP} at most this")
    a = p.parse_args(argv)
    extra = json.loads(a.settings)
    s = Settings.gpu(**extra) if a.gpu else Settings.from_json(extra)
    from jupyter_mlp.client import APIError

    try:
        out = retrain(corpus=a.corpus, history=a.history, model_settings=s, max_regret=a.max_regret)
    except APIError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    return 0 if out["decision"].get("status") in ("passed", "pending") else 3  # 3: the gates said no


if __name__ == "__main__":
    raise SystemExit(main())
