"""`/mlp/dashboard`: the stakeholder dashboard, a read-only page outside the notebook UI.

One self-contained HTML page (inline CSS and script, no external assets) that fetches `/mlp/api/dashboard`
through the proxy with the visitor's Jupyter session, so the backend decides what each visitor sees. The page
only reads: it offers nothing that changes a deployment, a monitor or a project.

Without a session the handler answers 403 with a page that links to the sign-in page (every route of the
extension refuses unauthenticated requests with 401/403, never a redirect; see tests/server_ext).
"""

from __future__ import annotations

import html
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

PAGE = Path(__file__).parent / "static" / "dashboard.html"


@lru_cache(maxsize=1)
def _template() -> str:
    return PAGE.read_text(encoding="utf-8")


def render_page(base_url: str, nonce: str) -> str:
    """The dashboard page for a server at `base_url`, its inline script and style tagged with `nonce`."""
    return (_template().replace("__MLP_BASE_URL__", html.escape(base_url, quote=True))
            .replace("__MLP_NONCE__", nonce))


_SIGN_IN = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style nonce="{nonce}">body{{font:15px/1.5 system-ui,sans-serif;margin:15vh auto;max-width:32em;padding:0 16px;color:#1f2328}}
a{{color:#0969da}}</style></head>
<body><main data-testid="dashboard-{kind}"><h1>{title}</h1><p>{text}</p>{link}</main></body></html>"""


class DashboardHandler(JupyterHandler):
    """Serve the stakeholder dashboard to a signed-in Jupyter user."""

    @property
    def nonce(self) -> str:
        # Made on first use: the CSP header is set (in __init__) before get() renders the page with it.
        if not hasattr(self, "_mlp_nonce"):
            self._mlp_nonce = secrets.token_urlsafe(18)
        return self._mlp_nonce

    @property
    def content_security_policy(self) -> str:
        if "Content-Security-Policy" in self.settings.get("headers", {}):
            return super().content_security_policy  # the operator's policy wins, as for every Jupyter page
        report = self.settings.get("csp_report_uri", url_path_join(self.base_url, "api/security/csp-report"))
        return "; ".join([
            "default-src 'none'",
            f"script-src 'nonce-{self.nonce}'",
            f"style-src 'nonce-{self.nonce}'",
            "connect-src 'self'",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'self'",
            f"report-uri {report}",
        ])

    def get_login_url(self) -> str:
        # `@web.authenticated` would redirect a visitor without a session to the login page; the extension's
        # routes answer 403 instead, with a page that offers the sign-in link (see write_error).
        raise web.HTTPError(403, reason="Sign in to see the dashboard")

    def _sign_in_url(self) -> str:
        login = self.settings.get("login_url") or url_path_join(self.base_url, "login")
        return f"{login}{'&' if '?' in login else '?'}{urlencode({'next': self.request.uri or self.base_url})}"

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        if status_code == 403 and not self.current_user:
            title, kind = "Sign in to see the dashboard", "sign-in"
            text = "The ML Platform dashboard shows the projects you are a member of. Sign in to Jupyter first."
            link = f'<p><a href="{html.escape(self._sign_in_url(), quote=True)}">Sign in</a></p>'
        else:
            title, kind = f"{status_code} {self._reason}", "error"
            text, link = "The dashboard page could not be served.", ""
        self.finish(_SIGN_IN.format(title=html.escape(title), nonce=self.nonce, kind=kind, text=html.escape(text),
                                    link=link))

    @web.authenticated
    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")
        _ = self.xsrf_token  # sets the _xsrf cookie the page's fetch sends back (JupyterHub checks it on API GETs)
        self.finish(render_page(self.base_url, self.nonce))
