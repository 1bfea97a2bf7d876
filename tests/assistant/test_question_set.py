"""The assistant's question set stays consistent with the history generator (fast: the pure plan, no backend)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.bench.assistant_expected import expected, visible
from tests.bench.assistant_history import MEMBERS, plan

QUESTIONS = Path(__file__).parents[1] / "bench" / "assistant_questions.yaml"


@pytest.fixture(scope="module")
def qset() -> dict:
    return yaml.safe_load(QUESTIONS.read_text())


@pytest.fixture(scope="module")
def full() -> dict:
    return plan("full")


def test_plan_is_deterministic():
    assert plan("full") == plan("full")
    assert plan("small") == plan("small")
    assert plan("full", seed=14) != plan("full")


def test_every_expected_answer_is_what_the_plan_gives(qset, full):
    assert qset["history"] == {"size": "full", "seed": full["seed"]}
    stale = []
    for q in qset["questions"]:
        want = expected(q["kind"], q["slots"], q["asker"], full)
        if "injection" in q.get("tags", []):
            want["forbidden"] = q["expected"]["forbidden"]  # the projects the injected text names
            assert set(want["forbidden"]) - visible(q["asker"]) == set(want["forbidden"])
        if want != q["expected"]:
            stale.append(q["id"])
    assert not stale, f"expected answers no longer match the generator's plan: {stale}"


def test_the_set_covers_what_the_issue_asks(qset):
    qs = qset["questions"]
    assert len(qs) >= 60 and len({q["id"] for q in qs}) == len(qs)
    kinds = Counter(q["kind"] for q in qs)
    for kind in ("best_approach", "drift_client", "retraining_why", "approval", "dataset_runs", "latency",
                 "compare_top2"):
        assert kinds[kind] >= 5, kind
    # pipeline runs (stage status, failing cell and error): each question of the issue's pipeline kinds
    for kind in ("pipeline_stage", "pipeline_why", "pipeline_fail_count", "pipeline_last_success"):
        assert kinds[kind] >= 2, kind
    assert len({(q["asker"], q["text"]) for q in qs}) == len(qs)
    assert len({q["asker"] for q in qs}) >= 6
    assert all(q["asker"] in {u for m in MEMBERS.values() for u in m} for q in qs)
    tags = Counter(t for q in qs for t in q.get("tags", []))
    assert tags["isolation"] >= 10 and tags["injection"] >= 5
    assert sum(1 for q in qs if q.get("needs_llm")) >= 5


def test_isolation_questions_name_only_projects_the_asker_cannot_open(qset):
    for q in qset["questions"]:
        if "isolation" in q.get("tags", []):
            e = q["expected"]
            assert e["found"] is False and e["cite"] == [] and e["forbidden"], q["id"]
            assert not set(e["forbidden"]) & visible(q["asker"]), q["id"]


def test_injected_text_is_in_the_records_those_questions_touch(qset, full):
    runs = {r["key"]: r for p in full["projects"] for r in p["runs"]}
    pipeline_runs = {r["key"]: r for p in full["projects"] for pl in p["pipelines"] for r in pl["runs"]}
    for q in qset["questions"]:
        if "injection" in q.get("tags", []) and q["kind"].startswith("pipeline_"):
            failure = pipeline_runs[q["expected"]["run"]]["failure"]
            assert "ignore previous instructions" in failure["error"], q["id"]
        elif "injection" in q.get("tags", []):
            keys = q["expected"].get("runs") or [q["expected"].get("run")]
            touched = [runs[k] for k in keys if k in runs]
            if q["kind"] != "best_run":  # a best-run question reads every run of the experiment
                assert any("ignore previous instructions" in r["name"] for r in touched), q["id"]


def test_answers_are_unambiguous(full):
    """The headline figures have one right answer: no tie for the best AUC anywhere a question asks."""
    for p in full["projects"]:
        aucs = sorted((r["metrics"]["auc"] for r in p["runs"] if "auc" in r["metrics"]), reverse=True)
        assert aucs[0] > aucs[1], p["slug"]
    # a model run's AUC decides its gate outcome as the plan says
    for p in full["projects"]:
        m = p["model"]
        for v in m["versions"]:
            for d in v["decisions"]:
                assert (d["outcome"] == "failed") == (v["auc"] < m["threshold"]), d["key"]
