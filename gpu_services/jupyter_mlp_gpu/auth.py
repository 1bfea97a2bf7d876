"""The service token: who may call the AI services process.

One secret under `MLP_HOME` (`Settings.gpu_key_path`, 0600, created like the backend's own `secret.key`). The
backend presents it as `Authorization: Bearer <token>`; every route but `/health` refuses a request without it.
"""

from __future__ import annotations

import hmac

from jupyter_mlp.identity import ensure_secret, read_secret
from jupyter_mlp.settings import Settings


def service_token(settings: Settings, create: bool = True) -> str:
    """The token (created on first use when `create`): the backend reads it here to call the process."""
    path = settings.gpu_key_path
    return (ensure_secret(path) if create else read_secret(path)).decode()


def bearer_ok(header: str | None, token: str) -> bool:
    """Whether an `Authorization` header carries the token (constant-time comparison)."""
    if not header:
        return False
    scheme, _, value = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())
