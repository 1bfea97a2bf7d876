"""The recommender's service in the backend: suggestions for a dataset snapshot (or an inline profile), and the
history the AI services process reads as the asking user.

- `suggest`: checks the caller may read the project's runs, profiles the snapshot with the target (history.py;
  kept once computed), mints the short-lived read-only token the assistant uses (scope "assistant", GET only), calls
  the AI services process's `POST /v1/recommender/suggest` with the service token and that token, and returns its
  JSON with the dataset, snapshot, target and profile added; audited as `recommender.suggest`.
- `evidence`: the platform's runs as recommender evidence for the caller (history.history), the setting
  `recommender_cross_project` deciding whether other projects' runs count at all.
"""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from jupyter_mlp.gpu_service import find_gpu_service
from jupyter_mlp.identity import ensure_secret, mint_token

from .. import audit
from ..access import Action, require
from ..errors import Forbidden, Invalid, MLPError, NotFound
from ..identity import ASSISTANT_SCOPE, Identity
from . import history as hist

SUGGEST_PATH = "/v1/recommender/suggest"
TOKEN_TTL = 300
TASKS = ("binary", "multiclass", "regression")


class Unavailable(MLPError):
    status = 503
    code = "unavailable"


def _profile_for(app: Any, slug: str, dataset: str | None, snapshot_id: int | None, target: str | None,
                 profile: dict[str, Any] | None, task: str | None) -> tuple[dict[str, Any], str, int | None]:
    """(profile, task, snapshot id) from a dataset snapshot or an inline profile; errors in words."""
    if dataset is not None:
        if not target:
            raise Invalid("Name the target column (`target`): a suggestion depends on what is predicted",
                          detail=[{"field": "target"}])
        try:
            snap, prof = hist.snapshot_profile(app.state.settings.home, app.state.datasets, slug, dataset,
                                                        snapshot_id, target)
        except LookupError:
            at = f" (snapshot {snapshot_id})" if snapshot_id is not None else ""
            raise NotFound(f"Dataset '{dataset}'{at} not found in project '{slug}'") from None
        except ValueError as e:
            raise Invalid(f"Dataset '{dataset}' cannot be profiled for target '{target}': {e}",
                          detail=[{"field": "target"}]) from None
    else:
        snap, prof = None, dict(profile or {})
    prof = {k: float(v) for k, v in prof.items() if isinstance(v, (int, float)) and math.isfinite(float(v))}
    task = task or hist.task_of(prof)
    if task not in TASKS:
        raise Invalid("The profile does not say the task: give `task` (binary, multiclass or regression) or a "
                      "profile made with a target", detail=[{"field": "task"}])
    return prof, task, snap


async def suggest(request: Request, who: Identity, slug: str, *, dataset: str | None, snapshot_id: int | None,
                  target: str | None, profile: dict[str, Any] | None, task: str | None) -> dict[str, Any]:
    if who.scope == ASSISTANT_SCOPE:
        raise Forbidden("The assistant's token cannot ask for suggestions")
    app = request.app

    def check() -> None:
        with app.state.db.session() as db:
            require(db, who, slug, Action.read_runs, target=f"suggest:{dataset or 'profile'}")
            db.commit()

    await run_in_threadpool(check)
    prof, task, snap = await run_in_threadpool(_profile_for, app, slug, dataset, snapshot_id, target, profile, task)
    settings = app.state.settings
    url = await run_in_threadpool(find_gpu_service, settings)
    if url is None:
        raise Unavailable("The AI services process is not running (start it with `mlp up`, or set gpu_url)")
    user_token = mint_token(app.state.secret, who.user, TOKEN_TTL, scope=ASSISTANT_SCOPE, adm=who.is_admin)
    service = ensure_secret(settings.gpu_key_path).decode()
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(120.0, connect=5.0)) as client:
            r = await client.post(f"{url}{SUGGEST_PATH}", json={"meta": prof, "task": task, "project": slug},
                                  headers={"Authorization": f"Bearer {service}", "X-MLP-User-Token": user_token})
    except httpx.HTTPError as e:
        raise Unavailable(f"The AI services process at {url} cannot be reached: {e}") from e
    if r.status_code != 200:
        try:
            message = r.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = r.text[:200]
        raise Unavailable(f"The AI services process answered {r.status_code}: {message}")
    out = r.json()
    out.update(project=slug, dataset=dataset, snapshot_id=snap, target=target, profile=prof)

    def record() -> None:
        with app.state.db.session() as db:
            audit.append(db, actor=who.user, action="recommender.suggest", decision="allow", project=slug,
                         target=dataset or "profile", detail={
                             "suggestion_id": out.get("suggestion_id"), "snapshot_id": snap, "target": target,
                             "families": [f.get("family") for f in out.get("families", [])][:10]})
            db.commit()

    await run_in_threadpool(record)
    return out


async def evidence(request: Request, who: Identity, task: str | None) -> dict[str, Any]:
    app = request.app
    exp = app.state.experiments
    try:
        await exp.ready()
    except RuntimeError as e:
        raise Unavailable(f"MLflow is not available: {e}") from e
    cross = bool(app.state.settings.recommender_cross_project)

    def load() -> list[dict[str, Any]]:
        with app.state.db.session() as db:
            items = hist.history(db, exp.search, app.state.datasets, app.state.settings.home, who,
                                 cross_project=cross, task=task)
            audit.append(db, actor=who.user, action="recommender.history", decision="allow", detail={
                "items": len(items), "cited": sum(1 for i in items if i["visible"]), "cross_project": cross})
            db.commit()
            return items

    items = await run_in_threadpool(load)
    return {"items": json.loads(json.dumps(items, default=str)), "total": len(items), "cross_project": cross}
