"""Column policies on datasets (issue 20 item 1): allow / mask / hash / deny per column and role, decided in the
backend from the caller's own role, applied where rows leave it, and audited.

In-process app (`api`): the dataset routes need the catalog and the platform database only, no MLflow."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from jupyter_mlp.identity import mint_token, read_secret

# The storage, key and audit tests run on SQLite and PostgreSQL (`api`'s two databases); the paths that only read
# policies back through the same service run on SQLite alone, to keep the suite's time down.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

CREDIT = pd.DataFrame({"customer": ["c1", "c2", "c3"], "ssn": ["111-22-3333", "222-33-4444", None],
                       "income": [52000, 61000, 48000], "label": [0, 1, 0]})


def _gw(api, user: str, token: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token or api.token(user)}"}


def write(api, slug: str, name: str, df: pd.DataFrame, user: str) -> None:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    r = api.client.put(f"/mlflow/{slug}/mlp/datasets/{name}", content=buf.getvalue(), headers=_gw(api, user))
    assert r.status_code == 201, r.text


def read(api, slug: str, name: str, user: str, token: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    r = api.client.get(f"/mlflow/{slug}/mlp/datasets/{name}", headers=_gw(api, user, token))
    assert r.status_code == 200, r.text
    return pd.read_parquet(io.BytesIO(r.content)), json.loads(r.headers.get("X-MLP-Column-Policies", "[]"))


def set_policy(api, slug: str, name: str, user: str, column: str, role: str, action: str):  # noqa: ANN201
    return api.as_user(user).put(f"/projects/{slug}/datasets/{name}/policies",
                                 json={"column": column, "role": role, "action": action})


def audit_entries(api, slug: str, action: str) -> list[dict]:
    page = api.as_user("admin").get(f"/projects/{slug}/audit", params={"limit": 500}).json()
    # newest first
    return [{**e, "detail": json.loads(e["detail"] or "null")} for e in page["items"] if e["action"] == action]


def test_masked_column_reaches_a_viewer_as_the_token_in_kernel_and_stage_reads(api, acme):
    write(api, acme, "credit", CREDIT, "sam")
    assert set_policy(api, acme, "credit", "sam", "ssn", "viewer", "mask").status_code == 403  # leads only
    assert set_policy(api, acme, "credit", "vic", "ssn", "viewer", "mask").status_code == 403
    r = set_policy(api, acme, "credit", "lena", "ssn", "viewer", "mask")
    assert r.status_code == 200, r.text
    cols = {c["name"]: c["policies"] for c in r.json()["columns"]}
    assert cols == {"customer": {}, "ssn": {"viewer": "mask"}, "income": {}, "label": {}}

    df, shaped = read(api, acme, "credit", "vic")
    assert df["ssn"].tolist() == ["***"] * 3
    assert df["income"].tolist() == CREDIT["income"].tolist()  # unlisted columns: allowed
    assert shaped == ["credit.ssn:viewer=mask"]
    # a pipeline stage reads with a token minted for its run's user (pipelines/run_service.py): same path, same role
    stage = mint_token(read_secret(api.settings.secret_path), "vic", 600, scope="mlflow", prj=acme)
    assert read(api, acme, "credit", "vic", stage)[0]["ssn"].tolist() == ["***"] * 3
    # the role is the caller's own, from the platform: a scientist sees the values, a viewer's claims change nothing
    df, shaped = read(api, acme, "credit", "sam")
    assert df["ssn"].tolist() == CREDIT["ssn"].tolist() and shaped == []

    applied = audit_entries(api, acme, "datasets.policy.applied")
    assert [(e["actor"], e["target"], e["detail"]["policies"]) for e in applied] == [
        ("vic", "dataset:credit", ["credit.ssn:viewer=mask"])] * 2
    changed = audit_entries(api, acme, "datasets.policy.set")
    assert [(e["actor"], e["detail"]) for e in changed] == [
        ("lena", {"column": "ssn", "role": "viewer", "action": "mask", "previous": None})]
    assert api.as_user("vic").get(f"/projects/{acme}/datasets/credit/policies").status_code == 200


def test_hashed_column_joins_within_the_project_and_differs_across_projects(api, acme, globex):
    write(api, acme, "credit", CREDIT, "sam")
    write(api, acme, "loans", pd.DataFrame({"customer": ["c3", "c1"], "amount": [900, 100]}), "sam")
    assert set_policy(api, acme, "credit", "lena", "customer", "viewer", "hash").status_code == 200
    credit, _ = read(api, acme, "credit", "vic")
    # loans sets no policy on `customer`: the strictest one of the project's columns of that name applies
    loans, shaped = read(api, acme, "loans", "vic")
    assert shaped == ["credit.customer:viewer=hash"]
    assert not set(credit["customer"]) & set(CREDIT["customer"])  # no raw id left
    joined = credit.merge(loans, on="customer")
    assert sorted(joined["amount"]) == [100, 900] and sorted(joined["income"]) == [48000, 52000]

    assert api.as_user("admin").put("/projects/globex/members/vic", json={"role": "viewer"}).status_code == 200
    write(api, globex, "credit", CREDIT, "gus")
    assert set_policy(api, globex, "credit", "gus", "customer", "viewer", "hash").status_code == 200
    theirs, _ = read(api, globex, "credit", "vic")
    assert len(theirs) == 3 and not set(theirs["customer"]) & set(credit["customer"])


def test_deny_is_refused_naming_the_policy_and_audited(api, acme):
    write(api, acme, "credit", CREDIT, "sam")
    assert set_policy(api, acme, "credit", "lena", "income", "viewer", "deny").status_code == 200
    r = api.client.get(f"/mlflow/{acme}/mlp/datasets/credit", headers=_gw(api, "vic"))
    assert r.status_code == 403
    assert "credit.income:viewer=deny" in r.json()["message"]
    denied = [e for e in audit_entries(api, acme, "datasets.read") if e["decision"] == "deny"]
    assert denied[0]["actor"] == "vic" and denied[0]["detail"]["policy"] == "credit.income:viewer=deny"
    # a lead lifts it (audited with what it was)
    assert set_policy(api, acme, "credit", "lena", "income", "viewer", "allow").status_code == 200
    assert read(api, acme, "credit", "vic")[0]["income"].tolist() == CREDIT["income"].tolist()
    assert audit_entries(api, acme, "datasets.policy.set")[0]["detail"]["previous"] == "deny"


@SQLITE_ONLY
def test_bad_policy_requests_get_clear_errors(api, acme, globex):
    write(api, acme, "credit", CREDIT, "sam")
    for body in [{"column": "nope", "role": "viewer", "action": "mask"},
                 {"column": "ssn", "role": "king", "action": "mask"},
                 {"column": "ssn", "role": "viewer", "action": "blur"},
                 {"column": "ssn", "role": "viewer"}]:
        r = api.as_user("lena").put(f"/projects/{acme}/datasets/credit/policies", json=body)
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error", (body, r.text)
    assert "no column 'nope'" in api.as_user("lena").put(f"/projects/{acme}/datasets/credit/policies", json={
        "column": "nope", "role": "viewer", "action": "mask"}).json()["error"]["message"]
    missing = api.as_user("lena").put(f"/projects/{acme}/datasets/nope/policies",
                                      json={"column": "ssn", "role": "viewer", "action": "mask"})
    assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]
    # another project's lead: the same 404 as a project that does not exist
    assert set_policy(api, acme, "credit", "gus", "ssn", "viewer", "mask").status_code == 404


def deployment_with_log(api, slug: str, name: str, requests: list[tuple[str, dict]]) -> tuple[int, int]:
    """A deployment's rows in the platform database and its prediction log on Iceberg, as the gateway writes them
    (serving/predlog.py's schema), without starting a worker: the API under test only reads them back."""
    import uuid
    from datetime import datetime, timezone

    import pyarrow as pa
    from sqlalchemy import select

    from jupyter_mlp_backend.orm import Deployment, ModelVersion, Project, RegisteredModel
    from jupyter_mlp_backend.serving.predlog import _schema, table_name

    with api.db.session() as s:
        p = s.execute(select(Project).where(Project.slug == slug)).scalar_one()
        m = RegisteredModel(project_id=p.id, name="risk", mlflow_name=f"{slug}.risk.{uuid.uuid4().hex}",
                            created_by="sam")
        s.add(m)
        s.flush()
        v = ModelVersion(model_id=m.id, version=1, source="x", lineage="{}", created_by="sam")
        s.add(v)
        s.flush()
        d = Deployment(project_id=p.id, name=name, model_id=m.id, version_id=v.id, status="ready", created_by="sam")
        s.add(d)
        s.commit()
        ids = d.id, v.id
    now = datetime.now(timezone.utc)
    rows = [(f"p{i}", now, "risk", 1, wire, 1.0, json.dumps(body), json.dumps({"predictions": [0]}))
            for i, (wire, body) in enumerate(requests)]
    table = pa.Table.from_pylist([dict(zip(_schema("predictions").names, r)) for r in rows],
                                 schema=_schema("predictions"))
    api.client.app.state.datasets.append_arrow(slug, table_name("predictions", name), table)
    return ids


REQUESTS = [
    ("mlflow", {"dataframe_split": {"columns": ["customer", "ssn", "income"], "data": [["c1", "111-22-3333", 1]]}}),
    ("mlflow", {"dataframe_records": [{"customer": "c2", "ssn": "222-33-4444", "income": 2}]}),
    ("mlflow", {"inputs": {"customer": ["c3"], "ssn": ["333-44-5555"], "income": [3]}}),
    ("v2", {"inputs": [{"name": "ssn", "datatype": "BYTES", "shape": [1], "data": ["444-55-6666"]},
                       {"name": "income", "datatype": "INT64", "shape": [1], "data": [4]}]}),
]


@SQLITE_ONLY
def test_prediction_log_api_masks_for_a_viewer_and_refuses_a_denied_column(api, acme):
    write(api, acme, "credit", CREDIT, "sam")
    deployment_with_log(api, acme, "risk-api", REQUESTS)
    assert set_policy(api, acme, "credit", "lena", "ssn", "viewer", "mask").status_code == 200
    page = api.as_user("vic").get(f"/projects/{acme}/deployments/risk-api/predictions", params={"limit": 10})
    assert page.status_code == 200, page.text
    text = json.dumps(page.json())
    assert page.json()["total"] == 4 and text.count("***") == 4  # one in each protocol's request
    assert not any(ssn in text for ssn in ("111-22-3333", "222-33-4444", "333-44-5555", "444-55-6666"))
    assert all(str(n) in text for n in (1, 2, 3, 4))  # the other columns as they were
    sam = json.dumps(api.as_user("sam").get(f"/projects/{acme}/deployments/risk-api/predictions").json())
    assert "111-22-3333" in sam and "***" not in sam
    assert [e["detail"]["path"] for e in audit_entries(api, acme, "datasets.policy.applied")] == ["prediction-log"]
    # the log is a table of the project too: read through the dataset route it is shaped the same way
    table, shaped = read(api, acme, "predictions_risk_api", "vic")
    assert shaped == ["credit.ssn:viewer=mask"] and "111-22-3333" not in "".join(table["request"])

    assert set_policy(api, acme, "credit", "lena", "income", "viewer", "deny").status_code == 200
    r = api.as_user("vic").get(f"/projects/{acme}/deployments/risk-api/predictions")
    assert r.status_code == 403 and "credit.income:viewer=deny" in r.json()["error"]["message"]


@SQLITE_ONLY
def test_drift_report_withholds_a_masked_feature_naming_the_policy(api, acme):
    """The window's Evidently report draws both the window's and the reference's values: a feature the role sees
    masked is left out of both, and the report says so with the token and the policy."""
    from datetime import datetime, timezone

    import numpy as np

    from jupyter_mlp_backend.monitoring.drift import ReferenceProfile
    from jupyter_mlp_backend.monitoring.reference import profile_dir
    from jupyter_mlp_backend.orm import Deployment, Monitor, MonitorWindow

    write(api, acme, "credit", CREDIT, "sam")
    reqs = [("mlflow", {"dataframe_records": [{"ssn": f"{i % 5:03d}-55-0000", "income": 10 * i}]}) for i in range(30)]
    deployment_id, version_id = deployment_with_log(api, acme, "risk-api", reqs)
    # a reference profile as drift.build_profile makes it for 240 training rows (its calibration, ~3 s, left out)
    categories = np.array([f"{i:03d}-99-0000" for i in range(7)], dtype=object)
    ReferenceProfile(
        features=["ssn", "income"], kinds={"ssn": "categorical", "income": "continuous"},
        tests={"ssn": "psi", "income": "ks"}, thresholds={"ssn": 1.66, "income": 0.004}, window_size=30,
        method={"alpha": 0.008}, reference_rows=240, values={"income": np.arange(240, dtype=float)},
        categories={"ssn": categories}, counts={"ssn": np.array([36, 36, 36, 35, 34, 33, 30])},
        category_types={"ssn": "str"}, expected_values={"ssn": 30.0, "income": 30.0},
        min_values={"ssn": 30, "income": 30}, small_thresholds={"ssn": 1.66},
    ).save(profile_dir(api.settings.home, version_id))
    with api.db.session() as s:
        m = Monitor(project_id=s.get(Deployment, deployment_id).project_id, deployment_id=deployment_id,
                    window_size=30, created_by="sam")
        s.add(m)
        s.flush()
        now = datetime.now(timezone.utc)
        w = MonitorWindow(monitor_id=m.id, version_id=version_id, seq=0, start_ts=now, end_ts=now, rows=30,
                          status="ok", drift="{}")
        s.add(w)
        s.commit()
        window = w.id
    url = f"/projects/{acme}/deployments/risk-api/monitor/windows/{window}/report"
    assert set_policy(api, acme, "credit", "lena", "ssn", "viewer", "mask").status_code == 200
    html = api.as_user("vic").get(url)
    assert html.status_code == 200, html.text
    assert "-55-0000" not in html.text and "-99-0000" not in html.text  # neither the window's nor the reference's
    assert "credit.ssn:viewer=mask" in html.text and "***" in html.text
    assert "income" in html.text and 'data-status="insufficient data"' not in html.text  # the window was read
    assert [e["detail"]["path"] for e in audit_entries(api, acme, "datasets.policy.applied")] == ["drift-report"]
    assert set_policy(api, acme, "credit", "lena", "ssn", "viewer", "deny").status_code == 200
    r = api.as_user("vic").get(url)
    assert r.status_code == 403 and "credit.ssn:viewer=deny" in r.json()["error"]["message"]


@SQLITE_ONLY
def test_monitor_profile_and_windows_withhold_a_masked_columns_statistics(api, acme):
    """The monitor's reference profile (mean, quantiles, top categories of the training data) and each window's drift
    statistics are the column's values summed up: a feature the role sees masked keeps its test, threshold and
    verdict, its statistics are withheld (said so, with the policy); a denied one refuses both, naming the policy."""
    from datetime import datetime, timezone

    from jupyter_mlp_backend.orm import Deployment, Monitor, MonitorWindow, ReferenceProfile

    write(api, acme, "credit", CREDIT, "sam")
    deployment_id, version_id = deployment_with_log(api, acme, "risk-api", REQUESTS[:1])
    ssn = {"feature": "ssn", "kind": "categorical", "test": "psi", "threshold": 1.66, "drift_when": "psi >= threshold",
           "reference_rows": 240, "missing_share": 0.0, "min_values": 30, "categories": 7,
           "top": [{"value": "111-22-3333", "share": 0.15}]}
    income = {"feature": "income", "kind": "continuous", "test": "ks", "threshold": 0.004,
              "drift_when": "p-value <= threshold", "reference_rows": 240, "missing_share": 0.0, "min_values": 30,
              "mean": 52123.5, "std": 1.0, "min": 48000.0, "p05": 1.0, "p25": 1.0, "median": 51999.0, "p75": 1.0,
              "p95": 1.0, "max": 61000.0}
    drift = {"status": "drift", "rows": 30, "added_columns": [], "missing_columns": [], "message": "drift in 1 of 2",
             "features": [{"feature": "ssn", "kind": "categorical", "test": "psi", "statistic": 4.25,
                           "threshold": 1.66, "drift": True, "status": "drift",
                           "message": "PSI 4.25 >= threshold 1.66 (30 values)"},
                          {"feature": "income", "kind": "continuous", "test": "ks", "statistic": 0.5,
                           "threshold": 0.004, "drift": False, "status": "ok",
                           "message": "KS p-value 0.5 > threshold 0.004 (30 values)"}]}
    with api.db.session() as s:
        m = Monitor(project_id=s.get(Deployment, deployment_id).project_id, deployment_id=deployment_id,
                    window_size=30, created_by="sam")
        s.add(m)
        s.add(ReferenceProfile(version_id=version_id, dataset="credit", status="ready", window_size=30, rows=240,
                               features=json.dumps([ssn, income]), thresholds='{"ssn": 1.66, "income": 0.004}'))
        s.flush()
        now = datetime.now(timezone.utc)
        s.add(MonitorWindow(monitor_id=m.id, version_id=version_id, seq=0, start_ts=now, end_ts=now, rows=30,
                            status="drift", drift=json.dumps(drift)))
        s.commit()
    monitor = f"/projects/{acme}/deployments/risk-api/monitor"
    assert api.as_user("vic").get(monitor).json()["profile"]["features"] == [ssn, income]  # no policy yet

    assert set_policy(api, acme, "credit", "lena", "ssn", "viewer", "mask").status_code == 200
    r = api.as_user("vic").get(monitor)
    assert r.status_code == 200, r.text
    shown = {f["feature"]: f for f in r.json()["profile"]["features"]}
    assert "111-22-3333" not in r.text and "top" not in shown["ssn"] and "categories" not in shown["ssn"]
    assert {k: shown["ssn"][k] for k in ("test", "threshold", "reference_rows")} == {
        "test": "psi", "threshold": 1.66, "reference_rows": 240}
    assert "credit.ssn:viewer=mask" in shown["ssn"]["withheld"] and "***" in shown["ssn"]["withheld"]
    assert shown["income"] == income  # the other features as they were
    page = api.as_user("vic").get(f"{monitor}/windows")
    assert page.status_code == 200, page.text
    feats = {f["feature"]: f for f in page.json()["items"][0]["drift"]["features"]}
    assert feats["ssn"]["statistic"] is None and "4.25" not in json.dumps(feats["ssn"])
    assert feats["ssn"]["drift"] is True and feats["ssn"]["status"] == "drift"  # the verdict stays
    assert "credit.ssn:viewer=mask" in feats["ssn"]["withheld"]
    assert feats["income"]["statistic"] == 0.5
    lead = api.as_user("sam").get(monitor).json()["profile"]["features"]
    assert lead == [ssn, income]  # a role the policy does not name sees them all
    assert [e["detail"]["path"] for e in audit_entries(api, acme, "datasets.policy.applied")] == [
        "monitor-windows", "monitor-profile"]
    # the model card quotes the same windows (monitoring.version_windows): shaped alike, a denied feature withheld too
    from jupyter_mlp_backend.identity import Identity
    from jupyter_mlp_backend.monitoring.service import version_windows

    def card_features(user: str) -> dict:
        with api.db.session() as s:
            (seen,) = version_windows(s, Identity(user, False), acme, "risk", 1)
        return {f["feature"]: f for f in seen["windows"][0]["drift"]["features"]}

    assert card_features("vic")["ssn"] == feats["ssn"] and card_features("sam")["ssn"]["statistic"] == 4.25

    assert set_policy(api, acme, "credit", "lena", "ssn", "viewer", "deny").status_code == 200
    for url in (monitor, f"{monitor}/windows"):
        r = api.as_user("vic").get(url)
        assert r.status_code == 403 and "credit.ssn:viewer=deny" in r.json()["error"]["message"], r.text
    denied = [e for e in audit_entries(api, acme, "datasets.read") if e["decision"] == "deny"]
    assert [e["detail"]["path"] for e in denied] == ["monitor-windows", "monitor-profile"]
    card = card_features("vic")["ssn"]
    assert card["statistic"] is None and "credit.ssn:viewer=deny" in card["withheld"]
    assert audit_entries(api, acme, "datasets.policy.applied")[0]["detail"]["path"] == "model-card"


@SQLITE_ONLY
def test_a_read_names_only_a_stage_run_of_the_callers_project(api, acme):
    """A pipeline stage's read names its own run (the backend records the read, with the policies that shaped it,
    in that run's lineage: tests/registry/test_pipeline_models.py); a name that is no run id is refused before the
    read (one of another project's, or not a running stage of the caller's, too: that needs MLflow, so not here)."""
    write(api, acme, "credit", CREDIT, "sam")
    for bad in ("../x", "a b"):
        r = api.client.get(f"/mlflow/{acme}/mlp/datasets/credit", params={"stage_run": bad}, headers=_gw(api, "sam"))
        assert r.status_code == 400 and "is not a run of this project" in r.json()["message"], r.text


@SQLITE_ONLY
def test_mlp_datasets_policy_shows_and_sets_policies(api, acme, monkeypatch, capsys):
    """The CLI's parser and handlers in this process, its client on the in-process app (no platform started)."""
    from fastapi.testclient import TestClient

    from jupyter_mlp.cli import datasets as cli_datasets
    from jupyter_mlp.cli import main
    from jupyter_mlp.client import BackendClient

    write(api, acme, "credit", CREDIT, "sam")
    user = {"name": "lena"}

    def client() -> BackendClient:
        c = object.__new__(BackendClient)  # BackendClient.__init__ would find or start a backend process
        c.settings, c._user = api.settings, user["name"]
        c._http = TestClient(api.client.app, base_url="http://testserver/api")
        return c

    monkeypatch.setattr(cli_datasets, "backend_client", client)
    assert main(["datasets", "policy", "credit", "-P", acme, "--column", "ssn", "--role", "viewer",
                 "--action", "hash"]) == 0
    out = capsys.readouterr().out
    assert "COLUMN" in out and "VIEWER" in out and any(line.split()[:2] == ["ssn", "hash"] for line in
                                                          out.splitlines())
    assert main(["--json", "datasets", "policy", "credit", "-P", acme]) == 0
    body = json.loads(capsys.readouterr().out)
    assert {c["name"]: c["policies"] for c in body["columns"]}["ssn"] == {"viewer": "hash"}
    assert main(["datasets", "list", "-P", acme]) == 0 and "credit" in capsys.readouterr().out
    user["name"] = "sam"  # a scientist: refused in plain words, non-zero
    assert main(["datasets", "policy", "credit", "-P", acme, "--column", "ssn", "--role", "viewer",
                 "--action", "allow"]) == 2
    assert "datasets.policy" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="all of --column, --role and --action"):
        main(["datasets", "policy", "credit", "-P", acme, "--column", "ssn"])


@SQLITE_ONLY
def test_batch_output_masks_for_a_viewer_and_refuses_a_denied_column(api, acme):
    """A batch job's file output (the scored rows with their input columns), downloaded by a viewer: the project's
    policies on columns of those names apply. (A job writing to a dataset is read through the dataset route.)"""
    import uuid

    from jupyter_mlp_backend.orm import BatchJob
    from jupyter_mlp_backend.serving.batch import job_dir

    write(api, acme, "credit", CREDIT, "sam")
    deployment_id, version_id = deployment_with_log(api, acme, "risk-api", REQUESTS[:1])
    job = uuid.uuid4().hex
    with api.db.session() as s:
        s.add(BatchJob(id=job, deployment_id=deployment_id, version_id=version_id, status="succeeded",
                       source=json.dumps({"kind": "dataset", "dataset": "credit"}), output=json.dumps({"kind": "file"}),
                       chunk_rows=10, created_by="sam"))
        s.commit()
    folder = job_dir(api.settings.home, job)
    folder.mkdir(parents=True, exist_ok=True)
    CREDIT.assign(prediction=[0, 1, 0]).to_parquet(folder / "output.parquet", index=False)
    assert set_policy(api, acme, "credit", "lena", "ssn", "viewer", "mask").status_code == 200
    url = f"/projects/{acme}/batch-jobs/{job}/output"
    out = pd.read_parquet(io.BytesIO(api.as_user("vic").get(url).content))
    assert out["ssn"].tolist() == ["***"] * 3 and out["prediction"].tolist() == [0, 1, 0]
    assert pd.read_parquet(io.BytesIO(api.as_user("sam").get(url).content))["ssn"].tolist() == CREDIT["ssn"].tolist()
    assert [e["detail"]["path"] for e in audit_entries(api, acme, "datasets.policy.applied")] == ["batch-output"]
    assert set_policy(api, acme, "credit", "lena", "income", "viewer", "deny").status_code == 200
    r = api.as_user("vic").get(url)
    assert r.status_code == 403 and "credit.income:viewer=deny" in r.json()["error"]["message"]


@SQLITE_ONLY
def test_ship_example_request_is_shaped_for_the_callers_role(api, acme):
    """The Ship flow's copyable requests carry a training row: shaped for the caller's role like any other row
    (the function the flow calls, on the in-process app; the whole flow is tests/ship's)."""
    from jupyter_mlp_backend.identity import Identity
    from jupyter_mlp_backend.ship.service import shaped_example

    write(api, acme, "credit", CREDIT, "sam")
    assert set_policy(api, acme, "credit", "lena", "ssn", "scientist", "mask").status_code == 200
    body = {"dataframe_split": {"columns": ["ssn", "income"], "data": [["111-22-3333", 52000]]}}
    app = api.client.app
    with app.state.db.session() as db:
        shaped, source = shaped_example(app, db, Identity(user="sam", is_admin=False), acme, "s1", body, "dataset credit")
        assert shaped["dataframe_split"]["data"] == [["***", 52000]]
        assert source == "dataset credit (credit.ssn:scientist=mask)"
        same, _ = shaped_example(app, db, Identity(user="lena", is_admin=False), acme, "s2", body, "dataset credit")
        assert same == body
    assert set_policy(api, acme, "credit", "lena", "income", "scientist", "deny").status_code == 200
    with app.state.db.session() as db:
        empty, why = shaped_example(app, db, Identity(user="sam", is_admin=False), acme, "s3", body, "dataset credit")
    assert empty["dataframe_split"]["data"] == [] and "credit.income:scientist=deny" in why
    assert [e["detail"]["path"] for e in audit_entries(api, acme, "datasets.policy.applied")] == ["ship-example"]
