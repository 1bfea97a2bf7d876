"""The MLflow gateway: `/mlflow/<project>/api/2.0/...` is the only way anything reaches MLflow.

Unchanged MLflow clients point `MLFLOW_TRACKING_URI` at `<backend>/mlflow/<project>`. Every call is
authenticated, checked against the project (through `access`, so it is audited), and only the endpoints the
product needs pass; the rest answer ENDPOINT_NOT_FOUND. Experiment, run, logged-model and artifact ids of another
project answer exactly like missing ones. Clients never choose an artifact location, the user a run is recorded
under, or the platform's own `mlp.*` tags.

This module is the gateway's machinery (a `Call`, checks, the table of endpoints and their handlers, which the
registry's gateway extends); gateway_routes.py holds its HTTP routes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from jupyter_mlp.identity import InvalidToken, verify_claims

from .. import audit
from ..access import Action, require
from ..errors import Forbidden, NotFound, Unauthenticated
from ..identity import Identity, bearer_token
from ..orm import ProjectExperiment
from . import lineage
from .mlflow_errors import GatewayError, not_found
from .projects import experiment_ids, mlflow_name, user_name

MAX_BODY = 16 * 2**20
PROTECTED_TAG_PREFIX = "mlp."
PLATFORM_TAGS = {"mlflow.user"}


@dataclass
class Call:
    """One gateway request after identity and project checks."""

    request: Request
    slug: str
    project_id: int
    who: Identity
    experiments: set[str]
    body: dict[str, Any]

    @property
    def exp(self):  # noqa: ANN201
        return self.request.app.state.experiments


def _identity(request: Request, slug: str) -> Identity:
    token = bearer_token(request.headers.get("authorization"))
    state = request.app.state
    try:
        claims = verify_claims(state.secret, token)
    except InvalidToken:
        claims = None
    if claims is not None and claims.get("scope") == "mlflow":
        if claims.get("prj") != slug:  # a kernel's credentials reach its own project only
            raise NotFound(f"Project '{slug}' not found")
        # ... and as long as its user still exists (JupyterHub may have removed them): asked on every call
        return state.resolver.recheck(Identity(user=claims["sub"], is_admin=bool(claims.get("adm"))))
    return state.resolver.resolve(token)


def _check(request: Request, slug: str, action: Action, target: str | None) -> tuple[Identity, int, set[str]]:
    who = _identity(request, slug)
    with request.app.state.db.session() as db:
        grant = require(db, who, slug, action, target=target)
        exps = set(experiment_ids(db, grant.project.id))
        db.commit()
        return who, grant.project.id, exps


async def authorize(request: Request, slug: str, action: Action, target: str | None) -> tuple[Identity, int, set[str]]:
    try:
        return await run_in_threadpool(_check, request, slug, action, target)
    except Unauthenticated as e:
        raise GatewayError("UNAUTHENTICATED", e.message) from e
    except NotFound as e:
        raise GatewayError("RESOURCE_DOES_NOT_EXIST", e.message) from e
    except Forbidden as e:
        raise GatewayError("PERMISSION_DENIED", e.message) from e


async def authenticate(request: Request, slug: str) -> None:
    """Identity before anything about the request is checked: without credentials, 401 — never a 400 or a 404
    that tells a stranger which paths, endpoints or digests exist or are well formed."""
    try:
        await run_in_threadpool(_identity, request, slug)
    except Unauthenticated as e:
        raise GatewayError("UNAUTHENTICATED", e.message) from e
    except NotFound as e:
        raise GatewayError("RESOURCE_DOES_NOT_EXIST", e.message) from e


async def read_json_body(request: Request) -> dict[str, Any]:
    if request.method in ("GET", "DELETE", "HEAD"):
        return {}
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise GatewayError("INVALID_PARAMETER_VALUE", f"Request body is larger than {MAX_BODY} bytes", 413)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise GatewayError("MALFORMED_REQUEST", f"Request body is not valid JSON: {e}", 400) from e
    if not isinstance(data, dict):
        raise GatewayError("MALFORMED_REQUEST", "Request body must be a JSON object", 400)
    return data


async def forward(call: Call, method: str, path: str, *, params: Any = None, body: Any = None,
                   raw: bytes | None = None, headers: dict[str, str] | None = None) -> Response:
    mlflow = call.exp.mlflow
    try:
        await mlflow.wait_ready()
    except RuntimeError as e:
        raise GatewayError("TEMPORARILY_UNAVAILABLE", f"MLflow is not available: {e}", 503) from e
    r = await mlflow.client.request(method, path, params=params, json=body if raw is None else None,
                                    content=raw, headers=headers)
    return Response(r.content, status_code=r.status_code,
                    media_type=r.headers.get("content-type", "application/json"))


def _load(resp: Response) -> dict[str, Any]:
    return json.loads(resp.body) if resp.body else {}


def _replace(resp: Response, data: dict[str, Any]) -> Response:
    return Response(json.dumps(data), status_code=resp.status_code, media_type="application/json")


# ---- ownership checks -------------------------------------------------------------------------------------

def own_experiment(call: Call, experiment_id: Any) -> str:
    eid = str(experiment_id or "")
    if eid not in call.experiments:
        raise not_found(f"Experiment '{eid}'")
    return eid


async def _own_run(call: Call, run_id: Any) -> str:
    rid = str(run_id or "")
    exp = await run_in_threadpool(call.exp.experiment_of_run, rid) if rid.isalnum() else None
    if exp is None or exp not in call.experiments:
        raise not_found(f"Run '{rid}'")
    return rid


async def _own_model(call: Call, model_id: str) -> str:
    exp = await run_in_threadpool(call.exp.experiment_of_model, model_id) if model_id.replace("-", "").isalnum() else None
    if exp is None or exp not in call.experiments:
        raise not_found(f"Logged model '{model_id}'")
    return model_id


def _no_platform_tags(tags: Any) -> None:
    for t in tags or []:
        key = t.get("key", "") if isinstance(t, dict) else ""
        if key.startswith(PROTECTED_TAG_PREFIX) or key in PLATFORM_TAGS:
            raise GatewayError("INVALID_PARAMETER_VALUE", f"Tag '{key}' is set by the platform, not by clients")


def _unprefix_experiment(call: Call, exp: dict[str, Any]) -> dict[str, Any]:
    if "name" in exp:
        exp["name"] = user_name(call.exp.settings, call.slug, exp["name"])
    return exp


# ---- endpoint handlers --------------------------------------------------------------------------------------

API = "/api/2.0/mlflow"


async def experiments_get(call: Call) -> Response:
    own_experiment(call, call.request.query_params.get("experiment_id"))
    resp = await forward(call, "GET", f"{API}/experiments/get", params=dict(call.request.query_params))
    data = _load(resp)
    if "experiment" in data:
        _unprefix_experiment(call, data["experiment"])
    return _replace(resp, data)


async def experiments_get_by_name(call: Call) -> Response:
    name = call.request.query_params.get("experiment_name", "")
    resp = await forward(call, "GET", f"{API}/experiments/get-by-name",
                          params={"experiment_name": mlflow_name(call.exp.settings, call.slug, name)})
    data = _load(resp)
    if "experiment" in data:
        own_experiment(call, data["experiment"].get("experiment_id"))
        _unprefix_experiment(call, data["experiment"])
    return _replace(resp, data)


async def experiments_create(call: Call) -> Response:
    body = call.body
    if body.get("artifact_location"):
        raise GatewayError("INVALID_PARAMETER_VALUE", "Artifact locations are chosen by the platform, not clients")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise GatewayError("INVALID_PARAMETER_VALUE", "Experiment name must be 1-200 characters")
    _no_platform_tags(body.get("tags"))
    stored = mlflow_name(call.exp.settings, call.slug, name)
    resp = await forward(call, "POST", f"{API}/experiments/create", body={"name": stored, "tags": body.get("tags", [])})
    if resp.status_code == 200:
        eid = str(_load(resp)["experiment_id"])
        await run_in_threadpool(_record_experiment, call, eid, name)
    return resp


def _record_experiment(call: Call, eid: str, name: str) -> None:
    with call.request.app.state.db.session() as db:
        db.add(ProjectExperiment(experiment_id=eid, project_id=call.project_id, name=name, created_by=call.who.user))
        audit.append(db, actor=call.who.user, action="experiment.created", decision="allow", project=call.slug,
                     target=eid, detail={"name": name})
        db.commit()
    call.experiments.add(eid)


async def experiments_search(call: Call) -> Response:
    if call.body.get("filter"):
        raise GatewayError("INVALID_PARAMETER_VALUE", "Filtering experiments is not supported; list them instead")
    prefix = mlflow_name(call.exp.settings, call.slug, "")
    body = {**call.body, "filter": f"name LIKE '{prefix}%'"}
    resp = await forward(call, "POST", f"{API}/experiments/search", body=body)
    data = _load(resp)
    data["experiments"] = [_unprefix_experiment(call, e) for e in data.get("experiments", [])
                           if str(e.get("experiment_id")) in call.experiments]
    return _replace(resp, data)


async def runs_create(call: Call) -> Response:
    body = dict(call.body)
    own_experiment(call, body.get("experiment_id"))
    tags = [t for t in body.get("tags", []) if isinstance(t, dict)]
    lineage_tags = {t["key"]: t.get("value") for t in tags if str(t.get("key", "")).startswith(PROTECTED_TAG_PREFIX)}
    # Identity comes from the token: whatever the client says about its user is replaced.
    tags = [t for t in tags if t.get("key") not in PLATFORM_TAGS and t.get("key") != "mlp.project"]
    tags += [{"key": "mlflow.user", "value": call.who.user}, {"key": "mlp.project", "value": call.slug}]
    body.update(user_id=call.who.user, tags=tags)
    resp = await forward(call, "POST", f"{API}/runs/create", body=body)
    if resp.status_code == 200:
        run = _load(resp)["run"]
        call.exp.run_experiment.put(run["info"]["run_id"], str(run["info"]["experiment_id"]))
        await lineage.attach(call, run, lineage_tags)
    return resp


def _run_id_from(call: Call) -> Any:
    q = call.request.query_params
    return call.body.get("run_id") or call.body.get("run_uuid") or q.get("run_id") or q.get("run_uuid")


def run_scoped(path: str, method: str = "POST", write: bool = True, protect_tags: bool = False):
    async def handler(call: Call) -> Response:
        await _own_run(call, _run_id_from(call))
        if protect_tags:
            _no_platform_tags(call.body.get("tags"))
            if "key" in call.body:
                _no_platform_tags([{"key": call.body.get("key")}])
        if method == "GET":
            return await forward(call, "GET", f"{API}/{path}", params=dict(call.request.query_params))
        return await forward(call, method, f"{API}/{path}", body=call.body)

    handler.write = write  # type: ignore[attr-defined]
    return handler


def _scoped_search(path: str, empty: dict[str, Any]):
    """A search whose `experiment_ids` must be the project's: named ones are checked, none means all of them."""

    async def handler(call: Call) -> Response:
        body = dict(call.body)
        asked = [str(e) for e in body.get("experiment_ids") or []]
        for e in asked:
            own_experiment(call, e)
        body["experiment_ids"] = asked or sorted(call.experiments)
        if not body["experiment_ids"]:
            return Response(json.dumps(empty), media_type="application/json")
        return await forward(call, "POST", f"{API}/{path}", body=body)

    return handler


runs_search = _scoped_search("runs/search", {"runs": []})
logged_models_search = _scoped_search("logged-models/search", {"models": []})


async def logged_models_create(call: Call) -> Response:
    own_experiment(call, call.body.get("experiment_id"))
    if call.body.get("source_run_id"):
        await _own_run(call, call.body["source_run_id"])
    resp = await forward(call, "POST", f"{API}/logged-models", body=call.body)
    if resp.status_code == 200:
        model = _load(resp).get("model", {}).get("info", {})
        if model.get("model_id"):
            call.exp.model_experiment.put(model["model_id"], str(model.get("experiment_id")))
    return resp


async def logged_model_item(call: Call, rest: str) -> Response:
    model_id = rest.split("/", 1)[0]
    await _own_model(call, model_id)
    method = call.request.method
    return await forward(call, method, f"{API}/logged-models/{rest}", params=dict(call.request.query_params),
                          body=call.body if method in ("POST", "PATCH") else None)


Handler = Callable[[Call], Awaitable[Response]]

# (method, endpoint) -> (handler, writes). Anything not listed is refused.
ENDPOINTS: dict[tuple[str, str], tuple[Handler, bool]] = {
    ("GET", "experiments/get"): (experiments_get, False),
    ("GET", "experiments/get-by-name"): (experiments_get_by_name, False),
    ("POST", "experiments/create"): (experiments_create, True),
    ("POST", "experiments/search"): (experiments_search, False),
    ("GET", "experiments/search"): (experiments_search, False),
    ("POST", "runs/create"): (runs_create, True),
    ("GET", "runs/get"): (run_scoped("runs/get", "GET", write=False), False),
    ("POST", "runs/update"): (run_scoped("runs/update"), True),
    ("POST", "runs/delete"): (run_scoped("runs/delete"), True),
    ("POST", "runs/restore"): (run_scoped("runs/restore"), True),
    ("POST", "runs/log-metric"): (run_scoped("runs/log-metric"), True),
    ("POST", "runs/log-parameter"): (run_scoped("runs/log-parameter"), True),
    ("POST", "runs/log-batch"): (run_scoped("runs/log-batch", protect_tags=True), True),
    ("POST", "runs/set-tag"): (run_scoped("runs/set-tag", protect_tags=True), True),
    ("POST", "runs/delete-tag"): (run_scoped("runs/delete-tag", protect_tags=True), True),
    ("POST", "runs/log-inputs"): (run_scoped("runs/log-inputs"), True),
    ("POST", "runs/outputs"): (run_scoped("runs/outputs"), True),
    ("POST", "runs/log-model"): (run_scoped("runs/log-model"), True),
    ("POST", "runs/search"): (runs_search, False),
    ("GET", "metrics/get-history"): (run_scoped("metrics/get-history", "GET", write=False), False),
    ("POST", "logged-models"): (logged_models_create, True),
    ("POST", "logged-models/search"): (logged_models_search, False),
}


def resolve(method: str, endpoint: str) -> tuple[Handler, bool]:
    if (method, endpoint) in ENDPOINTS:
        return ENDPOINTS[(method, endpoint)]
    if endpoint.startswith("logged-models/") and method in ("GET", "PATCH", "POST", "DELETE"):
        rest = endpoint[len("logged-models/"):]
        return (lambda call: logged_model_item(call, rest)), method != "GET"
    raise GatewayError("ENDPOINT_NOT_FOUND", f"{method} {endpoint} is not available through the platform", 404)


async def make_call(request: Request, slug: str, action: Action, target: str | None, json_body: bool = True) -> Call:
    who, project_id, exps = await authorize(request, slug, action, target)
    try:
        await request.app.state.experiments.ready()
    except RuntimeError as e:
        raise GatewayError("TEMPORARILY_UNAVAILABLE", f"MLflow is not available: {e}", 503) from e
    body = await read_json_body(request) if json_body else {}
    return Call(request, slug, project_id, who, exps, body)
