"""Request-size limits of `/api`: a body over the limit is answered 413 before any route parses it.

JSON routes take at most `max_request_bytes`; upload routes (they stream the body to disk) `max_upload_bytes`.
A declared `Content-Length` over the limit is refused unread. A body sent without one (chunked) is counted as it
arrives: JSON bodies are read here up to the limit and handed on, uploads are cut off where they pass it.
Serving's `/serve/…` has its own limit (`serving_max_body_bytes`) and MLflow's gateway its own (artifacts).
"""

from __future__ import annotations

import json

from .errors import MLPError, error_body

UPLOAD_SUFFIXES = ("/batch/upload",)


class RequestTooLarge(MLPError):
    status = 413
    code = "request_too_large"


def _refusal(limit: int) -> tuple[dict, bytes]:
    err = RequestTooLarge(f"Request body is larger than {limit} bytes (the server's limit)")
    body = json.dumps(error_body(err.code, err.message)).encode()
    start = {"type": "http.response.start", "status": err.status,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                         (b"connection", b"close")]}
    return start, body


class BodyLimit:
    """Pure ASGI middleware (nothing is buffered for requests under the limit that declare their length)."""

    def __init__(self, app, max_request_bytes: int, max_upload_bytes: int):  # noqa: ANN001
        self.app = app
        self.max_request = max_request_bytes
        self.max_upload = max_upload_bytes

    async def __call__(self, scope, receive, send):  # noqa: ANN001
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        upload = scope["path"].endswith(UPLOAD_SUFFIXES)
        limit = self.max_upload if upload else self.max_request
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None:
            if not length.isdigit() or int(length) > limit:
                await self._refuse(send, limit)
                return
            await self.app(scope, receive, send)
            return
        if upload:
            await self.app(scope, self._counting(receive, limit), send)
            return
        # No declared length (chunked): read the body here, up to the limit, then replay it to the app.
        parts, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            size += len(message.get("body", b""))
            if size > limit:
                await self._refuse(send, limit)
                return
            parts.append(message)
            if not message.get("more_body"):
                break
        await self.app(scope, _replay(parts, receive), send)

    @staticmethod
    def _counting(receive, limit: int):  # noqa: ANN001, ANN205
        seen = 0

        async def counted():  # noqa: ANN202
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # raised inside the route's read: the error handler answers 413
                    raise RequestTooLarge(f"Request body is larger than {limit} bytes (the server's limit)")
            return message

        return counted

    @staticmethod
    async def _refuse(send, limit: int) -> None:  # noqa: ANN001
        start, body = _refusal(limit)
        await send(start)
        await send({"type": "http.response.body", "body": body})


def _replay(messages, then=None):  # noqa: ANN001, ANN202
    pending = list(messages)

    async def receive():  # noqa: ANN202
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()  # after the body: http.disconnect when the client goes
        return {"type": "http.disconnect"}

    return receive
