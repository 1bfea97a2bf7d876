"""How the server extension proves to the backend who is asking. It vouches; the backend decides.

Standalone, a Jupyter server is single-user: whoever passed its own authentication acts as the OS user who runs
it, and the extension signs a short-lived token for that user with the install secret. Under JupyterHub the
extension forwards the requesting user's own hub token, which the backend resolves with the hub.
"""

from __future__ import annotations

import getpass
from typing import Protocol

from jupyter_mlp.identity import mint_token, read_secret
from jupyter_mlp.settings import Settings
from tornado.web import HTTPError, RequestHandler


class IdentityForwarder(Protocol):
    def bearer(self, handler: RequestHandler) -> str: ...

    def server_owner(self) -> str:
        """A token for the user who owns this Jupyter server (kernels run with that user's rights)."""
        ...


class StandaloneForwarder:
    def __init__(self, settings: Settings, user: str | None = None):
        self._settings = settings
        self._user = user or getpass.getuser()
        self._secret: bytes | None = None

    def bearer(self, handler: RequestHandler) -> str:
        if self._secret is None:  # the backend creates it on first start, which may be after we loaded
            self._secret = read_secret(self._settings.secret_path)
        return mint_token(self._secret, self._user, self._settings.token_ttl_seconds)

    def server_owner(self) -> str:
        return self.bearer(None)  # type: ignore[arg-type]


class HubForwarder:
    def bearer(self, handler: RequestHandler) -> str:
        hub_auth = getattr(getattr(handler, "identity_provider", None), "hub_auth", None)
        token = hub_auth.get_token(handler) if hub_auth is not None else None
        if not token:
            raise HTTPError(401, "no JupyterHub token for this request")
        return token

    def server_owner(self) -> str:
        import os

        token = os.environ.get("JUPYTERHUB_API_TOKEN")
        if not token:
            raise RuntimeError("JUPYTERHUB_API_TOKEN is not set: is this a JupyterHub single-user server?")
        return token


def make_forwarder(settings: Settings) -> IdentityForwarder:
    return HubForwarder() if settings.auth_mode == "hub" else StandaloneForwarder(settings)
