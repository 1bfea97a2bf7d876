"""A small synchronous client of the backend's API, used by the `mlp` CLI and the notebook SDK."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from typing import Any

import httpx

from .identity import mint_token, read_secret
from .local_backend import ensure_backend
from .settings import Settings, load_settings


class APIError(Exception):
    """An error answer from the backend, with its code and plain-words message."""

    def __init__(self, status: int, code: str, message: str, detail: Any = None):
        super().__init__(f"{message} ({status} {code})")
        self.status, self.code, self.message, self.detail = status, code, message, detail


class BackendClient:
    def __init__(self, settings: Settings | None = None, user: str | None = None):
        self.settings = settings or load_settings()
        self._user = user or getpass.getuser()
        self.url = ensure_backend(self.settings, detach=True).url
        self._http = httpx.Client(base_url=f"{self.url}/api", timeout=60.0)

    def _token(self) -> str:
        if self.settings.auth_mode == "hub":
            token = os.environ.get("MLP_TOKEN") or os.environ.get("JUPYTERHUB_API_TOKEN")
            if not token:
                raise APIError(401, "unauthenticated", "Set JUPYTERHUB_API_TOKEN (or MLP_TOKEN) to use the CLI")
            return token
        return mint_token(read_secret(self.settings.secret_path), self._user, self.settings.token_ttl_seconds)

    def request(self, method: str, path: str, raw: bool = False, headers_extra: dict[str, str] | None = None,
                **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self._token()}", **(headers_extra or {})}
        resp = self._http.request(method, path, headers=headers, **kwargs)
        if resp.status_code >= 400:
            try:
                err = resp.json()["error"]
                raise APIError(resp.status_code, err.get("code", ""), err.get("message", resp.text), err.get("detail"))
            except (ValueError, KeyError, TypeError):
                raise APIError(resp.status_code, "http_error", resp.text or resp.reason_phrase) from None
        if raw:
            return resp.content
        if not resp.content:
            return None
        return resp.json() if resp.headers.get("content-type", "").startswith("application/json") else resp.text

    def stream_lines(self, method: str, path: str, body: Any = None) -> Iterator[bytes]:
        """A streamed (NDJSON) response's lines, each with its newline, read as they come."""
        headers = {"Authorization": f"Bearer {self._token()}"}
        with self._http.stream(method, path, headers=headers, json=body, timeout=None) as resp:
            if resp.status_code >= 400:
                resp.read()
                try:
                    err = resp.json()["error"]
                except (ValueError, KeyError, TypeError):
                    raise APIError(resp.status_code, "http_error", resp.text or resp.reason_phrase) from None
                raise APIError(resp.status_code, err.get("code", ""), err.get("message", resp.text), err.get("detail"))
            pending = b""
            for chunk in resp.iter_bytes():
                pending += chunk
                *lines, pending = pending.split(b"\n")
                yield from (line + b"\n" for line in lines)
            if pending:
                yield pending  # a last line without its newline: the stream was cut off

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})  # lists repeat

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, json=body)

    def put(self, path: str, body: Any = None) -> Any:
        return self.request("PUT", path, json=body)

    def patch(self, path: str, body: Any = None) -> Any:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)
