"""The gateway called as the ASGI app it is, without a backend: what it answers for a deployment it does not know."""

from __future__ import annotations

import asyncio
import hashlib

from jupyter_mlp_backend.serving.gateway import Gateway, KeyInfo
from jupyter_mlp_backend.serving.manager import Manager

SECRET = "s3cret"
KEY = f"mlpk_abc_{SECRET}"


async def post(gateway: Gateway, path: str) -> tuple[int, dict[bytes, bytes]]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b'{"inputs": [[1.0]]}', "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await gateway({"type": "http", "method": "POST", "path": path, "headers": [
        (b"authorization", f"Bearer {KEY}".encode()), (b"content-type", b"application/json")]}, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"])


def test_an_unknown_deployment_is_503_while_a_restarted_backend_reads_its_deployments_back(tmp_path):
    """A client calling its deployment's URL across a backend restart must never be told it does not exist (404):
    until the deployments of before the restart are read back, the gateway cannot know, and says retry."""

    async def run() -> None:
        manager = Manager(tmp_path, 5.0)
        info = KeyInfo(1, "abc", hashlib.sha256(SECRET.encode()).hexdigest(), 1, "acme", None, None, False)
        gateway = Gateway(manager, lambda prefix: info if prefix == "abc" else None, key_rate=100,
                          project_rate=100, max_body=1 << 20)
        try:
            manager.resuming = True
            status, headers = await post(gateway, "/serve/acme/churn-api/invocations")
            assert status == 503 and headers[b"retry-after"] == b"1"
            manager.resuming = False  # read back, and it was not among them: it does not exist
            status, _ = await post(gateway, "/serve/acme/churn-api/invocations")
            assert status == 404
        finally:
            await manager.shutdown()

    asyncio.run(run())


def test_serve_requests_reach_the_gateway_ahead_of_the_backends_middleware(tmp_path):
    """The hot path (issue 17): `/serve/...` is handed to the gateway before Starlette's middleware stack (about
    15 µs a request), while every other path still goes through it."""
    import httpx

    from jupyter_mlp.settings import Settings
    from jupyter_mlp_backend import create_app

    seen: list[str] = []

    class Seen:  # a pure ASGI middleware that notes each path it is called for
        def __init__(self, app):  # noqa: ANN001
            self.app = app

        async def __call__(self, scope, receive, send):  # noqa: ANN001
            if scope["type"] == "http":
                seen.append(scope["path"])
            await self.app(scope, receive, send)

    async def run() -> None:
        app = create_app(Settings(home=tmp_path, container_engine="none"))
        app.add_middleware(Seen)
        manager = Manager(tmp_path / "serving", 5.0)
        info = KeyInfo(1, "abc", hashlib.sha256(SECRET.encode()).hexdigest(), 1, "acme", None, None, False)
        app.state.gateway = Gateway(manager, lambda prefix: info if prefix == "abc" else None, key_rate=100,
                                    project_rate=100, max_body=1 << 20)
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
                r = await client.post("/serve/acme/churn-api/invocations", json={"inputs": [[1.0]]},
                                      headers={"Authorization": f"Bearer {KEY}"})
                assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"  # the gateway's answer
                assert len(r.headers["x-prediction-id"]) == 32
                r = await client.post("/serve/acme/churn-api/invocations", json={"inputs": [[1.0]]})
                assert r.status_code == 401  # no key: still the gateway, not the platform's token check
                await client.get("/api/health")
        finally:
            await manager.shutdown()
        assert seen == ["/api/health"], seen

    asyncio.run(run())
