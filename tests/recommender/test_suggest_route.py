"""Suggestions end to end, and tenancy: a live backend (tests/conftest.py `backend`, with the managed MLflow) and the
real AI services app on a port with the corpus fixture, each finding the other by settings and sharing the service
token. Datasets are written as Iceberg snapshots through the gateway, runs through MLflow's REST API with the tags a
suggestion's run carries (family, dataset snapshot, target).

The other project's run name, run id, dataset name, column name and a string parameter are planted with marker text
and must never appear in lena's suggestion, though its run counts (anonymously) while `recommender_cross_project` is
on; with the setting off the suggestion is the same as if that run did not exist."""

from __future__ import annotations

import io
import json
import socket
import threading
import time

import httpx
import numpy as np
import pandas as pd
import pytest
import uvicorn

from jupyter_mlp.settings import Settings
from jupyter_mlp_gpu.app import create_app
from jupyter_mlp_gpu.recommender.corpus import fixture_corpus
from jupyter_mlp_gpu.recommender.routes import RecommenderEngine
from jupyter_mlp_gpu.recommender.suggest import NearestDatasetsRanker

SECRETS = ("globexsecretrun", "globexsecretdata", "globexsecretcolumn", "globexsecretparam", "globexsecretkey",
           "globexsecretfamily")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def stack(request, mlp_home, tmp_path):
    gpu_port = _free_port()
    request.node.add_marker(pytest.mark.settings(gpu_url=f"http://127.0.0.1:{gpu_port}"))
    backend = request.getfixturevalue("backend")
    settings = Settings(home=mlp_home, backend_url=backend.url)
    app = create_app(settings, index_every_s=None)
    corpus = fixture_corpus(tmp_path / "corpus", n_datasets=16)
    app.state.recommender = RecommenderEngine(settings, corpus, NearestDatasetsRanker(corpus, k=4))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=gpu_port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    admin = backend.admin
    for slug, members in (("acme", {"lena": "lead"}), ("globex", {"gus": "lead"})):
        assert admin.post("/projects", json={"slug": slug, "name": slug.title()}).status_code == 201
        for user, role in members.items():
            assert admin.put(f"/projects/{slug}/members/{user}", json={"role": role}).status_code == 200
    yield backend
    server.should_exit = True
    thread.join(30)


def _frame(seed: int, target: str, extra: str = "color") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 300
    x = rng.normal(size=(n, 4))
    df = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    df[extra] = rng.choice(["red", "green", "blue"], size=n)
    df.loc[rng.choice(n, 20, replace=False), "a"] = np.nan
    df[target] = (x[:, 0] + rng.normal(scale=0.5, size=n) > 0.8).astype(int)
    return df


def _dataset(backend, user: str, slug: str, name: str, df: pd.DataFrame) -> int:
    env = backend.kernel_env(user, slug)
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    r = httpx.put(f"{env['MLFLOW_TRACKING_URI']}/mlp/datasets/{name}", content=buf.getvalue(), timeout=60,
                  headers={"Authorization": f"Bearer {env['MLFLOW_TRACKING_TOKEN']}"})
    assert r.status_code == 201, r.text
    return r.json()["snapshot_id"]


def _run(backend, user: str, slug: str, name: str, dataset: str, snapshot: int, target: str,
         params: dict[str, str], accuracy: float, family: str = "random_forest") -> str:
    env = backend.kernel_env(user, slug)
    h = {"Authorization": f"Bearer {env['MLFLOW_TRACKING_TOKEN']}"}
    api = f"{env['MLFLOW_TRACKING_URI']}/api/2.0/mlflow"
    tags = {"mlp.family": family, "mlp.target": target,
            "mlp.datasets": json.dumps([{"name": dataset, "snapshot_id": str(snapshot)}])}
    r = httpx.post(f"{api}/runs/create", headers=h, timeout=60, json={
        "experiment_id": env["MLFLOW_EXPERIMENT_ID"], "run_name": name, "start_time": 0,
        "tags": [{"key": k, "value": v} for k, v in tags.items()]})
    assert r.status_code == 200, r.text
    run_id = r.json()["run"]["info"]["run_id"]
    r = httpx.post(f"{api}/runs/log-batch", headers=h, timeout=60, json={
        "run_id": run_id, "params": [{"key": k, "value": v} for k, v in params.items()],
        "metrics": [{"key": "accuracy", "value": accuracy, "timestamp": 0, "step": 0}]})
    assert r.status_code == 200, r.text
    r = httpx.post(f"{api}/runs/update", headers=h, timeout=60, json={"run_id": run_id, "status": "FINISHED",
                                                                       "end_time": 1})
    assert r.status_code == 200, r.text
    return run_id


def _stable(s: dict) -> str:
    """The suggestion without its fresh id."""
    return json.dumps({k: v for k, v in s.items() if k != "suggestion_id"}, sort_keys=True)


def _globex_run(backend) -> str:
    gsnap = _dataset(backend, "gus", "globex", "globexsecretdata", _frame(1, "label", extra="globexsecretcolumn"))
    _run(backend, "gus", "globex", "globexsecretrun2", "globexsecretdata", gsnap, "label", {"C": "1.0"}, 0.8,
         family="globexsecretfamily")
    return _run(backend, "gus", "globex", "globexsecretrun", "globexsecretdata", gsnap, "label",
                {"n_estimators": "80", "max_features": "globexsecretparam", "min_samples_leaf": "3",
                 "globexsecretkey": "7"}, 0.88)


@pytest.mark.settings(recommender_cross_project=False)
def test_cross_project_off_other_projects_change_nothing(stack):
    backend = stack
    lena = backend.client("lena")
    snap = _dataset(backend, "lena", "acme", "churn", _frame(0, "churned"))
    _run(backend, "lena", "acme", "acme-forest", "churn", snap, "churned",
         {"n_estimators": "120", "max_features": "sqrt"}, 0.91)
    before = lena.post("/projects/acme/suggest", json={"dataset": "churn", "target": "churned"})
    assert before.status_code == 200, before.text
    _globex_run(backend)
    after = lena.post("/projects/acme/suggest", json={"dataset": "churn", "target": "churned"})
    assert after.status_code == 200, after.text
    assert _stable(after.json()) == _stable(before.json())
    assert after.json()["history"] == {"runs": 1, "cited": 1}
    h = lena.get("/recommender/history")
    assert h.status_code == 200 and h.json()["total"] == 1 and h.json()["cross_project"] is False


def test_suggest_cites_own_runs_and_keeps_other_projects_anonymous(stack):
    backend = stack
    lena, gus = backend.client("lena"), backend.client("gus")
    snap = _dataset(backend, "lena", "acme", "churn", _frame(0, "churned"))
    own = _run(backend, "lena", "acme", "acme-forest", "churn", snap, "churned",
               {"n_estimators": "120", "max_features": "sqrt"}, 0.91)
    other = _globex_run(backend)

    # on (the default): the other project's run counts, anonymously
    r = lena.post("/projects/acme/suggest", json={"dataset": "churn", "target": "churned"})
    assert r.status_code == 200, r.text
    body, text = r.json(), r.text
    assert body["history"] == {"runs": 2, "cited": 1}
    for secret in (*SECRETS, other, "globex"):
        assert secret not in text, f"{secret!r} leaked into another project's suggestion"
    rf = next(f for f in body["families"] if f["family"] == "random_forest")
    platform = [e for e in rf["evidence"] if e["source"] == "platform"]
    assert {"type": "run", "id": own, "project": "acme", "label": "acme-forest"} in [e.get("citation")
                                                                                    for e in platform]
    assert any(e.get("anonymous") for e in platform)
    assert body["dataset"] == "churn" and body["snapshot_id"] == snap and body["target"] == "churned"
    assert body["task"] == "binary" and body["profile"]["missing_cells"] > 0
    steps = {s["step"] for s in body["preprocessing"]}
    assert {"impute", "one_hot"} <= steps

    # gus, a member of globex only, sees his run cited in his own project's suggestion, and none of acme's names
    g = gus.post("/projects/globex/suggest", json={"dataset": "globexsecretdata", "target": "label"})
    assert g.status_code == 200, g.text
    assert other in g.text and own not in g.text and "acme-forest" not in g.text

    # the history route itself: lena's view has no name of globex's
    h = lena.get("/recommender/history")
    assert h.status_code == 200 and h.json()["total"] == 2
    anonymous = [i for i in h.json()["items"] if not i["visible"]]
    assert [i["params"] for i in anonymous] == [{"n_estimators": 80, "min_samples_leaf": 3}]
    assert all(i["project"] is None and i["run_id"] is None and i["dataset"] is None for i in anonymous)
    assert not any(s in h.text for s in (*SECRETS, other))
    # audited
    audit = backend.admin.get("/audit", params={"limit": 200}).json()["items"]
    assert any(a["action"] == "recommender.suggest" and a["project"] == "acme" for a in audit)


def test_suggest_bad_input_in_words(stack):
    backend = stack
    lena = backend.client("lena")
    _dataset(backend, "lena", "acme", "churn", _frame(0, "churned"))
    _dataset(backend, "gus", "globex", "ledger", _frame(1, "label"))
    cases = [
        ("/projects/acme/suggest", {}, 422, "give a dataset"),
        ("/projects/acme/suggest", {"dataset": "nope", "target": "churned"}, 404, "Dataset 'nope'"),
        ("/projects/acme/suggest", {"dataset": "churn", "target": "income"}, 422, "'income' is not in"),
        ("/projects/acme/suggest", {"dataset": "churn"}, 422, "target column"),
        ("/projects/acme/suggest", {"dataset": "churn", "target": "churned", "snapshot_id": 1}, 404, "snapshot 1"),
        ("/projects/globex/suggest", {"dataset": "ledger", "target": "label"}, 404, "Project 'globex' not found"),
        ("/projects/acme/suggest", {"profile": {"n_rows": 100.0}}, 422, "does not say the task"),
    ]
    for path, body, status, words in cases:
        r = lena.post(path, json=body)
        assert r.status_code == status, (body, r.text)
        assert words in r.json()["error"]["message"], (body, r.json())
    # an inline profile with its task works without any dataset
    r = lena.post("/projects/acme/suggest", json={"profile": {"n_rows": 100.0, "share_numeric": 0.9},
                                                   "task": "binary"})
    assert r.status_code == 200, r.text
    assert r.json()["families"]


def test_mlp_suggest_and_the_notebook_api(stack, mlp_home, use_mlflow):
    import os
    import subprocess
    import sys
    from pathlib import Path

    import mlflow
    from sklearn.model_selection import ParameterGrid

    from jupyter_mlp import suggest
    from jupyter_mlp.client import BackendClient

    backend = stack
    snap = _dataset(backend, "lena", "acme", "churn", _frame(0, "churned"))
    own = _run(backend, "lena", "acme", "acme-forest", "churn", snap, "churned",
               {"n_estimators": "120", "max_features": "sqrt"}, 0.91)
    env = {**os.environ, "MLP_HOME": str(mlp_home), "MLP_BACKEND_URL": backend.url, "USER": "lena", "LOGNAME": "lena"}
    mlp = [str(Path(sys.executable).parent / "mlp")]
    out = subprocess.run([*mlp, "suggest", "churn", "--target", "churned", "-P", "acme"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "1. " in out.stdout and "Preprocessing:" in out.stdout
    assert f"evidence: run acme-forest (acme) {own}" in out.stdout
    js = subprocess.run([*mlp, "suggest", "churn", "--target", "churned", "-P", "acme", "--json"], env=env,
                        capture_output=True, text=True, timeout=120)
    assert js.returncode == 0 and json.loads(js.stdout)["dataset"] == "churn"
    bad = subprocess.run([*mlp, "suggest", "nope", "--target", "churned", "-P", "acme"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Dataset 'nope' not found in project 'acme'" in bad.stderr

    client = BackendClient(Settings(home=mlp_home, backend_url=backend.url), user="lena")
    s = suggest("churn", target="churned", project="acme", client=client)
    fam = s.families[0]
    assert s.families and s.warm_start and s.details(fam)["evidence"]
    dists = s.optuna_space(fam)
    assert set(dists) == set(s.search_space(fam)) and all(type(d).__module__.startswith("optuna") for d in dists.values())
    assert list(ParameterGrid(s.param_grid(fam)))
    # a DataFrame: profiled in the kernel, only the profile is sent
    s2 = suggest(_frame(0, "churned"), target="churned", project="acme", client=client)
    assert s2.body["task"] == "binary" and s2.body["dataset"] is None and s2.families
    # a run started from the suggestion carries its id and family
    use_mlflow(backend.kernel_env("lena", "acme"))
    with s.start_run(fam, run_name="from-suggestion") as run:
        mlflow.log_metric("accuracy", 0.9)
    tags = mlflow.get_run(run.info.run_id).data.tags
    assert tags["mlp.suggestion_id"] == s.id and tags["mlp.family"] == fam and tags["mlp.target"] == "churned"


def test_a_suggestion_imports_optuna_only_when_asked():
    import subprocess
    import sys

    code = ("import sys, jupyter_mlp; from jupyter_mlp.suggestions import Suggestion; "
            "s = Suggestion({'suggestion_id': 'x', 'families': [{'family': 'knn', 'search_space': "
            "{'n_neighbors': {'type': 'int', 'low': 1, 'high': 31, 'log': True}}}]}); "
            "print(s.families, s.param_grid('knn'), 'optuna' in sys.modules); s.optuna_space('knn'); "
            "print('optuna' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["['knn'] {'n_neighbors': [1, 6, 31]} False", "True"]


def test_snapshot_profile_with_and_without_the_catalogs_own(tmp_path):
    """The history profiles a snapshot through the datasets domain's `Catalog.profile` when it has one, else from
    the snapshot's rows: both give the same features, kept once computed."""
    import math

    from jupyter_mlp_backend.datasets.catalog import Catalog
    from jupyter_mlp_backend.recommender.history import snapshot_profile

    catalog = Catalog(tmp_path / "home")
    buf = io.BytesIO()
    _frame(0, "churned").to_parquet(buf, index=False)
    snap = catalog.write("acme", "churn", buf.getvalue(), "overwrite").snapshot_id

    class RowsOnly:  # the same catalog seen without a profile method (the datasets domain before it kept them)
        read, list = catalog.read, catalog.list

    got = []
    for cat, home in ((catalog, tmp_path / "a"), (RowsOnly(), tmp_path / "b")):
        sid, prof = snapshot_profile(home, cat, "acme", "churn", None, "churned")
        assert sid == snap and prof["target_binary"] == 1.0 and prof["missing_cells"] > 0
        assert (home / "recommender" / "profiles" / "acme" / f"churn@{snap}@churned.json").is_file()
        got.append({k: v for k, v in prof.items() if not math.isnan(v)})
    assert got[0] == got[1]
    with pytest.raises(LookupError):
        snapshot_profile(tmp_path / "a", catalog, "acme", "nope", None, "churned")
    with pytest.raises(ValueError):
        snapshot_profile(tmp_path / "c", RowsOnly(), "acme", "churn", snap, "income")
