"""The recommender's request and response bodies (the panel's types are generated from them)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from ..deps import INT64_MAX

NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"


class SuggestRequest(BaseModel):
    """A dataset snapshot and its target column, or a profile computed elsewhere (`jupyter_mlp.profiling`)."""

    dataset: str | None = Field(default=None, pattern=NAME, description="The project's dataset (Iceberg table)")
    snapshot_id: int | None = Field(default=None, ge=0, le=INT64_MAX,
                                     description="Its snapshot; default: the current one")
    target: str | None = Field(default=None, min_length=1, max_length=500, description="The column to predict")
    profile: dict[str, float | None] | None = Field(default=None, max_length=500,
                                                    description="A profile's meta-features, instead of a dataset")
    task: Literal["binary", "multiclass", "regression"] | None = Field(
        default=None, description="Default: from the profile's target_* features")

    @model_validator(mode="after")
    def _one_source(self) -> SuggestRequest:
        if self.dataset is None and not self.profile:
            raise ValueError("give a dataset (with its target column) or a profile")
        if self.dataset is not None and self.profile:
            raise ValueError("give a dataset or a profile, not both")
        return self


class Citation(BaseModel):
    type: str
    id: str
    project: str
    label: str


class Evidence(BaseModel):
    source: Literal["corpus", "platform"]
    similarity: float
    score: float
    metric: str
    dataset: str | None = None
    config_id: str | None = None
    citation: Citation | None = None
    anonymous: bool | None = None


class Step(BaseModel):
    step: str
    columns: str
    sklearn: str
    why: str


class WarmStart(BaseModel):
    family: str
    params: dict[str, Any]
    config_id: str | None = None
    score: float | None = None
    source: str | None = None
    citation: Citation | None = None


class FamilySuggestion(BaseModel):
    family: str
    score: float
    search_space: dict[str, dict[str, Any]]
    preprocessing: list[Step]
    warm_start: list[WarmStart]
    evidence: list[Evidence]


class RankerStatus(BaseModel):
    """What ranked, when the encoder was asked for (`recommender_method = "encoder"`): the signed champion, or the
    baseline that ranked instead and why (no version, or its files did not verify)."""

    method: str
    model: str | None = None
    project: str | None = None
    version: int | None = None
    signed: bool | None = None
    requested: str | None = None
    fallback: bool = False
    reason: str | None = None


class SuggestionOut(BaseModel):
    suggestion_id: str
    project: str
    task: str
    dataset: str | None = None
    snapshot_id: int | None = None
    target: str | None = None
    families: list[FamilySuggestion]
    preprocessing: list[Step]
    warm_start: list[WarmStart]
    corpus_version: str
    history: dict[str, int]
    profile: dict[str, float]
    ranker: RankerStatus | None = None


class HistoryItem(BaseModel):
    visible: bool
    family: str
    metric: str
    score: float
    meta: dict[str, float]
    task: str | None = None
    params: dict[str, Any]
    project: str | None = None
    run_id: str | None = None
    run_name: str | None = None
    dataset: str | None = None


class HistoryPage(BaseModel):
    items: list[HistoryItem]
    total: int
    cross_project: bool
