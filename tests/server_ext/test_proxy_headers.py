"""The proxy keeps what a non-JSON answer needs: its content type, and the sandbox CSP a report is served with.

A window's Evidently report (and a run's artifact) is HTML the platform did not write: the backend serves it
with `Content-Security-Policy: sandbox …`, so that opened on its own it runs at an opaque origin. The proxy must
pass that header, `X-Content-Type-Options` and the real content type through to the browser. A stand-in backend
answers here, so no platform backend starts.
"""

from __future__ import annotations

import secrets
import socket

import pytest
import tornado.web

REPORT = "<html><body><h1>report</h1><script>1</script></body></html>"
CSP = "sandbox allow-scripts allow-popups"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORT = _free_port()


class _Report(tornado.web.RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")
        self.finish(REPORT)


class _Json(tornado.web.RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish('{"ok": true}')


@pytest.fixture
def stand_in_backend():
    server = tornado.web.Application([(r"/api/report", _Report), (r"/api/plain", _Json)]).listen(
        PORT, address="127.0.0.1")
    yield f"http://127.0.0.1:{PORT}"
    server.stop()


@pytest.fixture
def jp_server_config(mlp_home):
    mlp_home.mkdir(parents=True, exist_ok=True)
    (mlp_home / "secret.key").write_text(secrets.token_hex(32))  # the forwarder signs the user's token with it
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mlp_server": True},
            "allow_unauthenticated_access": False,
        },
        "MLPServerApp": {"start_backend": False, "backend_url": f"http://127.0.0.1:{PORT}"},
    }


async def test_a_report_keeps_its_type_and_sandbox(stand_in_backend, jp_fetch):
    r = await jp_fetch("mlp", "api", "report", method="GET")
    assert r.code == 200 and r.body.decode() == REPORT
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.headers["Content-Security-Policy"] == CSP
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "no-store"


async def test_json_keeps_jupyters_policy(stand_in_backend, jp_fetch):
    r = await jp_fetch("mlp", "api", "plain", method="GET")
    assert r.code == 200 and r.headers["Content-Type"].startswith("application/json")
    assert "sandbox" not in r.headers["Content-Security-Policy"]  # the backend sent none: Jupyter's stays
