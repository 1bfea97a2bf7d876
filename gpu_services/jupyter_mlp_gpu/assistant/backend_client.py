"""The assistant's only way to the platform's records: the backend's REST API, as the asking user.

`BackendClient(base_url, token)` sends `GET {base_url}/api/...` with `Authorization: Bearer <token>` — the asking
user's token, which the backend hands over read-only. There is no method for any other verb: the planner's tools
can only read, and only what the backend lets that user read, so access is decided in one place (the backend).

Answers are cached per client (one client per question): the planner asks the same page twice without paying
twice. A 403 or 404 becomes `NotVisible` (the assistant says "I found no ... you can open" and never tells
"forbidden" from "absent"); other failures become `BackendError` with the backend's message.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx


class BackendError(RuntimeError):
    def __init__(self, status: int, message: str, path: str = ""):
        super().__init__(f"{status} {path}: {message}")
        self.status = status
        self.path = path


class NotVisible(BackendError):
    """The record does not exist or the user cannot open it (the backend answers both alike)."""


class BackendClient:
    def __init__(self, base_url: str, token: str, *, timeout: float = 15.0,
                 client: httpx.AsyncClient | None = None):
        self.base_url = base_url.rstrip("/")
        self._own = client is None
        self._http = client or httpx.AsyncClient(timeout=timeout)
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._cache: dict[str, Any] = {}
        self._inflight: dict[str, asyncio.Future] = {}
        self.calls = 0  # requests actually sent (for tests and the bench)

    async def get(self, path: str, **params: Any) -> Any:
        """GET /api{path} with query params (lists repeat the key; None is left out) -> the JSON body."""
        query = [(k, str(x)) for k, v in params.items() if v is not None
                 for x in (v if isinstance(v, (list, tuple)) else [v])]
        key = path + "?" + json.dumps(query)
        if key in self._cache:
            return self._cache[key]
        if key in self._inflight:  # the same request already on its way: share its answer
            return await asyncio.shield(self._inflight[key])
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            body = await self._send(path, query)
            self._cache[key] = body
            fut.set_result(body)
            return body
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: no "never retrieved" warning when nobody else waits
            raise
        finally:
            self._inflight.pop(key, None)

    async def _send(self, path: str, query: list[tuple[str, str]]) -> Any:
        self.calls += 1
        r = await self._http.get(f"{self.base_url}/api{path}", params=query, headers=self._headers)
        if r.status_code == 200:
            return r.json()
        try:
            message = r.json()["error"]["message"]
        except Exception:  # noqa: BLE001 - not the platform's error shape
            message = r.text[:200]
        if r.status_code in (403, 404):
            raise NotVisible(r.status_code, message, path)
        raise BackendError(r.status_code, message, path)

    async def pages(self, path: str, *, limit: int = 1000, max_items: int = 100_000, **params: Any) -> list[dict]:
        """Every item of a paged listing ({"items", "total"})."""
        out: list[dict] = []
        offset = 0
        while True:
            page = await self.get(path, limit=limit, offset=offset, **params)
            items = page.get("items", [])
            out.extend(items)
            offset += len(items)
            if not items or offset >= page.get("total", 0) or len(out) >= max_items:
                return out

    async def aclose(self) -> None:
        if self._own:
            await self._http.aclose()

    async def __aenter__(self) -> BackendClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
