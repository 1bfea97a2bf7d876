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
