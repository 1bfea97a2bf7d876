"""The catalogue of question forms: each form's composer, example phrasings and keyword cues; `Catalogue` embeds the
examples once per process (all-MiniLM-L6-v2, shared with the retriever); `rank` orders the forms for a question."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .compose_models import approval, champion, decisions_by, retraining_why
from .compose_pipelines import pipeline_fail_count, pipeline_last_success, pipeline_stage, pipeline_why
from .compose_runs import (best_approach, best_run, compare_top2, count_runs, dataset_runs, experiments_of,
                           latest_runs, list_runs)
from .compose_serving import alerts_of, deployments_of, drift_client, latency
from .slots import Ctx


@dataclass
class Form:
    name: str
    run: Callable[[Ctx], Awaitable[dict]]
    examples: list[str]
    cues: list[tuple[str, float]]
    exclude: str | None = None
    vectors: Any = field(default=None, repr=False)

    def cue_score(self, low: str) -> float:
        if self.exclude and re.search(self.exclude, low):
            return -1.0
        return sum(w for pattern, w in self.cues if re.search(pattern, low))


FORMS = [
    Form("best_approach", best_approach, [
        "Which feature engineering approach gave the highest AUC on the last three credit-scoring projects?",
        "what feature set had the best auc across our recent projects",
        "which way of building features won on accuracy in the last two churn engagements"],
        [(r"approach|feature set|feature engineering|building features|way of (building|engineering)", 1.0),
         (r"\bprojects?\b|\bengagements?\b", 1.0)]),
    Form("drift_client", drift_client, [
        "Show me the drift for all models deployed for client X in the last 90 days",
        "which features drift on the client's deployments", "has any feature drifted on models in production"],
        [(r"\bdrift", 1.0), (r"deploy|production|models?\b", 0.5)]),
    Form("retraining_why", retraining_why, [
        "Why did last night's retraining of churn not promote?", "the retrain didn't become champion, what happened",
        "what stopped the retraining from promoting"],
        [(r"retrain", 1.0), (r"promot|champion|why|what happened|stopp|not change", 1.0)]),
    Form("approval", approval, [
        "Who approved churn v7 and on what evidence?", "why was model version 5 rejected and by whom",
        "what was the decision on the model version and who made it"],
        [(r"approv|sign(ed)?\s+off|decision on|reject|who decided", 1.0),
         (r"\bv\d+\b|\bversion\s+\d+|\b[a-z][\w-]*\s+\d+\b", 1.0)]),
    Form("decisions_by", decisions_by, [
        "Which versions did ava reject, and why?", "list everything nora approved"],
        [(r"\b(approved?|rejected?|reject)\b", 1.0), (r"\b(everything|versions|all)\b", 0.5)],
        exclude=r"\bv\d+\b|\bversion\s+\d+"),
    Form("dataset_runs", dataset_runs, [
        "Which runs used dataset applicants at snapshot 123?", "runs trained on customers snapshot 456"],
        [(r"snapshot|@\s*\d{6,}", 1.5), (r"\d{6,}", 1.0)]),
    Form("latency", latency, [
        "What is the p95 latency of risk-api this week against its SLA?", "how fast is the api this week",
        "is the deployment meeting its latency objective"],
        [(r"latency|\bp95\b|95th|response time|how fast|latency objective", 1.0), (r"\bsla\b", 0.5)]),
    Form("compare_top2", compare_top2, [
        "Compare the two best runs of experiment tuning", "how do the top 2 runs differ",
        "side by side, the two best runs"],
        [(r"compar|two best|best two|top (2|two)|two highest|side by side|separates|differ", 1.5)]),
    Form("count_runs", count_runs, [
        "How many runs are there in the project?", "how many runs failed", "number of runs in the last 14 days"],
        [(r"how many|number of|\bcount\b", 1.0), (r"\bruns?\b", 0.5)]),
    Form("list_runs", list_runs, [
        "list the failed runs in the project", "show the runs of the tuning experiment from the last 7 days"],
        [(r"\b(list|show|which|find|give)\b.*\bruns\b", 0.9)]),
    Form("experiments", experiments_of, [
        "what experiments are in the project?", "list the project's experiments"],
        [(r"\bexperiments\b", 1.0)], exclude=r"\bruns\b"),
    Form("best_run", best_run, [
        "What's the best run by AUC in the project?", "highest f1 run", "best AUC in the baseline experiment"],
        [(r"\b(best|highest|top)\b", 0.6), (r"\bruns?\b|experiment", 0.4)]),
    Form("latest_runs", latest_runs, [
        "Show me the five most recent runs in the project", "latest runs"],
        [(r"(most recent|latest|newest|last \w+)\s+runs|recent runs", 1.5)]),
    Form("champion", champion, [
        "Which version of churn is champion now?", "current champion of the model"],
        [(r"\bchampion\b", 1.0)], exclude=r"retrain"),
    Form("deployments", deployments_of, [
        "What is deployed in the project?", "list the deployments of the project with their SLA"],
        [(r"deployments?\s+(of|in|for)|deployed in|what('s| is) deployed|list (the )?deployments", 1.0)]),
    # Pipeline runs. A composer that finds no pipeline of the asker's named yields (NoSlots) unless the question
    # speaks of pipelines or stages, or of "the run of X" with X no record the asker can see (then: not found), so
    # "how many runs failed" stays count_runs.
    Form("pipeline_stage", pipeline_stage, [
        "Which stage failed in the last run of pipeline P?", "what stage broke in the latest pipeline run",
        "where did the pipeline's last run stop"],
        [(r"\bstages?\b", 1.5), (r"fail|broke|error|stop", 0.5), (r"\bpipelines?\b|\brun\b", 0.5)],
        exclude=r"retrain"),
    Form("pipeline_why", pipeline_why, [
        "Why did last night's run of pipeline P fail?", "what went wrong with the nightly pipeline run",
        "why did the pipeline fail"],
        [(r"\bwhy\b.*\bfail|\bfail\w*\b.*\bwhy\b|what went wrong|cause of the failure", 1.5),
         (r"\bpipelines?\b|\bstages?\b|\brun of\b", 1.0)], exclude=r"retrain"),
    Form("pipeline_fail_count", pipeline_fail_count, [
        "How many runs of pipeline P failed in the last 7 days?", "number of failed pipeline runs this week"],
        [(r"how many|number of|\bcount\b", 1.0), (r"\bfail", 0.5), (r"\bpipelines?\b|\bruns?\b", 0.5)],
        exclude=r"retrain"),
    Form("pipeline_last_success", pipeline_last_success, [
        "When did pipeline P last succeed?", "when was the last successful run of the pipeline"],
        [(r"succe", 1.5), (r"\bwhen\b|\blast\b|\blatest\b", 0.3), (r"\bpipelines?\b|\brun\b", 0.3)],
        exclude=r"retrain"),
    Form("alerts", alerts_of, [
        "Which alerts are firing on the project?", "any open alerts right now"],
        [(r"\balerts?\b", 1.0)]),
]
MIN_CUE = 0.9
MIN_SIMILARITY = 0.6
DECISIVE_CUE = 1.5
CUE_MARGIN = 0.5


class Catalogue:
    """The forms' example phrasings embedded once per process (lazily; keyword cues alone without the extra)."""

    _embedder: Any = None
    _vectors: Any = None
    _lock = threading.Lock()
    _failed = False

    @classmethod
    def use(cls, embedder: Any) -> None:
        with cls._lock:
            cls._embedder, cls._vectors, cls._failed = embedder, None, False

    @classmethod
    def adopt(cls, retriever: Any) -> None:
        """Share the process's embedder (the retriever's engine holds it) instead of loading a second copy."""
        if cls._embedder is not None or retriever is None:
            return
        try:
            embedder = retriever.engine.embedder
        except Exception:  # noqa: BLE001 - no engine or no extra: the catalogue loads its own or uses cues
            return
        with cls._lock:
            if cls._embedder is None:
                cls._embedder, cls._vectors = embedder, None

    @classmethod
    def _ready(cls) -> bool:
        with cls._lock:
            if cls._vectors is not None:
                return True
            if cls._failed:
                return False
            try:
                if cls._embedder is None:
                    from .embed import Embedder

                    cls._embedder = Embedder()
                cls._vectors = [cls._embedder.embed(f.examples) for f in FORMS]
                return True
            except Exception:  # noqa: BLE001 - no extra / no model: keyword cues only
                cls._failed = True
                return False

    @classmethod
    def warm(cls) -> bool:
        """Load the model and embed the examples now (seconds) rather than at the first undecided question."""
        return cls._ready()

    @classmethod
    def similarities(cls, question: str) -> list[float]:
        if not cls._ready():
            return [0.0] * len(FORMS)
        q = cls._embedder.embed([question])[0]
        return [float((v @ q).max()) for v in cls._vectors]


async def rank(question: str) -> list[tuple[float, Form]]:
    """Forms worth trying, best first. Keyword cues rank first; the embedding similarity to each form's examples is
    added when the cues do not decide (no form with a strong cue, or two within CUE_MARGIN), which is also how a
    question with no cue can still reach a form. (Embedding a question costs 20-300 ms on a busy 2-core CPU.)"""
    low = question.lower()
    cues = [(f.cue_score(low), f) for f in FORMS]
    ranked = sorted((x for x in cues if x[0] >= MIN_CUE), key=lambda x: -x[0])
    if ranked and ranked[0][0] >= DECISIVE_CUE and (len(ranked) == 1 or ranked[0][0] - ranked[1][0] >= CUE_MARGIN):
        return ranked
    sims = await asyncio.to_thread(Catalogue.similarities, question)
    scored = []
    for (cue, form), sim in zip(cues, sims):
        if cue < 0:
            continue
        if cue >= MIN_CUE or sim >= MIN_SIMILARITY:
            scored.append((cue + sim, form))
    scored.sort(key=lambda x: -x[0])
    return scored
