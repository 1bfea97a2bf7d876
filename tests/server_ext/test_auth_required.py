"""Every route the extension registers refuses an unauthenticated request, whatever the verb.

The routes are read from the running server's router, not listed by hand, so a new handler is covered the
moment it is registered.
"""

from __future__ import annotations

import re

from tornado.httpclient import AsyncHTTPClient
from tornado.routing import Router

VERBS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _rules(router):
    for rule in getattr(router, "rules", []):
        if isinstance(rule.target, Router) or hasattr(rule.target, "rules"):
            yield from _rules(rule.target)
        else:
            yield rule


def _our_routes(web_app) -> list[str]:
    patterns = []
    for rule in _rules(web_app.default_router):
        target = rule.target
        if isinstance(target, type) and target.__module__.startswith("jupyter_mlp_server"):
            patterns.append(rule.matcher.regex.pattern)
    return patterns


def _example_path(pattern: str) -> str:
    path = re.sub(r"\([^)]*\)", "whoami", pattern).rstrip("$")
    return path.replace("\\", "")


async def test_every_extension_route_requires_authentication(jp_serverapp, http_server_client, jp_http_port):
    patterns = _our_routes(jp_serverapp.web_app)
    assert patterns, "the extension registered no routes"
    client = AsyncHTTPClient()
    for pattern in patterns:
        path = _example_path(pattern)
        for verb in VERBS:
            r = await client.fetch(
                f"http://localhost:{jp_http_port}{path}",
                method=verb,
                body=b"{}" if verb in ("POST", "PUT", "PATCH") else None,
                raise_error=False,
                follow_redirects=False,
            )
            assert r.code in (401, 403), f"{verb} {path} answered {r.code} without authentication"
    assert jp_serverapp.allow_unauthenticated_access is False


async def test_forged_jupyter_token_is_refused(http_server_client, jp_http_port, jp_base_url):
    r = await AsyncHTTPClient().fetch(
        f"http://localhost:{jp_http_port}{jp_base_url}mlp/api/whoami",
        headers={"Authorization": "token forged"},
        raise_error=False,
    )
    assert r.code in (401, 403)


async def test_xsrf_protection_stays_on_for_cookie_sessions(jp_serverapp, http_server_client, jp_http_port, jp_base_url):
    base = f"http://localhost:{jp_http_port}{jp_base_url}"
    client = AsyncHTTPClient()
    # A real browser session: the token in the URL once, a login cookie afterwards.
    login = await client.fetch(f"{base}api/contents?token={jp_serverapp.identity_provider.token}")
    cookie = login.headers.get_list("Set-Cookie")[0].split(";")[0]
    ok = await client.fetch(f"{base}mlp/api/whoami", headers={"Cookie": cookie}, raise_error=False)
    assert ok.code == 200  # the cookie alone is a valid session for reads
    # A cross-site POST rides on that cookie but cannot know the XSRF token: refused before the backend sees it.
    r = await client.fetch(
        f"{base}mlp/api/projects",
        method="POST",
        body=b'{"slug": "csrf", "name": "x"}',
        headers={"Cookie": cookie, "Content-Type": "application/json"},
        raise_error=False,
    )
    assert r.code == 403 and b"_xsrf" in r.body
    assert jp_serverapp.web_app.settings.get("xsrf_cookies") is True
