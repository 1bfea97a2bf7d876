"""Suggestions from Python: `from jupyter_mlp import suggest` in a notebook, and `mlp suggest`.

`suggest(df_or_dataset, target=..., project=None, snapshot_id=None)` asks the backend's
`POST /api/projects/{p}/suggest` with the caller's own identity: a dataset name is profiled by the backend, where
the data is; a DataFrame is profiled here (`jupyter_mlp.profiling`, aggregates only: no row leaves the kernel) and
only its profile is sent. The answer is a `Suggestion`:

- `.families`: the family names, best first (`.details(family)` for one family's whole entry);
- `.optuna_space(family)`: `{name: optuna distribution}` (optuna is imported only then);
- `.param_grid(family)` / `.param_distributions(family)`: for scikit-learn's `GridSearchCV` / `RandomizedSearchCV`;
- `.warm_start`: concrete configurations to try first; `.preprocessing`: steps with reasons;
- `.tags(family)` and `.start_run(family, **kwargs)`: an MLflow run tagged `mlp.suggestion_id` and `mlp.family`
  (and `mlp.target`), so the platform can count which suggestions were tried and how they did.
"""

from __future__ import annotations

import json
import os
from typing import Any

from . import search_space

SUGGESTION_TAG = "mlp.suggestion_id"
FAMILY_TAG = "mlp.family"
TARGET_TAG = "mlp.target"


class Suggestion:
    def __init__(self, body: dict[str, Any]):
        self.body = body

    @property
    def id(self) -> str:
        return str(self.body.get("suggestion_id", ""))

    @property
    def families(self) -> list[str]:
        return [f["family"] for f in self.body.get("families", [])]

    @property
    def warm_start(self) -> list[dict[str, Any]]:
        return list(self.body.get("warm_start", []))

    @property
    def preprocessing(self) -> list[dict[str, str]]:
        return list(self.body.get("preprocessing", []))

    def details(self, family: str | None = None) -> dict[str, Any]:
        """One family's entry (default: the first): score, search_space, preprocessing, warm_start, evidence."""
        fams = self.body.get("families", [])
        if not fams:
            raise KeyError("the suggestion has no families")
        if family is None:
            return fams[0]
        for f in fams:
            if f["family"] == family:
                return f
        raise KeyError(f"{family!r} is not among the suggested families: {', '.join(self.families)}")

    def search_space(self, family: str | None = None) -> dict[str, dict[str, Any]]:
        return self.details(family)["search_space"]

    def optuna_space(self, family: str | None = None) -> dict[str, Any]:
        return search_space.to_optuna(self.search_space(family))

    def param_grid(self, family: str | None = None, points: int = 3) -> dict[str, list[Any]]:
        return search_space.to_param_grid(self.search_space(family), points)

    def param_distributions(self, family: str | None = None) -> dict[str, Any]:
        return search_space.to_param_distributions(self.search_space(family))

    def tags(self, family: str | None = None) -> dict[str, str]:
        fam = self.details(family)["family"]
        out = {SUGGESTION_TAG: self.id, FAMILY_TAG: fam}
        if self.body.get("target"):
            out[TARGET_TAG] = str(self.body["target"])
        return out

    def start_run(self, family: str | None = None, **kwargs: Any) -> Any:
        """`mlflow.start_run(**kwargs)` with this suggestion's tags added (the caller's tags win on a clash)."""
        import mlflow

        tags = {**self.tags(family), **(kwargs.pop("tags", None) or {})}
        return mlflow.start_run(**kwargs, tags=tags)

    def to_dict(self) -> dict[str, Any]:
        return self.body

    def __repr__(self) -> str:
        return f"Suggestion({self.id[:8]}: {', '.join(self.families)})"

    def to_text(self) -> str:
        """What `mlp suggest` prints: the families with their evidence, preprocessing and warm starts."""
        lines = [f"Suggestion {self.id} ({self.body.get('task')}, corpus {self.body.get('corpus_version', '')[:19]})"]
        for i, f in enumerate(self.body.get("families", []), 1):
            lines.append(f"{i}. {f['family']}")  # the ranker's score is an order (the baselines' are positions)
            for name, spec in f["search_space"].items():
                if spec["type"] == "categorical":
                    lines.append(f"     {name}: one of {json.dumps(spec['choices'])}")
                else:
                    log = ", log" if spec.get("log") else ""
                    lines.append(f"     {name}: {spec['type']} {spec['low']}..{spec['high']}{log}")
            for e in f.get("evidence", []):
                lines.append("     evidence: " + evidence_label(e))
        if self.preprocessing:
            lines.append("Preprocessing:")
            lines += [f"  - {s['sklearn']} on {s['columns']}: {s['why']}" for s in self.preprocessing]
        if self.warm_start:
            lines.append("Warm start:")
            lines += [f"  - {w['family']} {json.dumps(w['params'], sort_keys=True)}" for w in self.warm_start]
        return "\n".join(lines)


def evidence_label(e: dict[str, Any]) -> str:
    """`run acme-forest (acme) 3f2a…, accuracy 0.91, similarity 0.83`, or the corpus dataset, or anonymous."""
    c = e.get("citation")
    if c:
        who = f"run {c['label']} ({c['project']}) {c['id']}"
    elif e.get("source") == "corpus":
        who = f"dataset {e.get('dataset')}"
    else:
        who = "a run of another project (anonymous)"
    return f"{who}, {e.get('metric')} {e.get('score')}, similarity {e.get('similarity')}"


def _project(project: str | None) -> str:
    if project:
        return project
    from .projects import project_of

    found = project_of("/", os.path.join(os.getcwd(), "_")).project
    if not found:
        raise RuntimeError("No project: pass project=..., or work inside a folder with an mlp-project.toml")
    return found


def request_body(data: Any, target: str | None, snapshot_id: int | None = None,
                 task: str | None = None) -> dict[str, Any]:
    """The request for a dataset name, or for a DataFrame (profiled here: only the profile is sent)."""
    if isinstance(data, str):
        body: dict[str, Any] = {"dataset": data, "target": target}
        if snapshot_id is not None:
            body["snapshot_id"] = snapshot_id
        return body
    from .profiling import profile

    prof = profile(data, target)
    body = {"profile": {k: (None if v != v else v) for k, v in prof.items()}}
    if task:
        body["task"] = task
    return body


def suggest(data: Any, target: str | None = None, *, project: str | None = None, snapshot_id: int | None = None,
            task: str | None = None, client: Any = None) -> Suggestion:
    """A suggestion for a project's dataset (by name) or a DataFrame, with `target` the column to predict."""
    if client is None:
        from .client import BackendClient

        client = BackendClient()
    body = request_body(data, target, snapshot_id, task)
    out = client.post(f"/projects/{_project(project)}/suggest", body)
    if not isinstance(data, str) and target:
        out["target"] = target
    return Suggestion(out)
