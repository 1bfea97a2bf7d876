"""What the analysis of a notebook finds: its stages, parameters and problems (pipelines.analysis makes them)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Problem:
    severity: str  # "error" | "warning"
    cell: int | None
    code: str
    message: str


@dataclass
class Parameter:
    name: str
    type: str
    default: str


@dataclass
class Stage:
    name: str
    cells: list[int] = field(default_factory=list)  # 1-based cell numbers of its own cells
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    explicit: list[str] = field(default_factory=list)


@dataclass
class Analysis:
    stages: list[Stage]
    parameters: list[Parameter]
    problems: list[Problem]
    shared_cells: list[int]
    parameters_cell: int | None

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

