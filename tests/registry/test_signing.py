"""Registration signs a manifest of every file; the loader refuses anything that is not exactly what was signed,
before anything is deserialised."""

from __future__ import annotations

import base64
import json
import pickle
import shutil

from sklearn.linear_model import LogisticRegression


class _Bomb:
    """Unpickling this writes a file: the side effect a malicious model would have."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_register_sign_verify_and_every_tamper_case(backend, project, log_model, artifact_folder, sql, xy, tmp_path):
    x, y = xy
    run_id = log_model(LogisticRegression().fit(x, y), params={"C": 1.0})
    sam = backend.client("sam")
    r = sam.post(f"/projects/{project}/models", json={"name": "churn", "run_id": run_id})
    assert r.status_code == 201, r.text
    v = r.json()
    assert v["version"] == 1 and v["signed"] and v["files"] >= 3 and v["run_id"] == run_id
    for digest in ("data_sha256", "config_sha256", "code_sha256"):
        assert len(v["lineage"][digest]) == 64
    assert v["lineage"]["config"] == {"C": "1.0"} and v["params"] == {"C": "1.0"}

    verify = f"/projects/{project}/models/churn/versions/1/verify"
    ok = sam.post(verify).json()
    assert ok["ok"] and "match the manifest" in ok["message"], ok

    folder = artifact_folder(project, "churn", 1)
    pkl = folder / "model.pkl"
    original = pkl.read_bytes()
    backup = tmp_path / "orig"
    shutil.copytree(folder, backup)

    def refused(fragment: str) -> None:
        out = sam.post(verify).json()
        assert not out["ok"] and fragment in out["message"], out
        shutil.rmtree(folder)
        shutil.copytree(backup, folder)
        assert sam.post(verify).json()["ok"]

    flipped = bytearray(original)
    flipped[len(flipped) // 2] ^= 0x01
    pkl.write_bytes(bytes(flipped))
    refused("file 'model.pkl' was changed")
    (folder / "extra.py").write_text("print('hi')")
    refused("file 'extra.py' was added")
    (folder / "MLmodel").unlink()
    refused("file 'MLmodel' is missing")

    # The statement and signature live in the platform's database; change them as someone with access could.
    row = sql("SELECT statement, signature, key_id FROM model_versions WHERE version = 1")[0]
    statement, signature = json.loads(row[0]), row[1]
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from jupyter_mlp.signing import canonical

    other = Ed25519PrivateKey.generate()
    forged = {**statement}
    sql("UPDATE model_versions SET signature = :s WHERE version = 1",
        s=base64.b64encode(other.sign(canonical(forged))).decode())
    assert "does not match" in sam.post(verify).json()["message"]
    foreign_key = {**statement, "key_id": "0123456789abcdef"}
    sql("UPDATE model_versions SET statement = :st WHERE version = 1", st=canonical(foreign_key).decode())
    assert "does not trust" in sam.post(verify).json()["message"]

    # A genuine signature by this platform's key, but for another project: refused too.
    from jupyter_mlp.signing import make_signer, sign_statement

    signer = make_signer(backend.settings.home)
    elsewhere = sign_statement(signer, {k: v for k, v in statement.items() if k not in ("format", "key_id")}
                               | {"project": "globex"})
    sql("UPDATE model_versions SET statement = :st, signature = :s WHERE version = 1",
        st=canonical(elsewhere.statement).decode(), s=elsewhere.signature)
    assert "signed for project 'globex'" in sam.post(verify).json()["message"]
    sql("UPDATE model_versions SET statement = NULL, signature = NULL WHERE version = 1")
    assert "not signed" in sam.post(verify).json()["message"]
    sql("UPDATE model_versions SET statement = :st, signature = :s WHERE version = 1", st=row[0], s=signature)
    assert sam.post(verify).json()["ok"]


def test_a_pickle_that_runs_code_is_refused_before_it_is_unpickled(backend, project, log_model, artifact_folder,
                                                                   xy, tmp_path, monkeypatch):
    x, y = xy
    run_id = log_model(LogisticRegression().fit(x, y))
    sam = backend.client("sam")
    assert sam.post(f"/projects/{project}/models", json={"name": "churn", "run_id": run_id}).status_code == 201
    lena = backend.client("lena")
    # Gates that would load the model to score it, if it got that far.
    import pandas as pd

    from jupyter_mlp import datasets

    monkeypatch.setenv("MLP_PROJECT", project)
    datasets.register("holdout", pd.DataFrame({**{c: x[c] for c in x.columns}, "y": y}))
    assert lena.put(f"/projects/{project}/models/churn/gates", json={
        "evaluation": {"dataset": "holdout", "target": "y"},
        "thresholds": [{"metric": "accuracy", "op": ">=", "value": 0.5}]}).status_code == 200

    marker = tmp_path / "pwned"
    folder = artifact_folder(project, "churn", 1)
    (folder / "model.pkl").write_bytes(pickle.dumps(_Bomb(str(marker))))  # swapped in the artifact store
    decision = sam.post(f"/projects/{project}/models/churn/versions/1/promote", json={"alias": "staging"})
    assert decision.status_code == 201, decision.text
    d = decision.json()
    assert d["status"] == "failed" and not d["alias_moved"]
    sig = next(r for r in d["evidence"]["results"] if r["gate"] == "signature")
    assert not sig["passed"] and "model.pkl' was changed" in sig["message"]
    assert d["evidence"]["evaluation"] is None  # nothing was scored, so nothing was loaded
    assert not marker.exists()
    assert sam.get(f"/projects/{project}/models/churn").json()["aliases"] == {}

    # Registering a run whose model is such a pickle only hashes it: registration never deserialises.
    bomb_run = log_model(LogisticRegression().fit(x, y), name="bomb")
    r = sam.post(f"/projects/{project}/models", json={"name": "other", "run_id": bomb_run, "artifact_path": "bomb"})
    assert r.status_code == 201
    bomb_dir = artifact_folder(project, "other", 1)
    (bomb_dir / "model.pkl").write_bytes(pickle.dumps(_Bomb(str(marker))))
    again = sam.post(f"/projects/{project}/models", json={"name": "other", "run_id": bomb_run,
                                                          "artifact_path": "bomb"})
    assert again.status_code == 201 and again.json()["version"] == 2  # signed as it is now, never loaded
    assert not marker.exists()


def test_bad_registrations_are_refused_and_nothing_is_left_half_registered(backend, project, log_model, xy):
    x, y = xy
    run_id = log_model(LogisticRegression().fit(x, y))
    sam = backend.client("sam")
    url = f"/projects/{project}/models"
    cases = [
        ({"name": "m", "run_id": run_id, "artifact_path": "../model"}, 422, "artifact_path"),
        ({"name": "m", "run_id": run_id, "artifact_path": "file:///etc/passwd"}, 422, "artifact_path"),
        ({"name": "m", "run_id": run_id, "artifact_path": "/abs/model"}, 422, "artifact_path"),
        ({"name": "m", "run_id": run_id, "artifact_path": "model%2f..%2f.."}, 422, "artifact_path"),
        ({"name": "m", "run_id": run_id, "artifact_path": "nothing-here"}, 404, None),
        ({"name": "m", "run_id": "0" * 32}, 404, None),
        ({"name": "Bad Name", "run_id": run_id}, 422, "name"),
        ({"name": "m", "run_id": run_id, "source": "s3://bucket/x"}, 422, "source"),
    ]
    for body, status, field in cases:
        r = sam.post(url, json=body)
        assert r.status_code == status, (body, r.text)
        if field:
            assert r.json()["error"]["detail"][0]["field"].split(".")[-1] == field, r.text
    assert backend.client("vic").post(url, json={"name": "m", "run_id": run_id}).status_code == 403
    # Another project's run is missing here, exactly like a run that does not exist.
    admin = backend.admin
    assert admin.post("/projects", json={"slug": "globex", "name": "Globex"}).status_code == 201
    assert admin.put("/projects/globex/members/sam", json={"role": "scientist"}).status_code == 200
    theirs = sam.post("/projects/globex/models", json={"name": "m", "run_id": run_id})
    missing = sam.post("/projects/globex/models", json={"name": "m", "run_id": "f" * 32})
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["error"]["message"].replace(run_id, "X") == missing.json()["error"]["message"].replace(
        "f" * 32, "X")
    assert sam.get(url).json()["total"] == 0
    assert sam.get("/projects/globex/models").json()["total"] == 0
