"""Who is calling: the backend resolves identity on every request and trusts nothing the client says.

One interface, two implementations: standalone installs verify tokens signed with the install secret;
JupyterHub deployments ask the hub (`HubAuth.user_for_token`). A user name in a header, query or body is
never read.
"""

from __future__ import annotations

import getpass
import time
from dataclasses import dataclass, replace
from typing import Protocol
from urllib.parse import quote

from jupyter_mlp.identity import InvalidToken, verify_claims, verify_token
from jupyter_mlp.settings import Settings

from .errors import Forbidden, MLPError, Unauthenticated


class HubUnavailable(MLPError):
    status = 503
    code = "hub_unavailable"


@dataclass(frozen=True)
class Identity:
    user: str
    is_admin: bool
    scope: str | None = None  # "assistant": a read-only token the backend minted for the assistant (deps.caller)


class IdentityResolver(Protocol):
    mode: str

    def resolve(self, token: str) -> Identity: ...

    def recheck(self, who: Identity) -> Identity:
        """For a token the backend minted itself (a kernel's MLflow credentials, the assistant's): the user it
        names as they are now. Raises Unauthenticated when the identity source no longer knows them."""
        ...


class StandaloneResolver:
    """Tokens signed by the server extension or CLI with `$MLP_HOME/secret.key`."""

    mode = "standalone"

    def __init__(self, secret: bytes, admins: set[str]):
        self._secret = secret
        self._admins = admins

    def resolve(self, token: str) -> Identity:
        try:
            user = verify_token(self._secret, token)
        except InvalidToken as e:
            raise Unauthenticated(f"Invalid or expired token: {e}") from e
        return Identity(user=user, is_admin=user in self._admins)

    def recheck(self, who: Identity) -> Identity:
        return who  # the install's own secret signed it; no directory of users to ask


class HubResolver:
    """Tokens issued by JupyterHub, resolved by the hub itself (the backend is a hub service)."""

    mode = "hub"

    def __init__(self, api_url: str | None, api_token: str | None, admins: set[str], cache_seconds: int = 0):
        from jupyterhub.services.auth import HubAuth, check_scopes  # the `hub` extra; imported only in hub mode

        kwargs = {k: v for k, v in {"api_url": api_url, "api_token": api_token}.items() if v}
        # cache 0 (the default): the hub is asked on every call, so a user the hub removed is refused at once
        self._auth = HubAuth(cache_max_age=max(cache_seconds, 1), **kwargs)
        self._use_cache = cache_seconds > 0
        self._check_scopes = check_scopes
        self._admins = admins
        self._cache_seconds = cache_seconds
        self._users: dict[str, tuple[float, dict]] = {}

    def resolve(self, token: str) -> Identity:
        model = self._auth.user_for_token(token, use_cache=self._use_cache)
        if not model or not model.get("name") or model.get("kind", "user") != "user":
            raise Unauthenticated("JupyterHub does not recognise this token")
        # As a hub service the backend knows its access scope (`access:services!service=mlp`, from the hub's
        # JUPYTERHUB_SERVICE_NAME): a token alice made for something else (her name only, say) opens nothing here.
        required = self._auth.access_scopes
        if required and not self._check_scopes(required, set(model.get("scopes") or ())):
            raise Forbidden(f"This hub token does not grant {' or '.join(sorted(required))}")
        user = model["name"]
        return Identity(user=user, is_admin=bool(model.get("admin")) or user in self._admins)

    def recheck(self, who: Identity) -> Identity:
        """A kernel's MLflow credentials (signed for hours) name a hub user: the hub is asked, with the service's
        own token (`read:users`), whether that user still exists and is an admin, on every call as for the hub's
        own tokens (or within `hub_token_cache_seconds`). A user the hub removed is refused at the next call."""
        import httpx

        cached = self._users.get(who.user)
        if cached and time.monotonic() - cached[0] < self._cache_seconds:
            model = cached[1]
        else:
            url = f"{self._auth.api_url.rstrip('/')}/users/{quote(who.user, safe='')}"
            try:
                r = httpx.get(url, headers={"Authorization": f"token {self._auth.api_token}"}, timeout=30)
            except httpx.HTTPError as e:
                raise HubUnavailable(f"JupyterHub's API did not answer: {e}") from e
            if r.status_code == 404:
                self._users.pop(who.user, None)
                raise Unauthenticated(f"JupyterHub no longer knows user '{who.user}'")
            if r.status_code != 200:  # deny by default: the service lacks read:users, or the hub failed
                raise HubUnavailable(f"JupyterHub's API answered {r.status_code} for user '{who.user}'")
            model = r.json()
            if self._cache_seconds > 0:
                self._users[who.user] = (time.monotonic(), model)
        return replace(who, is_admin=bool(model.get("admin")) or who.user in self._admins)


def make_resolver(settings: Settings, secret: bytes) -> IdentityResolver:
    if settings.auth_mode == "hub":
        return HubResolver(settings.hub_api_url, settings.hub_api_token, set(settings.admin_users),
                           settings.hub_token_cache_seconds)
    admins = set(settings.admin_users) or {getpass.getuser()}
    return StandaloneResolver(secret, admins)


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("Missing Authorization header")
    scheme, _, token = authorization.partition(" ")
    # "token <token>" is JupyterHub's own scheme (its clients and HubAuth send it); both carry the same token
    if scheme.lower() not in ("bearer", "token") or not token.strip():
        raise Unauthenticated("Authorization header must be 'Bearer <token>' (or JupyterHub's 'token <token>')")
    return token.strip()


ASSISTANT_SCOPE = "assistant"
READ_METHODS = frozenset({"GET", "HEAD"})


def assistant_identity(secret: bytes, token: str, method: str) -> Identity | None:
    """The user an assistant token (minted by `POST /api/assistant/ask`, scope "assistant") acts for, or None when
    the token is not one. It reads only: any other method is refused (403), so the assistant can do nothing the
    user could not and nothing that writes, and it cannot ask the assistant again (no recursion)."""
    try:
        claims = verify_claims(secret, token)
    except InvalidToken:
        return None
    if claims.get("scope") != ASSISTANT_SCOPE:
        return None
    if method not in READ_METHODS:
        raise Forbidden("The assistant's token only reads (GET)")
    return Identity(user=claims["sub"], is_admin=bool(claims.get("adm")), scope=ASSISTANT_SCOPE)


def require_scope(request, scope: str, refusal: str, **expected: str) -> None:  # noqa: ANN001
    """For the backend's own processes (Dagster's scheduler and sensor): a token minted from the backend's secret
    with this scope (and these claims) opens the call; user tokens do not."""
    try:
        claims = verify_claims(request.app.state.secret, bearer_token(request.headers.get("authorization")))
    except InvalidToken as e:
        raise Unauthenticated(f"Invalid or expired token: {e}") from e
    if claims.get("scope") != scope or any(claims.get(k) != v for k, v in expected.items()):
        raise Unauthenticated(refusal)
