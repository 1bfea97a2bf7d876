"""The model card as JSON: sections of statements, each statement with the citations of the records it states."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

CardFormat = Literal["json", "markdown", "html"]


class CardCitation(BaseModel):
    """A record, cited as the assistant cites it (docs/assistant.md): run -> MLflow run id; model_version ->
    "<project>/<model>/<version>"; gate_decision, monitor_window, alert, retraining -> the integer id as text;
    deployment and monitor_windows -> "<project>/<name>"; dataset_snapshot -> the Iceberg snapshot id as text."""

    type: Literal["run", "model_version", "gate_decision", "deployment", "monitor_window", "monitor_windows",
                  "dataset_snapshot", "alert", "retraining"]
    id: str
    project: str
    label: str | None = None
    model: str | None = Field(default=None, description="gate_decision: the model (the decisions listing's filter)")
    deployment: str | None = Field(default=None, description="monitor_window, alert, retraining: the deployment "
                                   "whose monitor cut, raised or started it")
    dataset: str | None = Field(default=None, description="dataset_snapshot: the dataset (Iceberg table)")
    event: int | None = Field(default=None, description="deployment: the deployment event stated (events API id)")
    file: str | None = Field(default=None, description="model_version: the signed file stated (e.g. MLmodel)")


class CardStatement(BaseModel):
    text: str = Field(description="Plain text; record text in it is data, escaped when rendered")
    value: Any = Field(default=None, description="The figure or name stated, as the cited record holds it")
    citations: list[CardCitation] = Field(min_length=1)


class CardSection(BaseModel):
    id: Literal["model", "intended_use", "training_data", "parameters", "metrics", "validation", "approvals",
                "lineage", "signature", "serving", "monitoring", "alerts"]
    title: str
    statements: list[CardStatement]


class ModelCard(BaseModel):
    project: str
    model: str
    version: int
    generated_at: str
    sections: list[CardSection]
