"""Domain errors and the one place that turns them (and FastAPI's own) into JSON error bodies.

Every error leaves the backend as `{"error": {"code", "message", "detail"}}` with the status that fits.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from jupyter_mlp.at_rest import AtRestError

log = logging.getLogger(__name__)


class MLPError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, detail: Any = None):
        super().__init__(message)
        self.message = message
        self.detail = detail


class Unauthenticated(MLPError):
    status = 401
    code = "unauthenticated"


class Forbidden(MLPError):
    status = 403
    code = "forbidden"


class NotFound(MLPError):
    status = 404
    code = "not_found"


class Conflict(MLPError):
    status = 409
    code = "conflict"


class Invalid(MLPError):
    status = 422
    code = "validation_error"


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "detail": detail}}


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    # The first element says where (body, query, path, header); the rest names the field, which may itself be
    # called `path` or `body`.
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MLPError)
    async def _mlp_error(_: Request, exc: MLPError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(error_body(exc.code, exc.message, exc.detail), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            first = next(e for e in errors if e.get("type") == "json_invalid")
            msg = (first.get("ctx") or {}).get("error", "could not be parsed")
            return JSONResponse(error_body("invalid_json", f"Request body is not valid JSON: {msg}"), status_code=400)
        detail = [
            {"field": _field(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")}
            for e in errors
        ]
        message = "; ".join(f"{d['field']}: {d['message']}" for d in detail)
        return JSONResponse(error_body("validation_error", message, detail), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(AtRestError)
    async def _sealed(_: Request, exc: AtRestError) -> JSONResponse:  # a sealed file: key destroyed, or tampered
        return JSONResponse(error_body("conflict", f"Encrypted data cannot be read: {exc}"), status_code=409)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(error_body("internal_error", "Internal error; see the backend log."), status_code=500)
