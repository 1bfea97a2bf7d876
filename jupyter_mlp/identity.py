"""Short-lived identity tokens: how a Jupyter server (or the CLI) proves its user to the backend.

Standalone installs share one secret under `$MLP_HOME` (mode 0600, created by the backend on first start).
Whoever can read it is the install's owner, so it can vouch for the user it serves. Tokens are HS256 JWTs
with a fixed audience and a lifetime of seconds, so a leaked one is worth little.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import jwt

from .secret_file import create_secret_file

AUDIENCE = "jupyter-mlp-backend"
ISSUER = "jupyter-mlp"
ALGORITHM = "HS256"


class InvalidToken(Exception):
    """The token is missing, forged, expired or meant for someone else."""


def ensure_secret(path: Path) -> bytes:
    """Create the install secret (0600) if it does not exist yet, and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    create_secret_file(path, secrets.token_hex(32).encode())  # a concurrent first start keeps one
    return read_secret(path)


def read_secret(path: Path) -> bytes:
    value = path.read_text().strip()
    if len(value) < 32:
        raise InvalidToken(f"secret at {path} is too short")
    return value.encode()


def mint_token(
    secret: bytes, user: str, ttl_seconds: int = 60, *, now: float | None = None, **extra: str
) -> str:
    """A token for `user`; `extra` claims narrow it (a kernel token carries `scope` and `prj`)."""
    issued = int(now if now is not None else time.time())
    claims = {**extra, "sub": user, "aud": AUDIENCE, "iss": ISSUER, "iat": issued, "exp": issued + ttl_seconds}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: bytes, token: str) -> str:
    """Return the user a plain (unscoped) token vouches for, or raise InvalidToken."""
    claims = verify_claims(secret, token)
    if "scope" in claims:
        raise InvalidToken(f"a token scoped to {claims['scope']!r} cannot be used here")
    return claims["sub"]


def verify_claims(secret: bytes, token: str) -> dict:
    """Return the verified claims of a token, or raise InvalidToken."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["sub", "exp", "iat", "aud", "iss"]},
        )
    except jwt.PyJWTError as e:
        raise InvalidToken(str(e)) from e
    user = claims["sub"]
    if not isinstance(user, str) or not user:
        raise InvalidToken("token names no user")
    return claims
