"""A byte pipe between a TCP port and a Unix socket, so a stage in a container without a network reaches the backend.

A container started with `--network none` has only its own loopback. The stage runner (on the host) listens on a
Unix socket in a folder it mounts into the container and connects each caller to the backend's TCP address; inside
the container, `stage_container` listens on 127.0.0.1 at the backend's port number and connects each caller to
that socket. The stage's URLs (MLflow tracking, datasets) stay exactly what they are outside, and the container
can reach the backend and nothing else.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def _join(a: socket.socket, b: socket.socket) -> None:
    t = threading.Thread(target=_pump, args=(b, a), daemon=True)
    t.start()
    _pump(a, b)
    t.join()
    a.close()
    b.close()


class Bridge:
    """Accept on `listener`; for each caller open `connect()` and copy bytes both ways until either side closes."""

    def __init__(self, listener: socket.socket, connect: Callable[[], socket.socket]):
        self.listener = listener
        self.connect = connect
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> Bridge:
        self.thread.start()
        return self

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = self.connect()
            except OSError:
                conn.close()
                continue
            if upstream.family != socket.AF_UNIX:
                upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if conn.family != socket.AF_UNIX:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=_join, args=(conn, upstream), daemon=True).start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.close()


def unix_to_tcp(path: str, host: str, port: int) -> Bridge:
    """Host side: a Unix socket at `path` whose callers reach host:port."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    os.chmod(path, 0o600)
    s.listen(64)
    return Bridge(s, lambda: socket.create_connection((host, port), timeout=30)).start()


def tcp_to_unix(port: int, path: str) -> Bridge:
    """Container side: 127.0.0.1:port whose callers reach the Unix socket at `path`."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)

    def connect() -> socket.socket:
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        u.connect(path)
        return u

    return Bridge(s, connect).start()
