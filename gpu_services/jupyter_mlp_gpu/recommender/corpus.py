"""The recommender's corpus: which configurations scored how on which datasets, with each dataset's profile.

Four files in one folder (the shipped one is `corpus/` beside this module, built by
`python -m jupyter_mlp_gpu.recommender.build_corpus`; docs/recommender.md):

- `datasets.parquet`: dataset_id, source, task ("binary" | "multiclass" | "regression"), meta (JSON object of
  meta-feature name -> float; names from `jupyter_mlp.profiling.FEATURES` where they correspond, others prefixed by
  their source, e.g. "openml:..."), n_rows, n_features
- `configs.parquet`: config_id, family, params (JSON of scikit-learn constructor parameters), space
  ("lcdb-default" | "grid")
- `scores.parquet`: dataset_id, config_id, score (higher is better), metric
- `manifest.json`: version ("sha256:" + `content_hash` of the three frames), built_by, sources, counts, built_at

The version hashes the frames' content (rows sorted, values in canonical JSON), not the parquet bytes, so the same
corpus written by another pyarrow has the same version; `load_corpus` recomputes it and refuses altered files.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

SHIPPED = Path(__file__).resolve().parent / "corpus"
TASKS = ("binary", "multiclass", "regression")
SPACES = ("lcdb-default", "grid")
COLUMNS = {
    "datasets": ["dataset_id", "source", "task", "meta", "n_rows", "n_features"],
    "configs": ["config_id", "family", "params", "space"],
    "scores": ["dataset_id", "config_id", "score", "metric"],
}
KEYS = {"datasets": ["dataset_id"], "configs": ["config_id"], "scores": ["dataset_id", "config_id", "metric"]}


class CorpusError(ValueError):
    """The corpus is missing, malformed, or its files do not match the manifest's version."""


@dataclass
class Corpus:
    datasets: pd.DataFrame
    configs: pd.DataFrame
    scores: pd.DataFrame
    manifest: dict = field(default_factory=dict)

    @property
    def version(self) -> str:
        return self.manifest.get("version", "")

    def meta(self, dataset_id: str) -> dict[str, float]:
        """A dataset's meta-features (name -> float; NaN where the source did not have one)."""
        row = self.datasets.loc[self.datasets["dataset_id"] == dataset_id]
        if row.empty:
            raise KeyError(f"no dataset {dataset_id!r} in the corpus")
        return {k: (math.nan if v is None else float(v)) for k, v in json.loads(row["meta"].iloc[0]).items()}

    def matrix(self, space: str | None = None, metric: str | None = None) -> pd.DataFrame:
        """Dataset x configuration scores (index dataset_id, columns config_id), NaN where not evaluated.

        `space` keeps the configurations of one space ("lcdb-default" or "grid"), and the datasets that have any
        score in it. Where a dataset has a configuration scored under several metrics, `metric` picks one; by
        default the first metric in sorted order is taken for each pair.
        """
        scores = self.scores
        if space is not None:
            if space not in SPACES:
                raise ValueError(f"unknown space {space!r}: one of {', '.join(SPACES)}")
            ids = set(self.configs.loc[self.configs["space"] == space, "config_id"])
            scores = scores[scores["config_id"].isin(ids)]
        if metric is not None:
            scores = scores[scores["metric"] == metric]
        scores = scores.sort_values(["dataset_id", "config_id", "metric"]).drop_duplicates(["dataset_id", "config_id"])
        return scores.pivot(index="dataset_id", columns="config_id", values="score").astype(float)


def _canonical_value(v):
    if v is None:
        return None
    if isinstance(v, float) or hasattr(v, "dtype") and getattr(v.dtype, "kind", "") == "f":
        v = float(v)
        return None if math.isnan(v) else v
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    return v


def content_hash(datasets: pd.DataFrame, configs: pd.DataFrame, scores: pd.DataFrame) -> str:
    """sha256 over the three frames' rows (contract columns, sorted by key), one canonical JSON line per row."""
    h = hashlib.sha256()
    for name, frame in (("datasets", datasets), ("configs", configs), ("scores", scores)):
        frame = frame[COLUMNS[name]].sort_values(KEYS[name], kind="mergesort")
        h.update(f"#{name}\n".encode())
        for row in frame.itertuples(index=False, name=None):
            h.update(json.dumps([_canonical_value(v) for v in row], separators=(",", ":"),
                                allow_nan=False).encode())
            h.update(b"\n")
    return "sha256:" + h.hexdigest()


def _check(datasets: pd.DataFrame, configs: pd.DataFrame, scores: pd.DataFrame) -> None:
    for name, frame in (("datasets", datasets), ("configs", configs), ("scores", scores)):
        missing = [c for c in COLUMNS[name] if c not in frame.columns]
        if missing:
            raise CorpusError(f"{name}.parquet lacks the column(s) {', '.join(missing)}")
        if frame.duplicated(KEYS[name]).any():
            raise CorpusError(f"{name}.parquet repeats a key ({', '.join(KEYS[name])})")
    bad = set(datasets["task"]) - set(TASKS)
    if bad:
        raise CorpusError(f"datasets.parquet has unknown task(s) {sorted(bad)}: one of {', '.join(TASKS)}")
    bad = set(configs["space"]) - set(SPACES)
    if bad:
        raise CorpusError(f"configs.parquet has unknown space(s) {sorted(bad)}: one of {', '.join(SPACES)}")
    unknown = set(scores["dataset_id"]) - set(datasets["dataset_id"])
    if unknown:
        raise CorpusError(f"scores.parquet names {len(unknown)} dataset(s) not in datasets.parquet, "
                          f"e.g. {sorted(unknown)[0]!r}")
    unknown = set(scores["config_id"]) - set(configs["config_id"])
    if unknown:
        raise CorpusError(f"scores.parquet names {len(unknown)} config(s) not in configs.parquet, "
                          f"e.g. {sorted(unknown)[0]!r}")


def write_corpus(out: str | Path, datasets: pd.DataFrame, configs: pd.DataFrame, scores: pd.DataFrame, *,
                 built_by: str, sources: dict[str, str]) -> dict:
    """Write the three frames and their manifest into `out` (created); returns the manifest."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frames = {}
    for name, frame in (("datasets", datasets), ("configs", configs), ("scores", scores)):
        frames[name] = frame[COLUMNS[name]].sort_values(KEYS[name], kind="mergesort").reset_index(drop=True)
    frames["datasets"] = frames["datasets"].astype({"n_rows": "int64", "n_features": "int64"})
    frames["scores"] = frames["scores"].astype({"score": "float64"})
    _check(**frames)
    for name, frame in frames.items():
        frame.to_parquet(out / f"{name}.parquet", index=False, compression="zstd")
    manifest = {
        "version": content_hash(**frames),
        "built_by": built_by,
        "sources": dict(sorted(sources.items())),
        "counts": {
            "datasets": len(frames["datasets"]),
            "configs": len(frames["configs"]),
            "scores": len(frames["scores"]),
            "datasets_by_source": {k: int(v) for k, v in frames["datasets"]["source"].value_counts().sort_index().items()},
            "configs_by_space": {k: int(v) for k, v in frames["configs"]["space"].value_counts().sort_index().items()},
        },
        "built_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def load_corpus(path: str | Path | None = None) -> Corpus:
    """Load a corpus folder (default: the shipped one) and verify its files against the manifest's version."""
    path = Path(path) if path is not None else SHIPPED
    try:
        manifest = json.loads((path / "manifest.json").read_text())
    except FileNotFoundError:
        raise CorpusError(f"no corpus at {path}: manifest.json is missing (build one with "
                          "`python -m jupyter_mlp_gpu.recommender.build_corpus --out DIR`)") from None
    except json.JSONDecodeError as e:
        raise CorpusError(f"{path / 'manifest.json'} is not JSON: {e}") from None
    frames = {}
    for name in COLUMNS:
        try:
            frames[name] = pd.read_parquet(path / f"{name}.parquet")
        except FileNotFoundError:
            raise CorpusError(f"the corpus at {path} lacks {name}.parquet") from None
        except Exception as e:  # pyarrow's errors for a truncated or foreign file
            raise CorpusError(f"{path / (name + '.parquet')} cannot be read as parquet: {e}") from None
    _check(**frames)
    actual = content_hash(**frames)
    expected = manifest.get("version")
    if actual != expected:
        raise CorpusError(f"the corpus at {path} does not match its manifest: its files hash to {actual}, the "
                          f"manifest says {expected} (were they altered? rebuild with build_corpus)")
    return Corpus(frames["datasets"], frames["configs"], frames["scores"], manifest)


def fixture_corpus(out: str | Path, *, n_datasets: int = 12, seed: int = 0) -> Corpus:
    """A small synthetic corpus for tests (not shipped): datasets in two clusters of meta-features whose best
    configurations differ, a handful of configurations per family, a few scores missing. Returns it loaded."""
    import numpy as np

    rng = np.random.default_rng(seed)
    families = {
        "random_forest": [{"n_estimators": n, "max_features": f} for n in (50, 200) for f in ("sqrt", 0.5)],
        "logistic_regression": [{"C": c} for c in (0.01, 0.1, 1.0, 10.0)],
        "knn": [{"n_neighbors": k} for k in (1, 5, 15, 31)],
        "hist_gradient_boosting": [{"learning_rate": lr, "max_leaf_nodes": m} for lr in (0.05, 0.2) for m in (15, 63)],
    }
    configs = [{"config_id": f"grid:{fam}:{i}", "family": fam, "params": json.dumps(p, sort_keys=True),
                "space": "grid"} for fam, ps in families.items() for i, p in enumerate(ps)]
    datasets, scores = [], []
    for d in range(n_datasets):
        cluster = d % 2
        n_rows, n_features = int(rng.integers(100, 5000)), int(rng.integers(2, 60))
        meta = {"n_rows": float(n_rows), "n_features": float(n_features),
                "share_numeric": float(0.9 if cluster else 0.3), "share_categorical": float(0.1 if cluster else 0.7),
                "landmark_1nn": float(rng.uniform(0.5, 1.0)), "fixture:cluster": float(cluster)}
        did = f"fixture:{d}"
        datasets.append({"dataset_id": did, "source": "fixture", "task": "binary" if cluster else "multiclass",
                         "meta": json.dumps(meta, sort_keys=True), "n_rows": n_rows, "n_features": n_features})
        good = ("hist_gradient_boosting", "random_forest") if cluster else ("logistic_regression", "knn")
        for c in configs:
            if rng.random() < 0.1:
                continue
            base = 0.85 if c["family"] in good else 0.7
            scores.append({"dataset_id": did, "config_id": c["config_id"],
                           "score": float(base + rng.normal(0, 0.03)), "metric": "accuracy"})
    write_corpus(out, pd.DataFrame(datasets), pd.DataFrame(configs), pd.DataFrame(scores),
                 built_by="jupyter_mlp_gpu.recommender.corpus.fixture_corpus", sources={"fixture": str(seed)})
    return load_corpus(out)
