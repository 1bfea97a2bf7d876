"""Expected answers of the assistant's question set, computed from the history generator's plan only.

Each question in assistant_questions.yaml names a `kind` and its `slots`; `expected(kind, slots, asker, plan)`
returns the exact answer content: figures with their precision, records by the generator's stable names, and
`cite`: the records an answer must cite, as {type, key}. The question file stores the result;
tests/assistant/test_question_set.py recomputes it so the file cannot drift from the generator.

Access: an asker sees only the projects they are a member of (assistant_history.MEMBERS). A question that names
only projects the asker cannot open expects `{"found": false}`, cites nothing, and lists the projects whose
names, ids and counts must not appear (`forbidden`).
"""

from __future__ import annotations

from typing import Any

from tests.bench.assistant_history import MEMBERS, p95

WEEK_DAYS = 7.0


def visible(asker: str) -> set[str]:
    return {slug for slug, members in MEMBERS.items() if asker in members}


def _projects(plan: dict) -> dict[str, dict]:
    return {p["slug"]: p for p in plan["projects"]}


def _not_found(forbidden: list[str]) -> dict[str, Any]:
    return {"found": False, "cite": [], "forbidden": sorted(forbidden)}


def _finished(p: dict) -> list[dict]:
    return [r for r in p["runs"] if r["status"] == "FINISHED" and "auc" in r["metrics"]]


def _best(runs: list[dict], metric: str = "auc") -> dict:
    return max(runs, key=lambda r: (r["metrics"][metric], r["key"]))


def _find_project(plan: dict, asker: str, slots: dict) -> tuple[dict | None, list[str]]:
    """The project a question names (slot `project`, or the one holding slot `deployment`/`model`), if the
    asker can open it."""
    ps = _projects(plan)
    if "project" in slots:
        cands = [slots["project"]]
    elif "deployment" in slots:
        cands = [s for s, p in ps.items() if p["deployment"] and p["deployment"]["name"] == slots["deployment"]]
    else:
        cands = [s for s, p in ps.items() if p["model"]["name"] == slots["model"]]
    mine = [s for s in cands if s in visible(asker)]
    if len(mine) != 1:
        return None, [s for s in cands if s not in visible(asker)]
    return ps[mine[0]], [s for s in cands if s not in visible(asker)]


def expected(kind: str, slots: dict, asker: str, plan: dict) -> dict[str, Any]:  # noqa: C901
    ps = _projects(plan)
    mine = visible(asker)
    if kind == "needs_llm":
        return {"needs_llm": True, "cite": []}

    if kind == "best_approach":
        cands = sorted((p for p in ps.values() if p["domain"] == slots["domain"]
                        and (not slots.get("client") or p["client"] == slots["client"])),
                       key=lambda p: p["days_ago"])
        allowed = [p for p in cands if p["slug"] in mine][: slots.get("last", 3)]
        if not allowed:
            return _not_found([p["slug"] for p in cands])
        per = []
        for p in allowed:
            b = _best(_finished(p))
            per.append({"project": p["slug"], "approach": b["params"]["features"], "auc": b["metrics"]["auc"],
                        "run": b["key"]})
        top = max(per, key=lambda x: (x["auc"], x["run"]))
        return {"found": True, "approach": top["approach"], "auc": top["auc"], "run": top["run"],
                "projects": [x["project"] for x in per], "per_project": per,
                "cite": [{"type": "run", "key": x["run"]} for x in per],
                "forbidden": sorted(p["slug"] for p in cands if p["slug"] not in mine)}

    if kind == "drift_client":
        cands = [p for p in ps.values() if p["client"] == slots["client"] and p["deployment"]]
        allowed = [p for p in cands if p["slug"] in mine and p["deployment"]["days_ago"] <= slots.get("days", 90)]
        forbidden = sorted(p["slug"] for p in cands if p["slug"] not in mine)
        if not allowed:
            return _not_found(forbidden)
        out, cite = [], []
        for p in sorted(allowed, key=lambda p: p["deployment"]["name"]):
            d = p["deployment"]
            drift_ws = [w for w in d["windows"] if w["status"] == "drift"]
            feats = sorted({f["feature"] for w in drift_ws for f in w["features"] if f["drift"]})
            worst = {f: max(x["statistic"] for w in d["windows"] for x in w["features"] if x["feature"] == f)
                     for f in feats}
            out.append({"deployment": d["name"], "project": p["slug"], "windows": len(d["windows"]),
                        "drift_windows": len(drift_ws), "drifting_features": feats, "max_psi": worst,
                        "latest_status": d["windows"][-1]["status"] if d["windows"] else None})
            cite.append({"type": "deployment", "key": d["key"]})
            if drift_ws:
                cite.append({"type": "monitor_window", "key": drift_ws[-1]["key"]})
        return {"found": True, "deployments": out, "cite": cite, "forbidden": forbidden}

    if kind == "retraining_why":
        p, forbidden = _find_project(plan, asker, slots)
        candidates = [p] if p else []
        if p is None and "model" in slots:  # a model name several of the asker's projects share
            candidates = [ps[s] for s in sorted(mine) if ps[s]["model"]["name"] == slots["model"]]
        with_r = [q for q in candidates if q["deployment"] and q["deployment"]["retraining"]]
        if not with_r:
            return _not_found(forbidden) if forbidden and not candidates else {
                "found": False, "cite": [], "forbidden": forbidden}
        p = with_r[0]
        r = p["deployment"]["retraining"]
        v = next(v for v in p["model"]["versions"] if v["version"] == r["version"])
        return {"found": True, "project": p["slug"], "deployment": p["deployment"]["name"], "version": r["version"],
                "status": r["status"], "promoted": False, "metric": "auc", "value": v["auc"],
                "threshold": p["model"]["threshold"], "message": r["message"],
                "cite": [{"type": "retraining", "key": r["key"]}, {"type": "gate_decision", "key": r["decision"]},
                         {"type": "model_version", "key": v["key"]}],
                "forbidden": forbidden}

    if kind == "approval":
        p, forbidden = _find_project(plan, asker, slots)
        if p is None:
            return _not_found(forbidden)
        v = next((v for v in p["model"]["versions"] if v["version"] == slots["version"]), None)
        if v is None:
            return {"found": False, "cite": [], "forbidden": forbidden}
        decided = [d for d in v["decisions"] if d["outcome"] in ("approved", "rejected")]
        if not decided:
            d = v["decisions"][-1]
            return {"found": True, "approved": False, "outcome": d["outcome"], "decided_by": "gates",
                    "reason": None, "auc": v["auc"], "threshold": p["model"]["threshold"],
                    "cite": [{"type": "gate_decision", "key": d["key"]}, {"type": "model_version", "key": v["key"]}],
                    "forbidden": forbidden}
        d = decided[-1]
        return {"found": True, "approved": d["outcome"] == "approved", "outcome": d["outcome"],
                "decided_by": d["actor"], "reason": d["reason"], "alias": d["alias"], "auc": v["auc"],
                "threshold": p["model"]["threshold"], "run": v["run"],
                "cite": [{"type": "gate_decision", "key": d["key"]}, {"type": "model_version", "key": v["key"]},
                         {"type": "run", "key": v["run"]}],
                "forbidden": forbidden}

    if kind == "dataset_runs":
        p, forbidden = _find_project(plan, asker, slots)
        if p is None:
            return _not_found(forbidden)
        runs = sorted(r["key"] for r in p["runs"] if r["dataset"]["snapshot"] == slots["snapshot"])
        return {"found": bool(runs), "count": len(runs), "runs": runs,
                "cite": [{"type": "run", "key": k} for k in runs], "forbidden": forbidden}

    if kind == "latency":
        p, forbidden = _find_project(plan, asker, slots)
        if p is None or p["deployment"]["stopped_days_ago"] is not None:
            return _not_found(forbidden)
        d = p["deployment"]
        week = [ms for days, ms in d["latency"] if days <= WEEK_DAYS]
        q = p95(week)
        return {"found": True, "deployment": d["name"], "p95_ms": q, "sla_ms": d["sla_ms"],
                "within_sla": q <= d["sla_ms"], "requests": len(week),
                "cite": [{"type": "deployment", "key": d["key"]}], "forbidden": forbidden}

    if kind == "compare_top2":
        p, forbidden = _find_project(plan, asker, slots)
        if p is None:
            return _not_found(forbidden)
        metric = slots.get("metric", "auc")
        runs = sorted((r for r in _finished(p) if r["experiment"] == slots["experiment"]),
                      key=lambda r: (-r["metrics"][metric], r["key"]))[:2]
        a, b = runs
        params = sorted(k for k in a["params"] if a["params"][k] != b["params"].get(k))
        return {"found": True, "runs": [a["key"], b["key"]], metric: [a["metrics"][metric], b["metrics"][metric]],
                "difference": float(f"{a['metrics'][metric] - b['metrics'][metric]:.4f}"),
                "differing_params": {k: [a["params"][k], b["params"][k]] for k in params},
                "cite": [{"type": "run", "key": a["key"]}, {"type": "run", "key": b["key"]}], "forbidden": forbidden}

    if kind == "count_runs":
        p, forbidden = _find_project(plan, asker, slots)
        if p is None:
            return _not_found(forbidden)
        runs = [r for r in p["runs"] if (not slots.get("experiment") or r["experiment"] == slots["experiment"])
                and (not slots.get("days") or r["days_ago"] <= slots["days"])
                and (not slots.get("status") or r["status"] == slots["status"])]
        return {"found": True, "count": len(runs), "cite": [{"type": "project", "key": p["slug"]}],
                "forbidden": forbidden}

    if kind == "best_run":
        p, forbidden = _find_project(plan, asker, slots)
        if p is None:
            return _not_found(forbidden)
        metric = slots.get("metric", "auc")
        runs = [r for r in _finished(p) if metric in r["metrics"]
                and (not slots.get("experiment") or r["experiment"] == slots["experiment"])]
        b = _best(runs, metric)
        return {"found": True, "run": b["key"], "run_name": b["name"], metric: b["metrics"][metric],
                "features": b["params"]["features"], "cite": [{"type": "run", "key": b["key"]}],
                "forbidden": forbidden}

    if kind == "latest_runs":
        p, forbidden = _find_project(plan, asker, slots)
        if p is None:
            return _not_found(forbidden)
        runs = sorted(p["runs"], key=lambda r: (r["days_ago"], r["key"]))[: slots.get("n", 5)]
        return {"found": True, "runs": [r["key"] for r in runs], "names": [r["name"] for r in runs],
                "cite": [{"type": "run", "key": r["key"]} for r in runs], "forbidden": forbidden}

    if kind == "champion":
        p, forbidden = _find_project(plan, asker, slots)
        if p is None:
            return _not_found(forbidden)
        champ = None
        for v in p["model"]["versions"]:
            for d in v["decisions"]:
                if d["alias"] == "champion" and d["outcome"] in ("approved", "passed"):
                    champ = v
        return {"found": True, "model": p["model"]["name"], "version": champ["version"], "auc": champ["auc"],
                "cite": [{"type": "model_version", "key": champ["key"]}], "forbidden": forbidden}

    if kind == "deployments":
        p, forbidden = _find_project(plan, asker, slots)
        if p is None:
            return _not_found(forbidden)
        d = p["deployment"]
        if d is None:
            return {"found": False, "cite": [], "forbidden": forbidden}
        return {"found": True, "deployments": [{"name": d["name"], "model": d["model"], "version": d["version"],
                                                "sla_ms": d["sla_ms"],
                                                "status": "ready",
                                                "monitored": d["stopped_days_ago"] is None}],
                "cite": [{"type": "deployment", "key": d["key"]}], "forbidden": forbidden}

    if kind == "alerts":
        p, forbidden = _find_project(plan, asker, slots)
        if p is None:
            return _not_found(forbidden)
        d = p["deployment"]
        firing = [a for a in (d["alerts"] if d else []) if a["state"] == "firing"]
        return {"found": bool(firing), "count": len(firing),
                "alerts": [{"feature": a["feature"], "windows": a["windows"]} for a in firing],
                "cite": [{"type": "alert", "key": a["key"]} for a in firing], "forbidden": forbidden}

    if kind == "decisions_by":
        out = []
        for s in sorted(mine):
            for v in ps[s]["model"]["versions"]:
                for d in v["decisions"]:
                    if d["actor"] == slots["user"] and d["outcome"] == slots["outcome"]:
                        out.append({"project": s, "decision": d["key"], "version": v["version"],
                                    "reason": d["reason"]})
        forbidden = sorted(s for s in ps if s not in mine and any(
            d["actor"] == slots["user"] for v in ps[s]["model"]["versions"] for d in v["decisions"]))
        return {"found": bool(out), "count": len(out), "decisions": out,
                "cite": [{"type": "gate_decision", "key": x["decision"]} for x in out], "forbidden": forbidden}

    if kind.startswith("pipeline_"):
        return _pipeline(kind, slots, asker, plan)

    raise ValueError(f"unknown question kind {kind!r}")


def _pipeline(kind: str, slots: dict, asker: str, plan: dict) -> dict[str, Any]:
    """Pipeline questions: slots `pipeline` (a name), `project` (optional: where two projects share the name),
    `days` (the period of pipeline_fail_count)."""
    ps = _projects(plan)
    holders = [s for s, p in ps.items() if any(pl["name"] == slots["pipeline"] for pl in p["pipelines"])
               and (not slots.get("project") or s == slots["project"])]
    mine = [s for s in holders if s in visible(asker)]
    forbidden = sorted(s for s in holders if s not in visible(asker))
    if len(mine) != 1:
        return _not_found(forbidden)
    slug = mine[0]
    pl = next(x for x in ps[slug]["pipelines"] if x["name"] == slots["pipeline"])
    runs = sorted(pl["runs"], key=lambda r: r["days_ago"])  # newest first
    cite = lambda rs: [{"type": "pipeline_run", "key": r["key"]} for r in rs]  # noqa: E731
    base = {"found": True, "project": slug, "pipeline": pl["name"]}
    if kind == "pipeline_stage":
        last = runs[0]
        out = {**base, "run": last["key"], "status": last["status"]}
        if last["failure"]:
            out |= {"stage": last["failure"]["stage"], "cell": last["failure"]["cell"]}
        return {**out, "cite": cite([last]), "forbidden": forbidden}
    if kind == "pipeline_why":
        last = runs[0]  # last night's run is the newest (every pipeline asked about ran in the last day)
        out = {**base, "run": last["key"], "status": last["status"]}
        if last["failure"]:
            out |= {"stage": last["failure"]["stage"], "cell": last["failure"]["cell"],
                    "error": last["failure"]["error"]}
        return {**out, "cite": cite([last]), "forbidden": forbidden}
    if kind == "pipeline_fail_count":
        failed = [r for r in runs if r["status"] == "FAILURE" and r["days_ago"] <= slots["days"]]
        return {**base, "count": len(failed), "runs": [r["key"] for r in failed], "cite": cite(failed),
                "forbidden": forbidden}
    if kind == "pipeline_last_success":
        ok = [r for r in runs if r["status"] == "SUCCESS"]
        if not ok:
            return {**base, "found": False, "cite": [], "forbidden": forbidden}
        return {**base, "run": ok[0]["key"], "cite": cite(ok[:1]), "forbidden": forbidden}
    raise ValueError(f"unknown question kind {kind!r}")
