"""Errors in MLflow's own REST format, so unchanged MLflow clients understand the gateway's refusals.

The body carries both MLflow's `error_code`/`message` and the platform's `error` object.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

STATUS = {
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "INVALID_PARAMETER_VALUE": 400,
    "BAD_REQUEST": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "RESOURCE_ALREADY_EXISTS": 400,
    "TEMPORARILY_UNAVAILABLE": 503,
}


class GatewayError(Exception):
    def __init__(self, error_code: str, message: str, status: int | None = None):
        super().__init__(message)
        self.error_code, self.message = error_code, message
        self.status = status or STATUS.get(error_code, 400)


def not_found(what: str) -> GatewayError:
    return GatewayError("RESOURCE_DOES_NOT_EXIST", f"{what} not found")


def body(error_code: str, message: str, status: int) -> dict:
    code = {404: "not_found", 401: "unauthenticated", 403: "forbidden", 503: "unavailable"}.get(status, "bad_request")
    return {"error_code": error_code, "message": message, "error": {"code": code, "message": message, "detail": None}}


def install(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def _gateway_error(_: Request, exc: GatewayError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(body(exc.error_code, exc.message, exc.status), status_code=exc.status, headers=headers)
