"""papermill processes started ahead, with papermill imported, for the stages of a run (issue 17).

A local stage is its own process: `python -m papermill` with the stage's environment, which starts the stage's
kernel. Before its first cell ran, that process spent about 1.5 s starting the interpreter and importing papermill
(nbclient, jupyter_client, nbformat...), on every stage of every run. Here the process is started before it is
needed — for a run's first stage while the stage runner creates its MLflow child run (which itself imports
MLflow), for each later stage while the stage before it runs — and waits on its stdin. The stage runner then sends
it one line: the stage's whole environment and papermill's arguments. The process replaces its environment with
the stage's (the kernel papermill starts inherits it, as before), runs papermill's command line and exits with its
code: one process per stage, its own kernel, the same arguments, output and exit status as `python -m papermill`.

A process started ahead carries the run's `MLP_STAGE_IO` from its start, so cancelling the run (stage_procs.kill
of the run) finds it too; it exits at once when its stdin closes (the run worker ended) with no job.

Plain standard library: imported by the stage runner, inside Dagster's run worker.
"""

from __future__ import annotations

import json
import subprocess
import sys

# What the process runs: the import first (the part paid ahead), then one job from stdin.
CHILD = """\
import json, os, sys
import papermill.cli
line = sys.stdin.readline()
if not line.strip():
    sys.exit(0)
job = json.loads(line)
os.environ.clear()
os.environ.update(job["env"])
papermill.cli.papermill.main(args=job["args"], prog_name="papermill")
"""

# One process started ahead per run worker (a run's stages run one after the other in it): (run-level env, proc)
_spare: list[tuple[dict[str, str], subprocess.Popen]] = []


def _spawn(env: dict[str, str]) -> subprocess.Popen:
    # The command line names papermill and the run's I/O folder (the child ignores them): `ps` shows which run's
    # stage a process is, as `python -m papermill <run dir>/...` did.
    return subprocess.Popen([sys.executable, "-c", CHILD, "papermill", env.get("MLP_STAGE_IO", "")], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def take(run_env: dict[str, str]) -> subprocess.Popen:
    """A papermill process for a stage of the run whose stage-independent environment is `run_env`: the one
    started ahead for it when there is one still waiting, else a new one."""
    while _spare:
        env, proc = _spare.pop()
        if env == run_env and proc.poll() is None:
            return proc
        discard(proc)
    return _spawn(run_env)


def ahead(run_env: dict[str, str]) -> None:
    """Start the process the run's next stage will take."""
    while _spare:
        discard(_spare.pop()[1])
    _spare.append((run_env, _spawn(run_env)))


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
    """A process started ahead that no stage will take: its stdin closed, it exits without running anything (not
    waited for here: it may still be importing)."""
    try:
        proc.stdin.close()
    except OSError:
        pass
