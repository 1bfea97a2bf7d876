"""papermill processes started ahead, with papermill imported, for the stages of a run (issue 17).

A local stage is its own process: `python -m papermill` with the stage's environment, which starts the stage's
kernel. Before its first cell ran, that process spent about 1.5 s starting the interpreter and importing papermill
(nbclient, jupyter_client, nbformat...), on every stage of every run. Here the process is started before it is
needed — for a run's first stage while the stage runner creates its MLflow child run (which itself imports
MLflow), for each later stage while the stage before it runs — and waits on its stdin. The stage runner then sends
it one line: the stage's whole environment and papermill's arguments. The process replaces its environment with
the stage's, runs papermill's command line and exits with its code: one process per stage, its own kernel, the same
arguments, output and exit status as `python -m papermill`.

The stage's kernel is started ahead too (papermill_child.py), as soon as the process is: a fresh kernel with the
stage's kernel name, folder, the run's environment and `MLP_STAGE`; the variables known only once the stage's MLflow
child run exists are set in it by a silent execution before the first cell, and papermill runs with that kernel.

When the stage's notebook imports one of a few heavy, import-only scientific libraries at top level (PREIMPORT),
the kernel started ahead imports those modules too, by a silent execution that binds no name, while it waits for
its stage ("stage processes ... with the heavy imports done", issue 17): the notebook's own `import numpy as np`
then finds the module loaded. Not for a notebook that touches what an import can depend on (os.environ, sys.path,
warnings filters, importlib): there the first import stays where the notebook puts it. One visible difference: an
import-time warning of such a library is raised during the silent execution, not in the notebook's import cell.

A process started ahead carries the run's `MLP_STAGE_IO` from its start, so cancelling the run (stage_procs.kill
of the run) finds it too; it exits at once when its stdin closes (the run worker ended) with no job.

Plain standard library: imported by the stage runner, inside Dagster's run worker.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

# Libraries a stage's kernel started ahead may import before the notebook asks: heavy to import (numpy + a
# scikit-learn estimator ~1 s of a stage's first cell), and their import does not read the variables the kernel gets
# only at hand-over (MLFLOW_*, MLP_STAGE_RUN_ID...). Not MLflow or jupyter_mlp (they read those), not torch (GPU and
# thread settings a notebook often sets first), not matplotlib (backend choice).
PREIMPORT = frozenset({"numpy", "pandas", "scipy", "sklearn", "pyarrow"})
# A notebook mentioning any of these may change what an import does: nothing is imported ahead for it.
_IMPORT_SENSITIVE = ("environ", "putenv", "%env", "%set_env", "sys.path", "importlib", "warnings", "threadpool")


def preimports(notebook: Path) -> str:
    """The modules (comma-separated, in the notebook's order) the kernel started ahead for this stage notebook may
    import: top-level `import x.y` / `from x.y import z` of a PREIMPORT library, in any code cell. '' when there is
    none, when the notebook cannot be read, or when it touches what an import can depend on."""
    try:
        cells = json.loads(notebook.read_text()).get("cells") or []
    except (OSError, ValueError, AttributeError):
        return ""
    modules: list[str] = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else str(src)
        if any(word in src for word in _IMPORT_SENSITIVE):
            return ""
        try:
            body = ast.parse(src).body
        except SyntaxError:  # IPython syntax (magics): its top-level imports are not read
            continue
        for node in body:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            modules += [n for n in names if n.split(".")[0] in PREIMPORT and n not in modules]
    return ",".join(modules)

# What the process runs (papermill_child.py: papermill's import, the stage's kernel when the stage is known, then
# one job from stdin); runpy adds nothing to sys.path.
CHILD = f"import runpy; runpy.run_path({str(Path(__file__).with_name('papermill_child.py'))!r}, run_name='__main__')"

# One process started ahead per run worker (a run's stages run one after the other in it):
# ((run-level env, kernel spec), proc)
_spare: list[tuple[tuple, subprocess.Popen]] = []


def _spawn(env: dict[str, str], kernel: tuple[str, ...] | None) -> subprocess.Popen:
    # The command line names papermill and the run's I/O folder: `ps` shows which run's stage a process is, as
    # `python -m papermill <run dir>/...` did; then the stage, kernel name and folder its kernel starts with, and
    # the modules it may import ahead (preimports).
    return subprocess.Popen([sys.executable, "-c", CHILD, "papermill", env.get("MLP_STAGE_IO", ""), *(kernel or ())],
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def take(run_env: dict[str, str], kernel: tuple[str, ...] | None = None) -> subprocess.Popen:
    """A papermill process for a stage of the run whose stage-independent environment is `run_env`: the one
    started ahead for it when there is one still waiting, else a new one. `kernel` (stage, kernel name, working
    folder[, preimports]): the process starts that stage's kernel at once (papermill_child); None: papermill
    starts it."""
    while _spare:
        key, proc = _spare.pop()
        if key == (run_env, kernel) and proc.poll() is None:
            return proc
        discard(proc)
    return _spawn(run_env, kernel)


def ahead(run_env: dict[str, str], kernel: tuple[str, ...] | None = None) -> None:
    """Start the process (and, with `kernel`, the kernel) the run's next stage will take."""
    while _spare:
        discard(_spare.pop()[1])
    _spare.append(((run_env, kernel), _spawn(run_env, kernel)))


def run(proc: subprocess.Popen, env: dict[str, str], args: list[str]) -> tuple[int, str, str]:
    """Give the process its stage (the whole environment, papermill's arguments) and wait for it: (exit code,
    stdout, stderr). If waiting is interrupted (a cancel), the process is killed, as subprocess.run does."""
    try:
        out, err = proc.communicate(json.dumps({"env": env, "args": args}) + "\n")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc.returncode, out, err


def discard(proc: subprocess.Popen) -> None:
    """A process started ahead that no stage will take: its stdin closed, it exits without running anything, its
    kernel started ahead shut down at once (not waited for here: it may still be importing)."""
    try:
        proc.stdin.close()
    except OSError:
        pass
