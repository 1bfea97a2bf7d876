"""The platform dogfoods its registry (issue 14 item 3): the encoder is trained on the corpus, logged as an MLflow
run of the platform project `mlp-recommender` with the corpus as its dataset lineage, registered as a signed
version and made champion by the gates; the AI services load it only through the signed-model path.

A live backend (tests/conftest.py `backend`, with the managed MLflow), the corpus fixture and a tiny encoder (a few
epochs: seconds). Tampering is done where an attacker would: in the artifact store the backend serves files from,
and in the AI services' local copy."""

from __future__ import annotations

import json

import pytest

from jupyter_mlp.settings import Settings
from jupyter_mlp_gpu.recommender import signed
from jupyter_mlp_gpu.recommender.baselines import PortfolioRanker
from jupyter_mlp_gpu.recommender.corpus import fixture_corpus
from jupyter_mlp_gpu.recommender.model import Settings as ModelSettings
from jupyter_mlp_gpu.recommender.train import retrain

TINY = ModelSettings(layers=1, heads=2, width=16, epochs=8, batch_size=8)


@pytest.fixture
def trained(backend, mlp_home, tmp_path):
    corpus = fixture_corpus(tmp_path / "corpus", n_datasets=12)
    settings = Settings(home=mlp_home, backend_url=backend.url, admin_users=["admin"])
    out = retrain(settings, corpus=tmp_path / "corpus", history=False, model_settings=TINY, max_regret=1.0,
                  log=lambda *_: None)
    return settings, corpus, out


def _stored_weights(mlflow_server, backend, version: int):
    """The version's model.pt in the managed MLflow's artifact store (where the backend reads it)."""
    v = backend.admin.get(f"/projects/{signed.PROJECT}/models/{signed.MODEL}/versions/{version}").json()
    return mlflow_server.root / "artifacts" / v["source"].removeprefix("mlflow-artifacts:/").strip("/") / "model.pt"


def test_encoder_is_a_signed_champion_with_corpus_lineage(backend, trained):
    settings, corpus, out = trained
    admin = backend.admin
    assert out["decision"]["status"] == "passed", out["decision"]
    project = admin.get(f"/projects/{signed.PROJECT}")
    assert project.status_code == 200, project.text
    v = admin.get(f"/projects/{signed.PROJECT}/models/{signed.MODEL}/versions/{out['version']}").json()
    assert v["key_id"] and v["lineage"]["data_sha256"]
    verify = admin.post(f"/projects/{signed.PROJECT}/models/{signed.MODEL}/versions/{out['version']}/verify").json()
    assert verify["ok"], verify
    model = admin.get(f"/projects/{signed.PROJECT}/models/{signed.MODEL}").json()
    assert model["aliases"].get("champion") == out["version"]
    run = admin.get(f"/projects/{signed.PROJECT}/runs/{out['run_id']}").json()
    params = run.get("params") or {}
    metrics = run.get("metrics") or {}
    tags = run.get("tags") or {}
    assert params.get("layers") == "1" and params.get("width") == "16"
    assert {"train_seconds", "final_loss", "heldout_regret_at_5", "heldout_portfolio_regret_at_5"} <= set(metrics)
    reads = json.loads(tags["mlp.datasets"])
    assert reads[0]["name"] == "recommender-corpus" and reads[0]["sha256"] == corpus.version.removeprefix("sha256:")
    # the lineage's data digest is the corpus's: the same read gives the same digest
    assert v["lineage"]["data"]["reads"] == reads


def test_signed_champion_loads_and_ranks(backend, trained):
    settings, corpus, out = trained
    model, version = signed.fetch_champion(settings, backend.url)
    assert version == out["version"] and model.corpus_version == corpus.version
    meta = corpus.meta("fixture:1")
    ranked = model.rank(meta, "binary")
    assert ranked and {c for c, _ in ranked} <= set(corpus.configs["config_id"])
    enc = signed.SignedEncoder(settings, lambda s: backend.url, PortfolioRanker(corpus), "portfolio")
    assert enc.status == {"method": "encoder", "model": "models:/encoder@champion", "project": signed.PROJECT,
                          "version": out["version"], "signed": True}
    assert enc.rank(meta, "binary") == ranked
    # a check while the champion has not moved downloads nothing and keeps the loaded encoder
    assert signed.fetch_champion(settings, backend.url, known=version) == (None, version)
    held = enc._model
    enc.refresh_s = 0
    assert enc.status["version"] == version and enc._model is held


def test_tampered_encoder_is_refused_and_the_baseline_ranks(backend, mlp_home, mlflow_server, trained):
    settings, corpus, out = trained
    weights = _stored_weights(mlflow_server, backend, out["version"])
    assert weights.is_file(), weights
    original = weights.read_bytes()
    weights.write_bytes(original[:-8] + bytes(8))  # the same size, other weights
    with pytest.raises(signed.EncoderRefused, match="file 'model.pt' was changed"):
        signed.fetch_champion(settings, backend.url)
    portfolio = PortfolioRanker(corpus)
    enc = signed.SignedEncoder(settings, lambda s: backend.url, portfolio, "portfolio")
    status = enc.status
    assert status["method"] == "portfolio" and status["fallback"] and "model.pt' was changed" in status["reason"]
    meta = corpus.meta("fixture:1")
    assert enc.rank(meta, "binary") == portfolio.rank(meta, "binary")

    # the local copy: fetched intact, then altered before the next load
    weights.write_bytes(original)
    signed.fetch_champion(settings, backend.url)
    folder = mlp_home / "recommender" / "encoder" / f"v{out['version']}"
    (folder / "model.json").write_text((folder / "model.json").read_text().replace('"temperature"', '"temperature" '))
    statement = json.loads(v_statement(backend, out["version"]))
    with pytest.raises(signed.EncoderRefused, match="model.json' was changed"):
        signed.load_verified(folder, statement["statement"], statement["signature"], signed.trusted_keys(settings),
                             out["version"])


def v_statement(backend, version: int) -> str:
    """The signed statement and signature as the backend gives them to the AI services (service token)."""
    import httpx

    from jupyter_mlp.identity import ensure_secret

    token = ensure_secret(backend.settings.gpu_key_path).decode()
    r = httpx.get(f"{backend.url}/api/recommender/encoder", headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == version
    return json.dumps({"statement": json.loads(body["statement"]), "signature": body["signature"]})


def test_no_champion_is_refused_in_words(backend, mlp_home):
    settings = Settings(home=mlp_home, backend_url=backend.url, admin_users=["admin"])
    with pytest.raises(signed.EncoderRefused, match="no encoder@champion to load \\(404\\)"):
        signed.fetch_champion(settings, backend.url)
    # only the AI services (the service token) read it: a user's token is refused
    r = backend.admin.get("/recommender/encoder")
    assert r.status_code == 403, r.text


def test_suggestion_says_which_ranker(request, mlp_home, tmp_path):
    """Through POST /api/projects/{p}/suggest: without a champion the kNN baseline ranks and the response says why;
    once the encoder is trained and signed, the encoder ranks and the response names the version."""
    import socket
    import threading
    import time

    import uvicorn

    from jupyter_mlp_gpu.app import create_app
    from jupyter_mlp_gpu.recommender.routes import RecommenderEngine

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    request.node.add_marker(pytest.mark.settings(gpu_url=f"http://127.0.0.1:{port}"))  # where the backend finds it
    backend = request.getfixturevalue("backend")
    corpus = fixture_corpus(tmp_path / "corpus", n_datasets=12)
    settings = Settings(home=mlp_home, backend_url=backend.url, admin_users=["admin"], recommender_method="encoder")
    app = create_app(Settings(home=mlp_home, backend_url=backend.url), index_every_s=None)
    app.state.recommender = RecommenderEngine(settings, corpus)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        admin = backend.admin
        assert admin.post("/projects", json={"slug": "acme", "name": "Acme"}).status_code == 201
        profile = {k: v for k, v in corpus.meta("fixture:1").items() if not k.startswith("fixture:")}
        ask = {"profile": profile, "task": "binary"}
        r = admin.post("/projects/acme/suggest", json=ask)
        assert r.status_code == 200, r.text
        ranker = r.json()["ranker"]
        assert ranker["method"] == "knn" and ranker["fallback"] and "no encoder@champion" in ranker["reason"]

        out = retrain(settings, corpus=tmp_path / "corpus", history=False, model_settings=TINY, max_regret=1.0,
                      log=lambda *_: None)
        app.state.recommender.ranker.refresh_s = 0  # pick up the new champion now, not within five minutes
        r = admin.post("/projects/acme/suggest", json=ask)
        assert r.status_code == 200, r.text
        ranker = r.json()["ranker"]
        assert ranker == {"method": "encoder", "model": "models:/encoder@champion", "project": "mlp-recommender",
                          "version": out["version"], "signed": True, "requested": None, "fallback": False,
                          "reason": None}
    finally:
        server.should_exit = True
        thread.join(30)
