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

Standbys (issue 17: "kernels started ahead and reused across runs of the same environment"): the processes above
start when their run does, so a run's first stage still waited for its kernel's start and imports (1.5-2 s on
every run). A run worker started ahead (warm_run_worker) therefore starts, while it waits for its run, one standby
process per stage of the pipeline last run (HINT, written by the stage runner; at most
`Settings.pipeline_standby_kernels`): papermill imported, a fresh kernel started with the worker's user-code
environment (nothing of any run) and the stage's heavy imports done. A stage takes a standby whose kernel name,
imports, user-code environment and installed packages (STAMP) are its own; the hand-over then sets every variable
of the stage and moves the kernel into the stage's folder (papermill_child). Each standby serves one stage and
ends with it: still one fresh process and kernel per stage, never a kernel that ran anything. A standby has no run
in its environment, so a stage that takes one writes `<stage>.standby` (its random `MLP_STANDBY`) in the run's
folder first: stage_procs finds it, its kernel and what its notebook starts by that.

Plain standard library: imported by the stage runner, inside Dagster's run worker.
"""

from __future__ import annotations

import ast
import json
import os
import secrets
import select
import subprocess
import threading
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
# The standbys this run worker started before its run was known: (key, proc, its MLP_STANDBY)
_standby: list[tuple[tuple, subprocess.Popen, str]] = []
_lock = threading.Lock()  # (standby() appends from its own thread)
STANDBY = "MLP_STANDBY"
HINT = "mlp-standby.json"  # in DAGSTER_HOME: {"recent": [[[kernel name, preimports], ...] of a run's stages, ...]}
RECENT = 5  # the runs whose stages the standbys are for (pipelines run in turn each find theirs)


def stamp() -> tuple:
    """The installed packages as a kernel started earlier imported them: the modification time of each folder of
    distributions on the import path (installing, upgrading or removing one adds or removes entries there). A
    standby started before a change is never taken after it."""
    out = []
    for entry in sys.path:
        if os.path.basename(entry.rstrip("/")) in ("site-packages", "dist-packages"):
            try:
                out.append((entry, os.stat(entry).st_mtime_ns))
            except OSError:
                pass
    return tuple(out)


def _standby_key(run_env: dict[str, str], kernel: str, modules: str) -> tuple:
    from jupyter_mlp.user_env import STAGE

    return ({k: v for k, v in run_env.items() if k not in STAGE and k != STANDBY}, kernel, modules, stamp())


def _spawn(env: dict[str, str], kernel: tuple[str, ...] | None, pass_fds: tuple[int, ...] = ()) -> subprocess.Popen:
    # The command line names papermill and the run's I/O folder: `ps` shows which run's stage a process is, as
    # `python -m papermill <run dir>/...` did; then the stage, kernel name and folder its kernel starts with, and
    # the modules it may import ahead (preimports). (A standby, started before its run was known, names none of
    # these: the stage that takes it records its MLP_STANDBY in the run's folder.)
    return subprocess.Popen([sys.executable, "-c", CHILD, "papermill", env.get("MLP_STAGE_IO", ""), *(kernel or ())],
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, pass_fds=pass_fds)


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
    if kernel is not None:
        proc = _take_standby(run_env, kernel)
        if proc is not None:
            return proc
    return _spawn(run_env, kernel)


def _take_standby(run_env: dict[str, str], kernel: tuple[str, ...]) -> subprocess.Popen | None:
    """A standby for the stage `kernel` names (stage, kernel name, its run's folder[, preimports]), recorded in
    that folder as `<stage>.standby` before it is returned (a cancel from then on finds it); None when none fits."""
    stage, _, run_dir = kernel[:3]
    with _lock:
        i = _fitting(run_env, kernel)
        if i is None:
            return None
        _, proc, token = _standby.pop(i)
    Path(run_dir, f"{stage}.standby").write_text(token)
    proc.mlp_standby = token  # (stage_runner: the stage's timings say where its kernel came from)
    return proc


def has_standby(run_env: dict[str, str], kernel: tuple[str, ...]) -> bool:
    """Whether a standby would fit the stage `kernel` names (as _take_standby)."""
    with _lock:
        return _fitting(run_env, kernel) is not None


def _fitting(run_env: dict[str, str], kernel: tuple[str, ...]) -> int | None:
    """Where in _standby a live standby for the stage `kernel` names is (_lock held), or None."""
    _, name, _, modules = (*kernel, "")[:4]
    key = _standby_key(run_env, name, modules)
    return next((i for i, (k, proc, _) in enumerate(_standby) if k == key and proc.poll() is None), None)


def standby(specs: list[tuple[str, str]], limit: int, stop: threading.Event) -> None:
    """Start a standby for each (kernel name, preimports) of `specs`, at most `limit` in all, one after the other:
    each once the one before has its kernel started and its imports done (its pipe `ready` closes), so they never
    start all at once on a small machine. None more once `stop` (a threading.Event: the run arrived) is set. Run in
    a thread of the run worker while it waits for its run."""
    from jupyter_mlp.user_env import user_code_env

    for name, modules in specs[:max(0, limit)]:
        if stop.is_set():
            return
        token = secrets.token_hex(16)
        env = user_code_env({STANDBY: token})
        ready, ready_w = os.pipe()
        try:  # no run, no stage, no folder: the worker's (papermill_child's standby)
            proc = _spawn(env, ("", name, "", modules, str(ready_w)), pass_fds=(ready_w,))
        finally:
            os.close(ready_w)
        with _lock:
            _standby.append((_standby_key(env, name, modules), proc, token))
        try:
            select.select([ready], [], [], 120)  # readable at EOF: the child closed it, ready or gone
        finally:
            os.close(ready)


def _recent(dagster_home: str | None) -> list[list[tuple[str, str]]]:
    try:
        runs = json.loads(Path(dagster_home or "", HINT).read_text())["recent"]
        return [[(str(k), str(m)) for k, m in run] for run in runs]
    except (OSError, ValueError, TypeError, KeyError):
        return []


def read_hint(dagster_home: str | None) -> list[tuple[str, str]]:
    """The standbys to start for the next run: the stages' (kernel name, preimports) of the last RECENT runs on
    this Dagster instance, each as many times as one of those runs needed it, the latest run's first."""
    out: list[tuple[str, str]] = []
    for run in _recent(dagster_home):
        for spec in dict.fromkeys(run):
            out += [spec] * max(0, run.count(spec) - out.count(spec))
    return out


def write_hint(dagster_home: str | None, specs: list[tuple[str, str]]) -> None:
    """Record the stages of the run starting now (the next run worker starts standbys for them and for those of
    the runs before, read_hint); a failure to write it never fails the run."""
    if not dagster_home:
        return
    path = Path(dagster_home, HINT)
    try:
        recent = _recent(dagster_home)
        runs = [list(specs)] + [r for r in recent if r != list(specs)][:RECENT - 1]
        if runs != recent:
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"recent": runs}))
            tmp.replace(path)
    except OSError:
        pass


def ahead(run_env: dict[str, str], kernel: tuple[str, ...] | None = None) -> None:
    """Start the process (and, with `kernel`, the kernel) the run's next stage will take, unless a standby fits it."""
    while _spare:
        discard(_spare.pop()[1])
    if kernel is not None and has_standby(run_env, kernel):
        return
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
