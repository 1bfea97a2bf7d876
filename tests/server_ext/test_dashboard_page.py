"""`/mlp/dashboard`: the stakeholder dashboard page — only for a signed-in user, one self-contained HTML page."""

from __future__ import annotations

import re

import pytest
from tornado.httpclient import AsyncHTTPClient

from jupyter_mlp_server.dashboard import PAGE, render_page


@pytest.fixture
def jp_server_config(mlp_home):
    # The page needs no backend: the browser fetches its data through /mlp/api/dashboard.
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mlp_server": True},
            "allow_unauthenticated_access": False,
        },
        "MLPServerApp": {"start_backend": False},
    }


async def _get(url: str, **kwargs):
    return await AsyncHTTPClient().fetch(url, raise_error=False, follow_redirects=False, **kwargs)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "token forged"}])
async def test_without_a_session_the_page_is_refused_with_a_sign_in_link(
        jp_serverapp, http_server_client, jp_http_port, jp_base_url, headers):
    r = await _get(f"http://localhost:{jp_http_port}{jp_base_url}mlp/dashboard", headers=headers)
    assert r.code in (302, 401, 403), r.code
    if r.code == 302:
        assert "login" in r.headers["Location"]
    else:
        body = r.body.decode()
        assert 'data-testid="dashboard"' not in body and "mlp/api/dashboard" not in body
        assert 'data-testid="dashboard-sign-in"' in body
        link = re.search(r'href="([^"]+)"', body).group(1)
        assert "login" in link and "next=" in link and "dashboard" in link


async def test_a_signed_in_user_gets_the_self_contained_page(jp_fetch, jp_base_url):
    r = await jp_fetch("mlp", "dashboard", method="GET")
    assert r.code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    body = r.body.decode()
    assert 'data-testid="dashboard"' in body
    # The page reads its data relative to the server's base URL, which the handler writes into it.
    assert f'data-base-url="{jp_base_url}"' in body
    assert "mlp/api/dashboard" in body
    # Self-contained: no external script, style sheet or image.
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", body)
    # Inline script and style run by nonce only; nothing else is allowed to load.
    csp = r.headers["Content-Security-Policy"]
    nonce = re.search(r"script-src 'nonce-([^']+)'", csp).group(1)
    assert body.count(f'nonce="{nonce}"') == 2
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp and "frame-ancestors 'self'" in csp
    assert "__MLP_" not in body
    # Read-only: nothing on the page changes anything.
    assert "<form" not in body and "<button" not in body and "method: 'POST'" not in body


async def test_each_page_has_its_own_nonce(jp_fetch):
    a = (await jp_fetch("mlp", "dashboard", method="GET")).headers["Content-Security-Policy"]
    b = (await jp_fetch("mlp", "dashboard", method="GET")).headers["Content-Security-Policy"]
    assert a != b


def test_the_base_url_is_escaped_into_the_page():
    page = render_page('/x/"><script>alert(1)</script>/', "n0nce")
    assert "<script>alert(1)</script>" not in page
    assert 'data-base-url="/x/&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;/"' in page


def test_the_page_is_a_package_file():
    # Hatch ships every file under server_ext/jupyter_mlp_server in the wheel (pyproject: wheel.packages).
    assert PAGE.parent.name == "static" and PAGE.parent.parent.name == "jupyter_mlp_server" and PAGE.is_file()
