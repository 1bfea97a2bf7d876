"""From a notebook to stages: cell tags split it, static analysis finds what flows between stages.

Tags (cell metadata `tags`):
- `stage:<name>` starts a stage; cells up to the next `stage:` tag belong to it (untagged cells before the first
  one belong to the first stage). A notebook without stage tags is one stage, `main`.
- `imports`, `functions`: shared, prepended to every stage. `parameters`: papermill's parameters cell, shared.
- `skip`: left out. `depends:<stage>`: an explicit dependency of the cell's stage.
- Display tags other tools use (`hide-input`, `remove-cell`, …) are allowed; any other tag is an error, so a typo
  like `stage-train` never silently changes the pipeline.

Variables a stage uses that an earlier stage defines are its inputs; they pass between stages as artifacts.
Preflight reports, with cell numbers (1-based, as the notebook shows them), what would break.
"""
# The analysis is one pass over the cells (this module); what it asks of each cell lives beside it: the names that
# flow between stages (names.py), what fails only when a stage runs (runtime_checks.py), the parameters cell
# (parameters.py), and the dataclasses it answers with (analysis_model.py).

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from .analysis_model import Analysis, Parameter, Problem, Stage
from .names import BUILTINS, Names
from .parameters import parameters_of
from .runtime_checks import Environment, RuntimeChecks, grouped

__all__ = ["Analysis", "Environment", "Parameter", "Problem", "Stage", "analyse", "parameters_of", "topological"]

SHARED_TAGS = ("imports", "functions", "parameters")
DISPLAY_TAGS = {"hide-input", "hide-output", "hide-cell", "remove-input", "remove-output", "remove-cell",
                "raises-exception", "injected-parameters"}
STAGE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
NOT_PYTHON_CELL_MAGICS = {"bash", "sh", "script", "html", "HTML", "markdown", "latex", "javascript", "js", "svg",
                          "writefile", "file", "perl", "ruby", "sql", "system", "!"}


@dataclass
class _Cell:
    number: int
    source: str
    tags: list[str]
    ran: bool  # it has an execution count or outputs: it worked when last run


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _strip_magics(cell: _Cell, checks: RuntimeChecks | None = None) -> str:
    """The cell as plain Python: IPython's magics and shell escapes run in a stage (papermill runs an IPython
    kernel), so they are left out of the analysis; those that install packages, download, or need a file beside
    the notebook are reported (`checks`)."""
    lines = cell.source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].lstrip()[2:].split(" ")[0]
        if magic in NOT_PYTHON_CELL_MAGICS:  # the body is not Python: shell lines are checked as `!` lines
            for line in lines[1:] if magic in ("bash", "sh", "script", "system", "!") else []:
                if checks:
                    checks.magic(cell.number, "!", line)
            return ""
        lines = ["", *lines[1:]]
    out = []
    for line in lines:
        s = line.lstrip()
        m = re.match(r"^(?:(\w+)\s*=\s*)?([!%])(?!=)(.*)$", s)
        if m and not s.startswith("%%"):
            if checks:
                checks.magic(cell.number, m.group(2), m.group(3))
            indent = line[:len(line) - len(s)]
            out.append(f"{indent}{m.group(1)} = None" if m.group(1) else f"{indent}pass")
        else:
            out.append(line)
    return "\n".join(out)


KALE_IGNORED = ("limit:", "annotation:", "label:", "image:")


def _kale_tags(cell: int, tags: list[str], problems: list[Problem]) -> list[str]:
    """Kale's tags (Kubeflow's notebook-to-pipeline tool) mean what ours do: `step:<name>` and its older name
    `block:<name>` start a stage (empty: the cell continues the stage before it), `prev:<name>` is a dependency,
    `pipeline-parameters` the parameters cell, `pipeline-metrics` a last stage, `metrics`, that reads what it
    prints. Its Kubernetes tags (limits, annotations, labels, images) have no meaning here: said, not refused."""
    out = []
    for t in tags:
        if t.startswith(("step:", "block:")):
            name = t.split(":", 1)[1]
            if name:
                out.append(f"stage:{name}")
        elif t.startswith("prev:"):
            out.append(f"depends:{t[5:]}")
        elif t == "pipeline-parameters":
            out.append("parameters")
        elif t == "pipeline-metrics":
            out.append("stage:metrics")
        elif t.startswith(KALE_IGNORED):
            problems.append(Problem("warning", cell, "kale_tag", (
                f"cell {cell}: Kale's tag '{t}' is for Kubeflow and is not used here (stage resources come from "
                "\"mlp\": {\"container\": …} in the notebook's metadata)")))
        else:
            out.append(t)
    return out


def analyse(nb: dict[str, Any], env: Environment | None = None) -> Analysis:
    """Split a notebook (nbformat v4 JSON) into stages and check it, without running anything. `env`: the
    environment stages run in (default: this process's, which is theirs)."""
    problems: list[Problem] = []
    cells: list[_Cell] = []
    for i, c in enumerate(nb.get("cells", []), start=1):
        if c.get("cell_type") != "code":
            continue
        tags = _kale_tags(i, [str(t) for t in (c.get("metadata", {}).get("tags") or [])], problems)
        ran = c.get("execution_count") is not None or bool(c.get("outputs"))
        cells.append(_Cell(i, _source(c), tags, ran))

    # 1. Tags → stages, shared cells, parameters.
    stages: list[Stage] = []
    shared: list[_Cell] = []
    params_cell: _Cell | None = None
    own: dict[str, list[_Cell]] = {}
    pending: list[_Cell] = []  # untagged cells before the first stage tag
    current: Stage | None = None
    for cell in cells:
        unknown = [t for t in cell.tags if t not in (*SHARED_TAGS, "skip") and t not in DISPLAY_TAGS
                   and not t.startswith(("stage:", "depends:"))]
        for t in unknown:
            problems.append(Problem("error", cell.number, "unknown_tag",
                                    f"cell {cell.number}: unknown tag '{t}' (known: stage:<name>, depends:<stage>, "
                                    "imports, functions, parameters, skip)"))
        if "skip" in cell.tags:
            continue
        if "parameters" in cell.tags:
            if params_cell is not None:
                problems.append(Problem("error", cell.number, "two_parameters_cells",
                                        f"cell {cell.number}: a second 'parameters' cell (the first is cell "
                                        f"{params_cell.number})"))
            params_cell = cell
            continue
        if any(t in cell.tags for t in ("imports", "functions")):
            shared.append(cell)
            continue
        stage_tags = [t.split(":", 1)[1] for t in cell.tags if t.startswith("stage:")]
        if len(stage_tags) > 1:
            problems.append(Problem("error", cell.number, "two_stages",
                                    f"cell {cell.number}: tagged with two stages {stage_tags}"))
        if stage_tags:
            name = stage_tags[0]
            if not STAGE_NAME.match(name):
                problems.append(Problem("error", cell.number, "bad_stage_name",
                                        f"cell {cell.number}: stage name '{name}' must be lowercase letters, digits, "
                                        "'-' or '_', starting with a letter"))
            if current is not None and name == current.name:  # the same stage again: its next cell
                stage_tags = []
            elif name in own:
                problems.append(Problem("error", cell.number, "duplicate_stage",
                                        f"cell {cell.number}: stage '{name}' starts again (stages are contiguous)"))
        if stage_tags:
            current = Stage(name)
            stages.append(current)
            own[name] = list(pending)
            pending = []
        if current is None:
            pending.append(cell)
            continue
        own[current.name].append(cell)
        current.explicit += [t.split(":", 1)[1] for t in cell.tags if t.startswith("depends:")]
    if not stages:
        stages = [Stage("main")]
        own["main"] = pending
    for s in stages:
        s.cells = [c.number for c in own[s.name]]

    # 2. What fails only at run time, in every kept cell in notebook order.
    container = (nb.get("metadata", {}).get("mlp") or {}).get("container") or {}
    checks = RuntimeChecks(env or Environment(), container.get("network") is True, problems)
    kept = {c.number for c in [*shared, *([params_cell] if params_cell else []), *(c for s in own.values() for c in s)]}
    plain: dict[int, str] = {}
    for cell in cells:
        if cell.number in kept:
            plain[cell.number] = _strip_magics(cell, checks)
            try:
                checks.code(cell.number, ast.parse(plain[cell.number]))
            except SyntaxError:
                pass  # said below, where the cell's names are read

    # 3. Parameters. Anything else the parameters cell defines (imports) runs before every stage too.
    parameters: list[Parameter] = []
    param_names: set[str] = set()
    if params_cell is not None:
        try:
            parameters = parameters_of(plain[params_cell.number])
            v = Names()
            v.visit(ast.parse(plain[params_cell.number]))
            v.finish()
            param_names = {p.name for p in parameters} | v.defined
            imported = sorted(n for n, why in v.unserialisable.items() if why == "a module" and n in v.defined)
            if imported:
                problems.append(Problem("warning", params_cell.number, "parameters_import", (
                    f"cell {params_cell.number}: the parameters cell imports {', '.join(imported)}: it runs before "
                    "every stage, so this works, but only its assignments are parameters; imports belong in a cell "
                    "tagged `imports`")))
        except SyntaxError as e:
            problems.append(Problem("error", params_cell.number, "syntax",
                                    f"cell {params_cell.number}: parameters cell does not parse: {e.msg}"))

    # 4. Shared cells define names every stage sees.
    shared_names: set[str] = set()
    for cell in shared:
        code = plain[cell.number]
        try:
            v = Names()
            v.visit(ast.parse(code))
            v.finish()
        except SyntaxError as e:
            problems.append(Problem("error", cell.number, "syntax", f"cell {cell.number}: does not parse: {e.msg}"))
            continue
        if v.star:
            problems.append(Problem("error", cell.number, "star_import",
                                    f"cell {cell.number}: 'from … import *' hides which names a stage needs"))
        shared_names |= v.defined

    # 5. Data flow between stages.
    known = BUILTINS | shared_names | param_names
    defined_by: dict[str, str] = {}  # name -> latest stage (in notebook order) that defines it
    unserialisable: dict[str, tuple[str, int]] = {}
    for s in stages:
        local: set[str] = set()
        inputs: list[str] = []
        for cell in own[s.name]:
            code = plain[cell.number]
            try:
                v = Names()
                v.visit(ast.parse(code))
                v.finish()
            except SyntaxError as e:
                problems.append(Problem("error", cell.number, "syntax",
                                        f"cell {cell.number}: does not parse: {e.msg} (line {e.lineno})"))
                continue
            if v.star:
                problems.append(Problem("error", cell.number, "star_import",
                                        f"cell {cell.number}: 'from … import *' hides which names a stage needs"))
            for name in dict.fromkeys(v.used):
                if name in local or name in known or name in inputs:
                    continue
                if name in defined_by:
                    inputs.append(name)
                    src = defined_by[name]
                    if src not in s.depends_on:
                        s.depends_on.append(src)
                    producer = next(x for x in stages if x.name == src)
                    if name not in producer.outputs:
                        producer.outputs.append(name)
                    if name in unserialisable:
                        why, where = unserialisable[name]
                        problems.append(Problem("error", cell.number, "unserialisable",
                                                f"cell {cell.number}: '{name}' is {why} (cell {where}, stage '{src}')"
                                                f" and cannot be passed to stage '{s.name}'"))
                elif cell.ran:
                    problems.append(Problem("error", cell.number, "hidden_state",
                                            f"cell {cell.number}: '{name}' is not defined by any cell in the "
                                            "notebook, though this cell ran: it came from a cell that is gone"))
                else:
                    problems.append(Problem("error", cell.number, "undefined",
                                            f"cell {cell.number}: '{name}' is used but never defined before this "
                                            f"stage ('{s.name}')"))
            local = (local - v.deleted) | v.defined
            for name in v.defined:
                if name in v.unserialisable:
                    unserialisable[name] = (v.unserialisable[name], cell.number)
                else:
                    unserialisable.pop(name, None)
        s.inputs = inputs
        for name in local:
            defined_by[name] = s.name

    # 6. Explicit dependencies, unknown ones, and cycles.
    by_name = {s.name: s for s in stages}
    for s in stages:
        for dep in s.explicit:
            if dep not in by_name:
                problems.append(Problem("error", s.cells[0] if s.cells else None, "unknown_dependency",
                                        f"stage '{s.name}' depends on '{dep}', which is not a stage"))
            elif dep not in s.depends_on and dep != s.name:
                s.depends_on.append(dep)
    cycle = _cycle(stages)
    if cycle:
        problems.append(Problem("error", None, "cycle", "stages depend on each other in a cycle: "
                                + " → ".join(cycle)))
    for s in stages:
        if not s.cells:
            problems.append(Problem("warning", None, "empty_stage", f"stage '{s.name}' has no cells"))
    return Analysis(stages, parameters, grouped(problems), [c.number for c in shared],
                    params_cell.number if params_cell else None)


def _cycle(stages: list[Stage]) -> list[str] | None:
    graph = {s.name: list(s.depends_on) for s in stages}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        path.append(n)
        for m in graph.get(n, []):
            if state.get(m) == 1:
                return path[path.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        state[n] = 2
        path.pop()
        return None

    for n in graph:
        if n not in state and (found := visit(n)):
            return found
    return None


def topological(stages: list[Stage]) -> list[str]:
    """Stage names in an order where every stage comes after what it depends on (notebook order breaks ties)."""
    done: list[str] = []
    remaining = list(stages)
    while remaining:
        ready = [s for s in remaining if all(d in done for d in s.depends_on)]
        if not ready:
            raise ValueError("cycle")
        done.append(ready[0].name)
        remaining.remove(ready[0])
    return done
