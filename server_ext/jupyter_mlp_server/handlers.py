"""`/mlp/api/<path>` → backend `/api/<path>`: JSON and streamed bodies, with the user's identity attached.

The handler enforces nothing but Jupyter's own authentication: the backend decides every access. Only the body,
the query string and content negotiation headers travel; the client's credentials and any identity headers stay
behind.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

import httpx
from jupyter_server.base.handlers import APIHandler
from tornado import web

from .kernels import RULE, project_of

FORWARDED_REQUEST_HEADERS = ("content-type", "accept", "last-event-id")
# content-security-policy and x-content-type-options: a window's Evidently report is served with a sandbox CSP
# (an opaque origin for its scripts), which must reach the browser unchanged.
FORWARDED_RESPONSE_HEADERS = ("content-type", "retry-after", "cache-control", "content-disposition", "location",
                              "content-security-policy", "x-content-type-options")


def _error(handler: APIHandler, status: int, code: str, message: str) -> None:
    handler.set_status(status)
    handler.set_header("Content-Type", "application/json")
    handler.finish(json.dumps({"error": {"code": code, "message": message, "detail": None}}))


class BackendProxyHandler(APIHandler):
    @property
    def mlp(self):  # noqa: ANN201
        return self.settings["jupyter_mlp"]

    async def _forward(self, path: str) -> None:
        segments = path.split("/")
        if any(s in ("..", ".") for s in segments):
            return _error(self, 400, "bad_path", "Path segments '.' and '..' are not allowed")
        try:
            base = await self.mlp.backend_base()
        except Exception as e:  # noqa: BLE001 - any failure to start is reported the same way
            self.log.error("jupyter-mlp backend unavailable: %s", e)
            return _error(self, 503, "backend_unavailable", f"The ML platform backend is not available: {e}")
        headers = {k: v for k in FORWARDED_REQUEST_HEADERS if (v := self.request.headers.get(k))}
        headers["Authorization"] = f"Bearer {self.mlp.forwarder.bearer(self)}"
        url = f"{base}/api/{quote(path, safe='/')}"
        if self.request.query:
            url = f"{url}?{self.request.query}"
        client: httpx.AsyncClient = self.mlp.http_client()
        req = client.build_request(
            self.request.method,
            url,
            content=self.request.body or None,
            headers=headers,
        )
        try:
            resp = await client.send(req, stream=True)
        except (httpx.RemoteProtocolError, httpx.ConnectError) as e:
            if self.request.method not in ("GET", "HEAD"):
                return _error(self, 502, "backend_error", f"Could not reach the ML platform backend: {e}")
            try:  # a pooled connection the backend had just closed: a read is safe to send again, once
                resp = await client.send(client.build_request(self.request.method, url, headers=headers),
                                         stream=True)
            except httpx.HTTPError as e2:
                return _error(self, 502, "backend_error", f"Could not reach the ML platform backend: {e2}")
        except httpx.HTTPError as e:
            return _error(self, 502, "backend_error", f"Could not reach the ML platform backend: {e}")
        try:
            self.set_status(resp.status_code)
            for name in FORWARDED_RESPONSE_HEADERS:
                if name in resp.headers:
                    self.set_header(name, resp.headers[name])
            if resp.status_code in (204, 304):
                return self.finish()
            streaming = resp.headers.get("content-type", "").startswith(("text/event-stream", "application/x-ndjson"))
            async for chunk in resp.aiter_bytes():
                self.write(chunk)
                if streaming:
                    await self.flush()
            # APIHandler.finish would label every body JSON; keep the backend's type (HTML reports, files).
            self.finish(set_content_type=resp.headers.get("content-type", "application/json"))
        except (httpx.HTTPError, asyncio.CancelledError) as e:
            self.log.warning("jupyter-mlp stream from backend broke off: %s", e)
            if not self._finished:
                self.finish()
        finally:
            await resp.aclose()

    @web.authenticated
    async def get(self, path: str) -> None:
        await self._forward(path)

    @web.authenticated
    async def post(self, path: str) -> None:
        await self._forward(path)

    @web.authenticated
    async def put(self, path: str) -> None:
        await self._forward(path)

    @web.authenticated
    async def patch(self, path: str) -> None:
        await self._forward(path)

    @web.authenticated
    async def delete(self, path: str) -> None:
        await self._forward(path)


class ProjectOfHandler(APIHandler):
    """Which project a notebook belongs to, by the marker-file rule (shown in the notebook toolbar)."""

    @web.authenticated
    async def get(self) -> None:
        path = self.get_query_argument("path", "")
        if len(path) > 4096 or "\x00" in path:
            return _error(self, 400, "bad_path", "path is too long or contains NUL")
        found = project_of(self.settings["jupyter_mlp"].serverapp.root_dir, path)
        if found.problem and found.marker is None:
            return _error(self, 400, "bad_path", found.problem)
        self.finish(json.dumps({"project": found.project, "marker": found.marker, "rule": RULE,
                                "problem": found.problem}))
