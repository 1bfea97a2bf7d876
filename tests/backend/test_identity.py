"""Standalone identity: the install secret, the local admin, and hub mode's separate code path."""

from __future__ import annotations

import getpass
import json
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fastapi.testclient import TestClient

from jupyter_mlp.identity import mint_token, read_secret
from jupyter_mlp.settings import Settings
from jupyter_mlp_backend import create_app


def test_first_start_creates_private_secret_and_local_user_is_admin(mlp_home):
    settings = Settings(home=mlp_home)
    assert not settings.secret_path.exists()
    with TestClient(create_app(settings)) as client:
        mode = stat.S_IMODE(settings.secret_path.stat().st_mode)
        assert mode == 0o600
        token = mint_token(read_secret(settings.secret_path), getpass.getuser())
        me = client.get("/api/whoami", headers={"Authorization": f"Bearer {token}"}).json()
        assert me["user"] == getpass.getuser() and me["is_admin"] is True
        other = mint_token(read_secret(settings.secret_path), "someone-else")
        assert client.get("/api/whoami", headers={"Authorization": f"Bearer {other}"}).json()["is_admin"] is False
    secret = settings.secret_path.read_bytes()
    with TestClient(create_app(settings)):
        assert settings.secret_path.read_bytes() == secret  # a restart keeps the secret, so tokens stay valid


def test_database_lives_under_home_in_wal_mode(mlp_home):
    settings = Settings(home=mlp_home)
    with TestClient(create_app(settings)) as client:
        with client.app.state.db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert (mlp_home / "mlp.db").exists()


class _Hub(BaseHTTPRequestHandler):
    """A stand-in for JupyterHub's `GET /hub/api/user` that knows one token and records what it was asked."""

    seen: list[str] = []

    def do_GET(self):  # noqa: N802
        auth = self.headers.get("Authorization", "")
        _Hub.seen.append(self.path)
        if auth == "token hub-token-of-carol":
            body = json.dumps({"kind": "user", "name": "carol", "admin": False, "groups": []}).encode()
            self.send_response(200)
        else:
            body = json.dumps({"status": 403, "message": "Forbidden"}).encode()
            self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # noqa: ANN002
        pass


def test_hub_mode_resolves_tokens_with_the_hub_and_rejects_standalone_tokens(mlp_home):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hub/api"
        settings = Settings(home=mlp_home, auth_mode="hub", hub_api_url=url, hub_api_token="service-token")
        with TestClient(create_app(settings)) as client:
            r = client.get("/api/whoami", headers={"Authorization": "Bearer hub-token-of-carol"})
            assert r.status_code == 200, r.text
            assert r.json()["user"] == "carol" and r.json()["auth_mode"] == "hub"
            forged = mint_token(read_secret(settings.secret_path), "admin")
            r = client.get("/api/whoami", headers={"Authorization": f"Bearer {forged}"})
            assert r.status_code == 401
        assert any(p.startswith("/hub/api/user") for p in _Hub.seen)
    finally:
        server.shutdown()


def test_backend_listening_socket_lets_asyncio_disable_nagle():
    """Accepted sockets inherit proto; asyncio sets TCP_NODELAY only when it is IPPROTO_TCP (40 ms stalls else)."""
    import socket

    from jupyter_mlp_backend.__main__ import listen_socket

    sock = listen_socket("127.0.0.1", 0)
    try:
        client = socket.create_connection(sock.getsockname())
        conn, _ = sock.accept()
        assert conn.proto == socket.IPPROTO_TCP
        conn.close()
        client.close()
    finally:
        sock.close()
