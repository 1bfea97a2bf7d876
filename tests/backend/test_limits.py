"""What the backend refuses before it does any work: bodies over the size limit (413) and requests without identity
(401, before any check of the request's shape), on every route it registers, documentation included."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from jupyter_mlp.settings import Settings
from jupyter_mlp_backend import create_app


@pytest.fixture
def small(mlp_home):
    """A backend whose limits are small enough to test cheaply: 64 KiB for /api bodies, 256 KiB for uploads."""
    settings = Settings(home=mlp_home, admin_users=["admin"], max_request_bytes=64 * 1024,
                        max_upload_bytes=256 * 1024)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        from jupyter_mlp.identity import mint_token, read_secret

        client.headers["Authorization"] = f"Bearer {mint_token(read_secret(settings.secret_path), 'admin')}"
        yield client


def _too_large(r) -> None:  # noqa: ANN001
    assert r.status_code == 413, (r.status_code, r.text[:300])
    assert r.json()["error"]["code"] == "request_too_large"
    assert "bytes" in r.json()["error"]["message"]


def test_a_20_mb_body_is_refused_unread_by_default(api):
    assert api.settings.max_request_bytes < 20 * 10**6
    admin = api.as_user("admin")
    big = b'{"slug": "big", "name": "' + b"x" * (20 * 10**6) + b'"}'
    _too_large(admin.post("/projects", content=big, headers={"Content-Type": "application/json"}))
    assert admin.get("/projects/big").status_code == 404


def test_a_body_without_length_is_counted(small):
    def chunks():
        for _ in range(100):
            yield b"x" * 1024

    _too_large(small.post("/api/projects", content=chunks(), headers={"Content-Type": "application/json"}))
    # under the limit, the same way of sending works
    ok = small.post("/api/projects", content=iter([b'{"slug": "fine", ', b'"name": "Fine"}']),
                    headers={"Content-Type": "application/json"})
    assert ok.status_code == 201, ok.text


def test_uploads_have_their_own_larger_limit(small):
    assert small.post("/api/projects", json={"slug": "acme", "name": "Acme"}).status_code == 201
    url = "/api/projects/acme/deployments/nope/batch/upload"
    # over the /api limit but under the upload limit: reaches the route (no such deployment)
    r = small.post(url, content=b"x" * (128 * 1024), headers={"Content-Type": "application/octet-stream"})
    assert r.status_code != 413, r.text
    _too_large(small.post(url, content=b"x" * (300 * 1024), headers={"Content-Type": "application/octet-stream"}))

    def chunks():
        for _ in range(300):
            yield b"x" * 1024

    _too_large(small.post(url, content=chunks(), headers={"Content-Type": "application/octet-stream"}))


# What answers without identity on purpose: liveness, and the static page MLflow's "View run" links open (it reads
# nothing: tests/experiments cover it).
PUBLIC = {"/api/health", "/mlflow/{slug}", "/mlflow/{slug}/"}
# Path parameters that are wrong on purpose where a route checks them: identity must be refused first anyway.
SAMPLES = {"slug": "acme", "sub": "/1/%2e%2e/%2e%2e/etc", "digest": "not-a-digest", "endpoint": "no/such/endpoint",
           "path": "x"}


def every_route(routes, prefix: str = ""):  # noqa: ANN001, ANN201
    """(path, methods) of every route, through included routers (FastAPI keeps them nested)."""
    for route in routes:
        if hasattr(route, "original_router"):
            yield from every_route(route.original_router.routes, prefix + route.include_context.prefix)
        elif hasattr(route, "path"):
            yield prefix + route.path, getattr(route, "methods", None)


def test_nothing_but_health_answers_without_identity(api, acme):
    """Every route the app registers (documentation, MLflow's gateway, datasets, metrics), not only the OpenAPI
    document's: without credentials, 401 and nothing else."""
    client = TestClient(api.client.app, raise_server_exceptions=False)
    checked = []
    for path, methods in every_route(api.client.app.routes):
        if path in PUBLIC or path.startswith("/serve/"):
            continue  # /serve/ is the serving gateway (API keys, tests/serving)
        methods = sorted((methods or {"GET"}) - {"HEAD", "OPTIONS"})
        url = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: SAMPLES.get(m.group(1), "1"), path)
        for method in methods:
            r = client.request(method, url, content=b"{}", headers={"Content-Type": "application/json"})
            checked.append(f"{method} {path}")
            assert r.status_code == 401, f"{method} {url} without identity gave {r.status_code}: {r.text[:200]}"
    assert any(c.split()[1].startswith("/mlflow/") for c in checked) and "GET /metrics" in checked
    assert len(checked) > 80


def test_the_openapi_document_needs_identity(api):
    client = TestClient(api.client.app, raise_server_exceptions=False)
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(path).status_code in (401, 404), path
    assert client.get("/api/openapi.json").status_code == 401
    doc = api.as_user("vic").get("/openapi.json")
    assert doc.status_code == 200 and doc.json()["paths"]["/api/health"]
