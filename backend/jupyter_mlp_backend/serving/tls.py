"""TLS at the serving gateway (issue 20 item 2; docs/security.md#tls-at-the-serving-gateway).

With `serving_tls_cert` and `serving_tls_key` set, the backend opens a second listener on `serving_tls_port` that
speaks TLS 1.3 only (`minimum_version = TLSv1_3`: a TLS 1.2 client fails the handshake) and answers `/serve/...`
alone; the gateway then refuses `/serve/...` arriving on the backend's plain port, so there is no plain path to a
model. Requests that came through this listener carry `scope["mlp_tls"]`, set by the protocol below from the
transport itself (not from any header a client could send): the client certificate's DER bytes, or None.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from typing import Any, Callable

log = logging.getLogger(__name__)

TLS_SCOPE = "mlp_tls"  # set only by this listener: its presence means the request arrived over TLS


def server_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(cert, key)
    return ctx


def _gateway_only(gateway: Callable) -> Callable:
    async def app(scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/serve/"):
            await gateway(scope, receive, send)
            return
        if scope["type"] == "http":
            body = b'{"error": {"code": "not_found", "message": "This listener serves /serve/... only", "detail": null}}'
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
    return app


async def start_listener(gateway: Callable, host: str, port: int, cert: str, key: str,
                         ctx: ssl.SSLContext | None = None) -> tuple[asyncio.AbstractServer, int]:
    """The TLS listener, in the backend's event loop; returns the server and the port it bound."""
    import uvicorn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    from uvicorn.server import ServerState

    ctx = ctx or server_context(cert, key)
    config = uvicorn.Config(_gateway_only(gateway), lifespan="off", proxy_headers=False, access_log=False,
                            http="httptools", log_level="warning")
    config.load()
    state = ServerState()

    class Protocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            ssl_object = transport.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            inner = self.app

            async def app(scope: dict[str, Any], receive: Callable, send: Callable) -> None:
                scope[TLS_SCOPE] = der
                await inner(scope, receive, send)

            self.app = app

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Protocol(config=config, server_state=state, app_state={}, _loop=loop),
                                      sock=sock, ssl=ctx, backlog=2048)
    bound = sock.getsockname()[1]
    log.info("serving gateway listens with TLS 1.3 on %s:%d", host, bound)
    return server, bound
