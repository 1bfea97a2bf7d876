"""The AI services process: its own app, authenticated by the service token, no backend imports, no heavy imports
at load, started and found like the backend (record, kept port, log)."""

from __future__ import annotations

import ast
import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jupyter_mlp.gpu_service import ensure_gpu_service, find_gpu_service, read_gpu_record, service_headers
from jupyter_mlp.settings import Settings
from jupyter_mlp_gpu.app import create_app

ROOT = Path(__file__).resolve().parents[2] / "gpu_services" / "jupyter_mlp_gpu"
HEAVY = ("torch", "sentence_transformers", "transformers", "qdrant_edge", "qdrant_client")


def test_never_imports_the_backend():
    """AST of every module, imports inside functions included: the process reaches the backend over HTTP only."""
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names
                          if n.split(".")[0] in ("jupyter_mlp_backend", "jupyter_mlp_server")]
    assert not offenders, offenders


def test_importing_the_app_loads_nothing_heavy():
    code = ("import sys, jupyter_mlp_gpu.app, jupyter_mlp_gpu.assistant.store, jupyter_mlp_gpu.assistant.embed\n"
            f"print([m for m in sys.modules if m.split('.')[0] in {HEAVY!r}])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout


@pytest.fixture
def settings(mlp_home) -> Settings:
    return Settings(home=mlp_home)


def test_every_route_but_health_needs_the_service_token(settings):
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").json() == {"status": "ok"}
        token = settings.gpu_key_path.read_text().strip()
        assert oct(settings.gpu_key_path.stat().st_mode & 0o777) == "0o600"
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {token}"},
                        {"Authorization": f"Bearer {token}x"}):
            for method, path in (("GET", "/api/info"), ("POST", "/api/embed"), ("GET", "/no/such/route"),
                                 ("GET", "/docs"), ("GET", "/openapi.json")):
                r = client.request(method, path, headers=headers, json={"texts": ["x"]})
                assert r.status_code == 401, (method, path, headers, r.text)
                assert r.json()["error"]["code"] == "unauthenticated" and set(r.json()["error"]) == {
                    "code", "message", "detail"}
                assert r.headers["www-authenticate"] == "Bearer"
        auth = service_headers(settings)
        info = client.get("/api/info", headers=auth).json()
        assert info["service"] == "jupyter-mlp-gpu" and info["vector_store"] == "edge" and info["missing"] == []
        assert client.get("/no/such/route", headers=auth).json()["error"]["code"] == "not_found"


def test_embed_route_validates_input(settings):
    auth = service_headers(settings)
    with TestClient(create_app(settings)) as client:
        for body in ({}, {"texts": []}, {"texts": "one"}, {"texts": ["x"] * 257}, {"texts": [1]}):
            r = client.post("/api/embed", json=body, headers=auth)
            assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error", (body, r.text)
        r = client.post("/api/embed", json={"texts": ["x" * 20_001]}, headers=auth)
        assert r.status_code == 422 and r.json()["error"]["detail"] == {"indexes": [0]}


def test_embed_route_answers_with_the_model(settings, embedder):
    with TestClient(create_app(settings, embedder=embedder)) as client:
        r = client.post("/api/embed", json={"texts": ["churn auc", "drift of risk-api"]},
                        headers=service_headers(settings))
        body = r.json()
        assert r.status_code == 200 and body["dim"] == 384 and len(body["vectors"]) == 2
        assert body["model"] == "all-MiniLM-L6-v2"


def test_started_once_found_again_and_its_port_kept(settings):
    started = ensure_gpu_service(settings)
    try:
        assert started.process is not None
        assert find_gpu_service(settings) == started.url
        assert ensure_gpu_service(settings).process is None  # a second caller finds it, starts nothing
        rec = read_gpu_record(settings)
        assert rec.pid == started.process.pid and rec.url == started.url
        port = json.loads((settings.run_dir / "ports.json").read_text())["gpu"]
        assert started.url.endswith(f":{port}")
        import httpx

        assert httpx.get(f"{started.url}/api/info", timeout=10).status_code == 401
        assert httpx.get(f"{started.url}/api/info", headers=service_headers(settings), timeout=10).status_code == 200
        # Busy (here: stopped for 3 s, past the first 2 s health wait), it is still found, not "not running".
        started.process.send_signal(signal.SIGSTOP)
        resume = threading.Timer(3.0, started.process.send_signal, (signal.SIGCONT,))
        resume.start()
        try:
            assert find_gpu_service(settings) == started.url
        finally:
            resume.join()
            started.process.send_signal(signal.SIGCONT)
    finally:
        started.process.send_signal(signal.SIGTERM)
        started.process.wait(20)
    assert read_gpu_record(settings) is None  # a clean stop forgets the record
    again = ensure_gpu_service(settings)
    try:
        assert again.url == started.url  # the same port after a restart
    finally:
        again.stop()


def test_a_configured_url_starts_nothing(mlp_home):
    s = Settings(home=mlp_home, gpu_url="http://gpu-host.example:8900/")
    assert ensure_gpu_service(s).url == "http://gpu-host.example:8900" and ensure_gpu_service(s).process is None
    assert not (mlp_home / "run" / "gpu.json").exists()
