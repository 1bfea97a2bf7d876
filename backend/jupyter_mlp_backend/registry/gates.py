"""Validation gates: what must hold before `staging` or `champion` moves to a version, and the evidence.

Per registered model (set by a lead): metric thresholds; challenger-beats-champion by a margin, scored on the same
evaluation table snapshot for both; optional lead approval before `champion` moves. Threshold metrics come from
the evaluation when it computes them, else from the metrics the version's run logged.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

MetricName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-/ ]{1,250}$")]


class Threshold(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: MetricName
    op: Literal[">=", ">", "<=", "<"]
    value: float

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v


class ChallengerRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: MetricName
    margin: float = Field(default=0.0, ge=0, le=1e6, description="How much better than the champion it must be")
    greater_is_better: bool = True


class Evaluation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")] = Field(
        description="A dataset (Iceberg table) of the project")
    target: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(description="Label column")
    snapshot_id: int | None = Field(default=None, description="Pin a snapshot; default: the current one at each "
                                                              "decision (recorded in the evidence)")


class GateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thresholds: list[Threshold] = Field(default_factory=list, max_length=50)
    challenger: ChallengerRule | None = None
    evaluation: Evaluation | None = None
    require_approval: bool = Field(default=False, description="A lead approves before `champion` moves")


OPS = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, "<": lambda a, b: a < b}


def check_thresholds(cfg: GateConfig, evaluated: dict[str, float], logged: dict[str, float],
                     why: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """`why`: per metric the evaluation could not compute, the reason (e.g. AUC of a model with labels only)."""
    why = why or {}
    out = []
    for t in cfg.thresholds:
        value = evaluated.get(t.metric, logged.get(t.metric))
        source = "evaluation" if t.metric in evaluated else "run metrics" if t.metric in logged else None
        ok = value is not None and math.isfinite(value) and OPS[t.op](value, t.value)
        out.append({"gate": "threshold", "metric": t.metric, "op": t.op, "required": t.value, "value": value,
                    "source": source, "passed": bool(ok),
                    "message": (f"{t.metric} = {value:.6g} {'meets' if ok else 'fails'} {t.op} {t.value:g}"
                                if value is not None else f"{t.metric} was neither evaluated nor logged"
                                + (f" ({why[t.metric]})" if t.metric in why else ""))})
    return out


def check_challenger(rule: ChallengerRule, challenger: dict[str, float], champion: dict[str, float] | None,
                     champion_version: int | None, why: dict[str, str] | None = None) -> dict[str, Any]:
    if champion is None:
        return {"gate": "challenger", "metric": rule.metric, "passed": True, "champion_version": None,
                "message": "no champion yet: nothing to beat"}
    a, b = challenger.get(rule.metric), champion.get(rule.metric)
    if a is None or b is None:
        return {"gate": "challenger", "metric": rule.metric, "passed": False, "champion_version": champion_version,
                "message": f"{rule.metric} could not be computed on the evaluation data"
                           + (f": {why[rule.metric]}" if why and rule.metric in why else "")}
    better = (a - b) if rule.greater_is_better else (b - a)
    ok = better > 0 and better >= rule.margin  # a tie does not beat; the margin is the least improvement
    return {"gate": "challenger", "metric": rule.metric, "challenger": a, "champion": b, "margin": rule.margin,
            "champion_version": champion_version, "passed": bool(ok),
            "message": f"{rule.metric}: {a:.6g} vs champion v{champion_version} {b:.6g} "
                       f"({'beats' if ok else 'does not beat'} it by at least {rule.margin:g})"}


async def evaluate(folders: dict[str, Path], data: bytes, target: str, timeout: float = 900) -> dict[str, Any]:
    """Score verified model folders on the evaluation rows in a separate process; {label: metrics, rows}."""
    work = Path(tempfile.mkdtemp(prefix="mlp-eval-"))
    try:
        (work / "eval.parquet").write_bytes(data)
        args = [sys.executable, "-m", "jupyter_mlp_backend.registry.evaluate", "--data", str(work / "eval.parquet"),
                "--target", target] + [a for label, f in folders.items() for a in ("--model", f"{label}={f}")]
        proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except asyncio.TimeoutError:
            proc.kill()
            raise RuntimeError(f"evaluation took longer than {timeout:.0f} s") from None
        try:
            result = json.loads(out.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise RuntimeError(f"evaluation failed: {err.decode()[-600:]}") from None
        if "error" in result:
            raise RuntimeError(result["error"])
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)
