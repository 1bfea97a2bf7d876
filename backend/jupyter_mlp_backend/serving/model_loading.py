"""Loading a serving worker's model: verified against its signed statement first, then a pickled scikit-learn
model without MLflow where it can be, and the fast forms the worker may use (class probabilities, one numpy array
instead of a DataFrame: issue 17). Split from worker.py, which kept the request path."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from . import protocol


def load(folder: Path, project: str, name: str, version: int) -> tuple[Any, protocol.Schema]:
    """Verify the folder against its signed statement, then (and only then) load the model. The statement, its
    signature and the trusted public keys lie beside the folder, written by the backend."""
    import base64

    import yaml

    from jupyter_mlp.signing import VerificationError, verify_model_dir

    meta = folder.parent
    statement = json.loads((meta / "statement.json").read_text())
    signature = (meta / "signature").read_text().strip()
    trusted = {k: base64.b64decode(v) for k, v in json.loads((meta / "trusted.json").read_text()).items()}
    try:
        verify_model_dir(folder, statement, signature, trusted, project=project, model=name, version=version)
    except VerificationError as e:
        print(f"REFUSED {e}", flush=True)
        sys.exit(3)
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    model = load_sklearn(folder, mlmodel)
    if model is None:
        import mlflow.pyfunc

        model = mlflow.pyfunc.load_model(str(folder))
    return model, protocol.Schema.from_mlmodel(mlmodel)


def probabilities_of(model: Any) -> tuple[Any, list[Any] | None]:
    """(predict_proba, classes) of a classifier whose raw model has them and whose predictions are not already
    probabilities (`pyfunc_predict_fn="predict_proba"`); (None, None) otherwise."""
    if isinstance(model, SklearnModel):
        raw, fn_name = model.estimator, model.predict_fn
    else:
        py = (getattr(getattr(model, "metadata", None), "flavors", None) or {}).get("python_function") or {}
        if py.get("loader_module") not in ("mlflow.sklearn", "mlflow.xgboost", "mlflow.catboost"):
            return None, None
        try:
            raw = model.get_raw_model()
        except (NotImplementedError, AttributeError):
            return None, None
        fn_name = py.get("predict_fn") or "predict"
    fn = getattr(raw, "predict_proba", None)  # scikit-learn's available_if: absent when the model cannot
    classes = getattr(raw, "classes_", None)
    if fn is None or fn_name != "predict" or classes is None:
        return None, None
    return fn, protocol.jsonable(classes)


def array_dtype(model: Any, schema: protocol.Schema) -> str | None:
    """The numpy dtype to give this model its inputs as one array, or None where it must get a DataFrame: not a
    scikit-learn model loaded here, inputs of several types or not numbers, or columns in another order than the
    estimator was fitted on."""
    if not isinstance(model, SklearnModel) or not schema.columns:
        return None
    types = {c.type for c in schema.columns}
    if len(types) != 1 or next(iter(types)) not in ("double", "float", "long", "integer"):
        return None
    est = model.estimator
    fitted = getattr(est, "feature_names_in_", None)
    if fitted is not None and [str(n) for n in fitted] != schema.names:
        return None
    if getattr(est, "n_features_in_", len(schema.columns)) != len(schema.columns):
        return None
    return protocol.CHECKS[next(iter(types))][1]


class SklearnModel:
    """A scikit-learn model as MLflow's pyfunc wrapper calls it (`predict_fn` of the python_function flavor)."""

    def __init__(self, estimator: Any, predict_fn: str):
        self.estimator, self.predict_fn = estimator, predict_fn
        self._fn = getattr(estimator, predict_fn)

    def predict(self, frame: Any, params: dict[str, Any] | None = None) -> Any:
        return self._fn(frame)


def load_sklearn(folder: Path, mlmodel: dict[str, Any]) -> SklearnModel | None:
    """Load a pickled scikit-learn model without importing MLflow (about 90 MB less per worker); None for every
    other flavor or format, which `mlflow.pyfunc` loads."""
    import pickle

    flavors = mlmodel.get("flavors") or {}
    sk, py = flavors.get("sklearn"), flavors.get("python_function") or {}
    if not sk or sk.get("code") or py.get("loader_module") != "mlflow.sklearn" or py.get("code"):
        return None
    fmt = sk.get("serialization_format", "cloudpickle")
    if fmt not in ("cloudpickle", "pickle"):
        return None
    path = (folder / sk["pickled_model"]).resolve()
    if folder.resolve() not in path.parents:
        raise ValueError("the model file lies outside the model folder")
    with open(path, "rb") as f:
        if fmt == "cloudpickle":
            import cloudpickle

            estimator = cloudpickle.load(f)
        else:
            estimator = pickle.load(f)  # noqa: S301 - verified against the signed manifest just before
    return SklearnModel(estimator, py.get("predict_fn") or "predict")
