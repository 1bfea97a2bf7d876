"""The platform's own history as recommender evidence, decided for one asking user.

A run counts when it finished, names a model family (the `mlp.family` tag a suggestion's run carries, else the
class scikit-learn's autolog names in `estimator_class`), has a score (the first of `METRICS` it logged) and read a
dataset snapshot (its lineage's `mlp.datasets`) whose profile can be had: the snapshot is profiled here, with the
run's `mlp.target` tag as target when it has one (the profile the datasets domain keeps with the snapshot when it fits),
and the profile is kept under `$MLP_HOME/recommender/profiles`. A run whose lineage has no snapshot with a profile
counts with the profile its kernel logged of a plain file it read (`jupyter_mlp.datasets.read_csv`/`read_parquet`,
the `mlp.profiles` tag, `run_profile`): computed with no target, so it has the target-less features only (its
target-dependent ones are NaN, and the target column counts as a feature), whatever the run's `mlp.target`.

Runs of projects the user can open come with their project, run id and name, so a suggestion can cite them. Runs of
any other project come only when `recommender_cross_project` is on, and then only as anonymous statistics: the
profile's meta-features (aggregates, never a row or a column name), the family, the score and the parameters whose
names are scikit-learn's and whose values are numbers, booleans or its option words (`ENUM_WORDS`), of a family
named in `FAMILIES`, so a column or dataset name a parameter or a tag might carry never leaves. Nothing else of such a run is read into the answer: no project, run id or name,
dataset name or column.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import math
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jupyter_mlp import profiling

from ..access import role_in
from ..experiments.projects import experiment_ids
from ..experiments.search import RunQuery
from ..identity import Identity
from ..orm import Project

log = logging.getLogger(__name__)

MAX_RUNS = 2000  # per project, newest first
METRICS = ("accuracy", "roc_auc", "auc", "f1", "r2", "test_accuracy", "val_accuracy", "test_score", "val_score")
FAMILIES = {  # scikit-learn estimator class -> the recommender's family name
    "RandomForestClassifier": "random_forest", "RandomForestRegressor": "random_forest",
    "ExtraTreesClassifier": "extra_trees", "ExtraTreesRegressor": "extra_trees",
    "HistGradientBoostingClassifier": "hist_gradient_boosting",
    "HistGradientBoostingRegressor": "hist_gradient_boosting",
    "GradientBoostingClassifier": "gradient_boosting", "GradientBoostingRegressor": "gradient_boosting",
    "LogisticRegression": "logistic_regression", "Ridge": "ridge", "LinearRegression": "linear_regression",
    "KNeighborsClassifier": "knn", "KNeighborsRegressor": "knn", "SVC": "svm", "SVR": "svm",
    "DecisionTreeClassifier": "decision_tree", "DecisionTreeRegressor": "decision_tree",
    "MLPClassifier": "mlp", "MLPRegressor": "mlp", "GaussianNB": "naive_bayes",
}
KNOWN_FAMILIES = frozenset(FAMILIES.values())
ENUM_WORDS = frozenset(
    "gini entropy log_loss sqrt log2 auto l1 l2 elasticnet none balanced balanced_subsample uniform distance lbfgs "
    "liblinear newton-cg newton-cholesky sag saga rbf linear poly sigmoid precomputed squared_error absolute_error "
    "friedman_mse poisson huber quantile best random ball_tree kd_tree brute minkowski euclidean manhattan "
    "ovr multinomial scale relu tanh logistic identity adam sgd constant invscaling adaptive".split())
_IDENT = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")


def parse_param(text: str) -> Any:
    """An MLflow param (always a string) as the value it was: number, bool, None, else the string."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        f = float(text)
        return f if math.isfinite(f) else text
    except ValueError:
        return text


_SKLEARN = ("ensemble", "linear_model", "neighbors", "svm", "tree", "neural_network", "naive_bayes")


@functools.cache
def known_param_names() -> frozenset[str]:
    """The constructor parameters of the estimators in FAMILIES (scikit-learn's own names)."""
    import importlib

    names: set[str] = set()
    for cls_name in FAMILIES:
        for module in _SKLEARN:
            cls = getattr(importlib.import_module(f"sklearn.{module}"), cls_name, None)
            if cls is not None:
                names |= set(cls().get_params())
                break
    return frozenset(names)


def anonymous_params(params: dict[str, Any]) -> dict[str, Any]:
    """Only scikit-learn's parameter names, and only values that cannot carry a name: numbers, booleans, None and
    scikit-learn's option words."""
    known = known_param_names()
    return {k: v for k, v in params.items() if k in known and (
        v is None or isinstance(v, (bool, int, float)) or isinstance(v, str) and v.lower() in ENUM_WORDS)}


def family_of(tags: dict[str, str]) -> str | None:
    fam = tags.get("mlp.family") or FAMILIES.get(tags.get("estimator_class", "").rsplit(".", 1)[-1])
    return fam if fam and _IDENT.match(fam) else None


def score_of(metrics: dict[str, float | None]) -> tuple[str, float] | None:
    for m in METRICS:
        v = metrics.get(m)
        if v is not None and math.isfinite(v):
            return m, float(v)
    return None


def snapshot_of(tags: dict[str, str]) -> tuple[str, int] | None:
    try:
        refs = json.loads(tags.get("mlp.datasets", "[]"))
    except ValueError:
        return None
    for ref in refs if isinstance(refs, list) else []:
        if isinstance(ref, dict) and ref.get("name") and str(ref.get("snapshot_id") or "").isdigit():
            return str(ref["name"]), int(ref["snapshot_id"])
    return None


def run_profile(tags: dict[str, str]) -> tuple[str, dict[str, float]] | None:
    """(dataset name, profile) of the first read whose profile the run's kernel logged (`mlp.profiles`, see
    `jupyter_mlp.lineage`), in this profile version, else None. Only the names of `profiling.FEATURES` are read
    back, numbers or NaN: whatever else a tag might hold never enters the evidence."""
    try:
        items = json.loads(tags.get("mlp.profiles", "[]"))
    except ValueError:
        return None
    for item in items if isinstance(items, list) else []:
        if not (isinstance(item, dict) and item.get("name") and isinstance(item.get("features"), dict)
                and item.get("version") == profiling.VERSION):
            continue
        feats = item["features"]
        return str(item["name"]), {k: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan
                                   for k in profiling.FEATURES for v in [feats.get(k)]}
    return None


def task_of(meta: dict[str, float]) -> str | None:
    for task in ("binary", "multiclass", "regression"):
        if meta.get(f"target_{task}") == 1.0:
            return task
    return None


def _current(catalog: Any, slug: str, name: str) -> int:
    for d in catalog.list(slug):
        if d["name"] == name:
            return int(d["current_snapshot_id"])
    raise LookupError(name)


def snapshot_profile(home: Path, catalog: Any, slug: str, name: str, snapshot_id: int | None,
                     target: str | None) -> tuple[int, dict[str, float]]:
    """(snapshot id, profile) of a dataset snapshot (default: the current one): the profile the datasets domain
    keeps with the snapshot when it has one for this target (`Catalog.profile`), else computed from its rows; kept
    under `$MLP_HOME/recommender/profiles` either way. LookupError for an unknown dataset or snapshot; ValueError
    (in words) for a target the data cannot have."""
    import pandas as pd

    if snapshot_id is None:
        snapshot_id = _current(catalog, slug, name)
    cache = home / "recommender" / "profiles" / slug
    path = cache / f"{name}@{snapshot_id}@{target or ''}.json"
    if path.is_file():
        return snapshot_id, profiling.from_json(path.read_text())["features"]
    if hasattr(catalog, "profile"):  # the datasets domain keeps profiles with snapshots
        body = catalog.profile(slug, name, snapshot_id, target)
        prof = {k: (math.nan if v is None else float(v)) for k, v in body["features"].items()}
    else:
        data, _ = catalog.read(slug, name, snapshot_id)
        prof = profiling.profile(pd.read_parquet(io.BytesIO(data)), target)
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(profiling.to_json(prof))
    return snapshot_id, prof


def _finite(meta: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in meta.items() if isinstance(v, (int, float)) and math.isfinite(v)}


def history(db: Session, search: Any, catalog: Any, home: Path, who: Identity, *, cross_project: bool,
            task: str | None = None) -> list[dict[str, Any]]:
    """Evidence items for `who` (see the module's docstring), the projects in slug order, newest runs first."""
    out: list[dict[str, Any]] = []
    for project in db.execute(select(Project).order_by(Project.slug)).scalars():
        visible = role_in(db, who, project) is not None
        if not visible and not cross_project:
            continue
        ids = experiment_ids(db, project.id)
        if not ids:
            continue
        rows, _ = search.page(RunQuery(experiment_ids=ids, filter="attributes.status = 'FINISHED'",
                                       order_by=[], limit=MAX_RUNS, offset=0))
        for r in rows:
            fam, score, snap = family_of(r.tags), score_of(r.metrics), snapshot_of(r.tags)
            if fam is None or score is None:
                continue
            found: tuple[str, dict[str, float]] | None = None
            if snap is not None:
                try:
                    found = snap[0], snapshot_profile(home, catalog, project.slug, snap[0], snap[1],
                                                      r.tags.get("mlp.target"))[1]
                except (LookupError, ValueError) as e:  # the snapshot expired, or its target no longer fits
                    log.info("recommender history: run %s has no snapshot profile: %s", r.run_id, e)
            if found is None:
                found = run_profile(r.tags)  # a plain file's profile, logged by the run's kernel
            if found is None:
                continue
            dataset, meta = found[0], _finite(found[1])
            run_task = task_of(meta)
            if task is not None and run_task is not None and (task == "regression") != (run_task == "regression"):
                continue
            params = {k: parse_param(v) for k, v in r.params.items()}
            item: dict[str, Any] = {"visible": visible, "family": fam, "metric": score[0], "score": score[1],
                                    "meta": meta, "task": run_task}
            if not visible and fam not in KNOWN_FAMILIES:  # a free-text family tag could carry a name
                continue
            if visible:
                item.update(project=project.slug, run_id=r.run_id, run_name=r.run_name, params=params,
                            dataset=dataset)
            else:
                item["params"] = anonymous_params(params)
            out.append(item)
    return out
