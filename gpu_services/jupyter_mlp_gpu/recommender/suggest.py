"""Suggestions: from a dataset's profile and a ranker, the model families to try, each with a search space, its
preprocessing and a warm-start list, and the past experiments that justify them.

`compose(meta, task, ranker, corpus, history=...)` returns plain JSON:

- `families`: best first, each `{family, score, search_space, preprocessing, warm_start, evidence}`. The order is
  the ranker's (a family stands where its best configuration does). The search space (jupyter_mlp.search_space's
  specs) is drawn from the family's configurations that did well (top quarter of a dataset's scores, and always
  the best) on the most similar past datasets, weighted by similarity; when none did, from all the family's
  configurations in the corpus.
- `preprocessing`: steps the profile calls for (preprocess.py), each with the reason.
- `warm_start`: concrete configurations to evaluate first, the ranker's best then the best similar platform runs.
- `evidence` (per family): the most similar past experiments where the family did well. A corpus dataset is named
  (public data); a platform run is cited (`{"type": "run", "id", "project", "label"}`, what the assistant's chips
  open) only when `visible` — the backend marks the runs the asking user can open, and sends the others without
  project, run id, name or dataset (history.py). An anonymous run adds its statistics, never a name.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .preprocess import preprocessing
from .similarity import Candidate, nearest

K_SIMILAR = 8
N_FAMILIES = 5
N_WARM = 5
N_EVIDENCE = 3
GOOD_QUANTILE = 0.75
NOT_SEARCHED = frozenset({"random_state", "n_jobs", "verbose", "copy_X"})  # settings, not hyperparameters


def _params(p: Any) -> dict[str, Any]:
    return json.loads(p) if isinstance(p, str) else dict(p or {})


def _knobs(params: Any, known: set[str] | None) -> dict[str, Any]:
    return {n: v for n, v in _params(params).items() if not known or n in known}


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _weighted_median(values: list[float], weights: list[float]) -> float:
    pairs = sorted(zip(values, weights))
    half, acc = sum(weights) / 2, 0.0
    for v, w in pairs:
        acc += w
        if acc >= half:
            return v
    return pairs[-1][0]


def _spread(values: list[Any], k: int = 5) -> list[Any]:
    """At most `k` of the sorted distinct values, evenly picked (both ends kept)."""
    vals = sorted(set(values))
    if len(vals) <= k:
        return vals
    return [vals[round(i * (len(vals) - 1) / (k - 1))] for i in range(k)]


def derive_space(samples: Sequence[tuple[dict[str, Any], float]]) -> dict[str, dict[str, Any]]:
    """A search space from (params, weight) samples: per hyperparameter, int/float ranges (log when positive and
    spanning a factor of 10 or more) or categorical choices with their weighted shares."""
    names = sorted({n for p, _ in samples for n in p} - NOT_SEARCHED)
    space: dict[str, dict[str, Any]] = {}
    for name in names:
        seen = [(p[name], w) for p, w in samples if name in p]
        values = [v for v, _ in seen]
        numeric = all(_num(v) for v in values) and len(set(values)) > 1
        if not numeric:
            share: dict[str, float] = {}
            first: dict[str, Any] = {}
            for v, w in seen:
                key = json.dumps(v, sort_keys=True, default=str)
                share[key] = share.get(key, 0.0) + w
                first.setdefault(key, v)
            total = sum(share.values()) or 1.0
            keys = sorted(share, key=lambda k: (-share[k], k))
            space[name] = {"type": "categorical", "choices": [first[k] for k in keys],
                           "weights": [round(share[k] / total, 3) for k in keys]}
            continue
        is_int = all(isinstance(v, int) for v in values)
        low, high = min(values), max(values)
        spec: dict[str, Any] = {"type": "int" if is_int else "float", "low": low, "high": high,
                                "log": bool(low > 0 and high / low >= 10), "values": _spread(values),
                                "prior": {"center": _weighted_median([float(v) for v in values],
                                                                     [w for _, w in seen])}}
        if is_int:
            spec["prior"]["center"] = int(round(spec["prior"]["center"]))
        space[name] = spec
    return space


def _corpus_candidates(corpus: Any) -> list[Candidate]:
    out = []
    for row in corpus.datasets.itertuples(index=False):
        meta = json.loads(row.meta) if isinstance(row.meta, str) else dict(row.meta)
        out.append(Candidate(str(row.dataset_id), str(row.task), meta,
                             {"source": "corpus", "dataset": str(row.dataset_id)}))
    return out


def _history_candidates(history: Iterable[Mapping[str, Any]]) -> list[Candidate]:
    out = []
    for i, h in enumerate(history):
        if not h.get("family") or not _num(h.get("score")):
            continue
        key = f"run:{h['run_id']}" if h.get("visible") and h.get("run_id") else f"anonymous:{i}"
        out.append(Candidate(key, str(h.get("task") or ""), dict(h.get("meta") or {}), dict(h)))
    return out


def _good_configs(corpus: Any, dataset_ids: list[str]) -> dict[str, list[tuple[str, float, str]]]:
    """dataset_id -> [(config_id, score, metric)] of the configurations in its top quarter (and its best)."""
    scores = corpus.scores[corpus.scores["dataset_id"].isin(dataset_ids)]
    out: dict[str, list[tuple[str, float, str]]] = {}
    for did, grp in scores.groupby("dataset_id"):
        cut = grp["score"].quantile(GOOD_QUANTILE)
        best = grp["score"].max()
        keep = grp[(grp["score"] >= cut) | (grp["score"] == best)].sort_values("score", ascending=False)
        out[str(did)] = [(str(r.config_id), float(r.score), str(r.metric)) for r in keep.itertuples(index=False)]
    return out


def _evidence_item(c: Candidate, sim: float, score: float, metric: str, config_id: str | None = None) -> dict:
    if c.info.get("source") == "corpus":
        return {"source": "corpus", "dataset": c.key, "similarity": sim, "score": round(score, 4), "metric": metric,
                "config_id": config_id}
    item = {"source": "platform", "similarity": sim, "score": round(score, 4), "metric": metric}
    if c.info.get("visible") and c.info.get("run_id") and c.info.get("project"):
        item["citation"] = {"type": "run", "id": str(c.info["run_id"]), "project": str(c.info["project"]),
                            "label": str(c.info.get("run_name") or c.info["run_id"])}
    else:
        item["anonymous"] = True
    return item


def compose(meta: Mapping[str, Any], task: str, ranker: Any, corpus: Any, *,
            history: Iterable[Mapping[str, Any]] = (), profile: Mapping[str, Any] | None = None,
            n_families: int = N_FAMILIES, n_warm: int = N_WARM, k_similar: int = K_SIMILAR) -> dict[str, Any]:
    """The suggestion for a dataset with meta-features `meta` and `task` (see the module's docstring).

    `history`: platform runs as the backend sends them (`{family, params, score, metric, meta, task, visible,
    project?, run_id?, run_name?}`); `profile`: the whole profile, for preprocessing (default: `meta`)."""
    configs = corpus.configs.set_index("config_id")
    family_of = configs["family"].to_dict()
    ranked = [(str(c), float(s)) for c, s in ranker.rank(dict(meta), task) if str(c) in family_of]
    order: list[str] = []
    fam_score: dict[str, float] = {}
    for cid, s in ranked:
        fam = family_of[cid]
        if fam not in fam_score:
            fam_score[fam] = s
            order.append(fam)
    order = order[:n_families]

    corpus_near = nearest(meta, task, _corpus_candidates(corpus), k_similar)
    runs = _history_candidates(history)
    runs_near = nearest(meta, task, runs, k_similar) if runs else []
    good = _good_configs(corpus, [c.key for c, _ in corpus_near])

    # a run logs every constructor argument: its parameters count where the corpus's configurations have them
    knobs = {fam: {n for p in grp for n in _params(p)} for fam, grp in configs.groupby("family")["params"]}
    families = []
    for fam in order:
        samples: list[tuple[dict[str, Any], float]] = []
        evidence: list[tuple[float, dict]] = []
        for c, sim in corpus_near:
            hits = [(cid, s, m) for cid, s, m in good.get(c.key, []) if family_of.get(cid) == fam]
            for cid, s, m in hits:
                samples.append((_params(configs.at[cid, "params"]), max(sim, 1e-3)))
            if hits:
                evidence.append((sim, _evidence_item(c, sim, hits[0][1], hits[0][2], hits[0][0])))
        for c, sim in runs_near:
            if c.info.get("family") == fam:
                samples.append((_knobs(c.info.get("params"), knobs.get(fam)), max(sim, 1e-3)))
                evidence.append((sim, _evidence_item(c, sim, float(c.info["score"]), str(c.info.get("metric", "")))))
        space = derive_space(samples)
        if not space:  # nothing similar did well, or only its defaults did (LCDB): the family's whole corpus range
            space = derive_space([(_params(p), 1.0) for p in configs.loc[configs["family"] == fam, "params"]])
        evidence.sort(key=lambda e: -e[0])
        warm = [{"family": fam, "config_id": cid, "params": _params(configs.at[cid, "params"]), "score": s}
                for cid, s in ranked if family_of[cid] == fam][:n_warm]
        families.append({"family": fam, "score": round(fam_score[fam], 4), "search_space": space,
                         "preprocessing": preprocessing(profile or meta, task, fam),
                         "warm_start": warm, "evidence": [e for _, e in evidence[:N_EVIDENCE]]})

    warm_start = [{"family": family_of[cid], "config_id": cid, "params": _params(configs.at[cid, "params"]),
                   "source": "corpus"} for cid, _ in ranked[:n_warm]]
    seen = {json.dumps([w["family"], w["params"]], sort_keys=True) for w in warm_start}
    for c, sim in runs_near:
        entry = {"family": c.info["family"], "params": _knobs(c.info.get("params"), knobs.get(c.info["family"])),
                 "source": "platform"}
        key = json.dumps([entry["family"], entry["params"]], sort_keys=True)
        if c.info["family"] in order and key not in seen and len(warm_start) < 2 * n_warm:
            seen.add(key)
            ev = _evidence_item(c, sim, float(c.info["score"]), str(c.info.get("metric", "")))
            if "citation" in ev:
                entry["citation"] = ev["citation"]
            warm_start.append(entry)
    return {"suggestion_id": uuid.uuid4().hex, "task": task, "families": families,
            "preprocessing": preprocessing(profile or meta, task, None), "warm_start": warm_start,
            "corpus_version": getattr(corpus, "version", ""),
            "history": {"runs": len(runs), "cited": sum(1 for c in runs if c.key.startswith("run:"))}}


class NearestDatasetsRanker:
    """Configurations by their mean score on the `k` corpus datasets most similar to the profile (similarity.py):
    the suggestions' own fallback while no trained method (baselines.py, model.py) is available."""

    def __init__(self, corpus: Any, k: int = 10):
        self.corpus, self.k = corpus, k
        self._candidates = _corpus_candidates(corpus)

    def rank(self, meta: Mapping[str, Any], task: str) -> list[tuple[str, float]]:
        near = [c.key for c, _ in nearest(meta, task, self._candidates, self.k)]
        s = self.corpus.scores[self.corpus.scores["dataset_id"].isin(near)]
        mean = s.groupby("config_id")["score"].mean().sort_values(ascending=False, kind="stable")
        return [(str(c), float(v)) for c, v in mean.items()]
