"""The "View run" / "View experiment" links MLflow prints (`<tracking URI>/#/experiments/<id>/runs/<run>`).

The tracking URI is the project's gateway, so the browser asks the backend for `/mlflow/<project>/`; the fragment
never reaches a server. This page reads it and goes to JupyterLab, whose Experiments panel opens the run
(`lab?mlp-project=<project>&mlp-run=<run>`). It answers without credentials because a browser following a link
sends none, and it reads nothing: the same static page for any well-formed project name, whose script is the only
one its Content-Security-Policy lets run. The panel then asks the backend with the user's identity as usual.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ..errors import NotFound

router = APIRouter(include_in_schema=False)

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")

SCRIPT = """
const cfg = JSON.parse(document.getElementById('mlp-link').textContent);
const m = /^#\\/experiments\\/(\\d+)(?:\\/runs\\/([0-9a-f]{32}))?/.exec(location.hash);
const q = new URLSearchParams({'mlp-project': cfg.project});
if (m && m[2]) { q.set('mlp-run', m[2]); document.getElementById('run').textContent = 'run ' + m[2]; }
else if (m) { q.set('mlp-experiment', m[1]); }
if (cfg.lab) { location.replace(cfg.lab + 'lab?' + q.toString()); }
""".strip()
CSP = ("default-src 'none'; script-src 'sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
       + "'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def lab_url(settings) -> str | None:  # noqa: ANN001
    """JupyterLab as browsers reach it: the setting, else the JupyterLab `mlp up` started (never its token)."""
    if settings.lab_url:
        return settings.lab_url if settings.lab_url.endswith("/") else settings.lab_url + "/"
    try:
        from jupyter_mlp.platform import LAB_RECORD

        url = json.loads((settings.run_dir / LAB_RECORD).read_text()).get("url")
    except (OSError, ValueError, AttributeError):
        return None
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None


def _page(slug: str, lab: str | None) -> str:
    cfg = json.dumps({"project": slug, "lab": lab}).replace("<", "\\u003c")
    where = (f'Opening it in <a href="{html.escape(lab)}lab">JupyterLab</a>&hellip;' if lab else
             "Open JupyterLab, select the project in the ML Platform sidebar and open the <b>Experiments panel</b>; "
             "search for the run id there, or run <code>mlp runs show " + html.escape(slug) + " RUN_ID</code>.")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>MLflow run in {html.escape(slug)}</title>"
            f"<script type='application/json' id='mlp-link'>{cfg}</script></head>"
            f"<body style='font-family: sans-serif'><p>This MLflow link points at the <span id='run'>run</span> in "
            f"project <b>{html.escape(slug)}</b>, shown in the Experiments panel. {where}</p>"
            f"<script>{SCRIPT}</script></body></html>")


@router.get("/mlflow/{slug}")
@router.get("/mlflow/{slug}/")
def view_run_link(slug: str, request: Request) -> HTMLResponse:
    if not SLUG.match(slug):
        raise NotFound(f"Project '{slug}' not found")
    return HTMLResponse(_page(slug, lab_url(request.app.state.settings)),
                        headers={"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                                 "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
