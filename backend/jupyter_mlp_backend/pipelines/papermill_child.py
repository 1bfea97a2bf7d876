"""The body of a local stage's papermill process started ahead by warm_papermill (issue 17).

Run as `python -c "runpy.run_path(<this file>)" papermill <run io dir> [<stage> <kernel name> <cwd> [<modules>
[<ready fd>]]]`
(runpy adds nothing to sys.path). It imports papermill and, when the stage it is for is known, starts that stage's kernel at
once: a fresh jupyter_client kernel with the stage's kernel name and working folder and the run's environment plus
`MLP_STAGE` (so stage_procs finds it by `MLP_STAGE_IO` and `MLP_STAGE`, as a kernel papermill starts). Then it waits
for one line on stdin: the stage's whole environment and papermill's arguments.

The variables known only once the stage's MLflow child run exists (MLFLOW_RUN_ID, MLFLOW_TRACKING_TOKEN,
MLP_STAGE_RUN_ID...) are given to the kernel before any notebook cell runs: one silent execution (no output, no
execution count, no history, no name bound in the notebook's namespace) that sets them in the kernel's
`os.environ`, as if the kernel had started with them. papermill then runs the notebook with that kernel manager
(papermill hands `km` to nbclient, which uses a started kernel and leaves its shutdown to its owner), and this
process shuts the kernel down gracefully after papermill saved the output notebook, as nbclient did. A stage that
does not match what the kernel was started for (another stage, kernel name or folder) gets the plain path: the
kernel is shut down and papermill starts its own. One process and one fresh kernel per stage, as before.

`<modules>` (warm_papermill.preimports: comma-separated): the kernel started ahead imports them by a silent
execution (in a thread of this process, so papermill's import goes on meanwhile), finished before the stage's
variables are handed over.

A standby (`<stage>` empty: warm_papermill.standby, started by a run worker before its run is known) starts its
kernel with the worker's user-code environment and folder; at the hand-over the same silent execution also moves
the kernel into the stage's folder (`os.chdir`, and IPython's own record of the folder it started in) and gives it
every variable of the stage, the run's included. Any stage with the same kernel name may take it.

Plain standard library until papermill's import; never imported by the backend.
"""

from __future__ import annotations

import json
import os
import sys

START_TIMEOUT = 60  # papermill's default --start-timeout, which nbclient's wait for the kernel used


def main(argv: list[str]) -> int | None:
    ahead = tuple(argv[3:6]) if len(argv) >= 6 else None  # argv: -c papermill <io> [<stage> <kernel> <cwd>]
    km = _start(*ahead) if ahead else None  # the kernel starts while papermill is imported
    pre = _preimport(km[0], argv[6].split(",")) if km is not None and len(argv) > 6 and argv[6] else None
    try:
        import papermill.cli

        if len(argv) > 7:  # a standby: ready (or not, its kernel failed to start) once its imports are done
            if pre is not None:
                pre.join(2 * START_TIMEOUT)
            os.close(int(argv[7]))

        line = sys.stdin.readline()
        if not line.strip():  # discarded: no stage for this process
            if km is not None:
                _shutdown(km[0], now=True)
                km = None
            return 0
        job = json.loads(line)
        os.environ.clear()
        os.environ.update(job["env"])
        if pre is not None:  # the kernel is busy importing until then: the stage's cells would wait for it anyway
            pre.join(2 * START_TIMEOUT)
        if km is not None and not _hand_over(km, ahead, job):
            _shutdown(km[0], now=True)
            km = None
        if km is not None:
            import functools

            papermill.cli.execute_notebook = functools.partial(papermill.cli.execute_notebook, km=km[0])
        papermill.cli.papermill.main(args=job["args"], prog_name="papermill")
    finally:
        if km is not None:
            _shutdown(km[0], now=False)
    return None


def _start(stage: str, kernel: str, cwd: str):
    """(kernel manager, the kernel's start environment), or None when the kernel could not start (papermill then
    starts one and reports the error as before)."""
    try:
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        km = AsyncKernelManager(kernel_name=kernel)
        env = _as_papermill({**os.environ, "MLP_STAGE": stage} if stage else dict(os.environ))
        # as nbclient starts it: IPython's history in memory
        extra = ["--HistoryManager.hist_file=:memory:"] if km.ipykernel else []
        run_sync(km.start_kernel)(extra_arguments=extra, cwd=cwd or None, env=env)
        return km, env
    except Exception:
        return None


def _preimport(km, modules: list[str]):
    """The kernel imports `modules` now, while it waits for its stage: one silent execution whose code runs in a
    namespace of its own (nothing bound in the notebook's), a module that fails to import skipped (the notebook's
    own import then raises as before). Waited for in a daemon thread (returned; joined before the hand-over, so the
    notebook's first cell never runs before it): a reply lost to a shutdown costs nothing."""
    import threading

    body = "import importlib\nfor m in %r:\n    try:\n        importlib.import_module(m)\n    except Exception:\n" \
           "        pass\n" % (modules,)
    code = f"exec({body!r}, {{}})"

    def run() -> None:  # the same silent execution as the hand-over's, on an event loop of this thread's own
        import asyncio

        try:
            asyncio.run(_execute_silently(km, code))
        except Exception:
            pass

    thread = threading.Thread(target=run, name="preimport", daemon=True)
    thread.start()
    return thread


def _as_papermill(env: dict[str, str]) -> dict[str, str]:
    """The environment papermill's command line gives the kernel it starts: it sets this one before the start."""
    return {**env, "PYDEVD_DISABLE_FILE_VALIDATION": env.get("PYDEVD_DISABLE_FILE_VALIDATION", "1")}


def _opt(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args[:-1] else None


def _hand_over(km_env, ahead: tuple, job: dict) -> bool:
    """Give the kernel started ahead the stage's variables it lacks; False when it is not this stage's kernel."""
    km, started = km_env
    stage, kernel, cwd = ahead
    env, args = job["env"], job["args"]
    if _opt(args, "-k") != kernel:
        return False
    move = ""
    if stage:  # started for this stage of this run
        if env.get("MLP_STAGE") != stage or _opt(args, "--cwd") != cwd:
            return False
        if env.get("MLP_STAGE_IO") != started.get("MLP_STAGE_IO"):
            return False
    else:  # a standby: into the stage's folder, as if started there (IPython keeps the folder it started in)
        to = os.path.abspath(_opt(args, "--cwd") or ".")
        move = (f", o.chdir({to!r}), setattr(i, 'starting_dir', {to!r}),"
                f" i.history_manager.dir_hist.__setitem__(slice(None), [__import__('pathlib').Path({to!r})])")
    env = _as_papermill(env)
    changed = {k: v for k, v in env.items() if started.get(k) != v}
    removed = sorted(k for k in started if k not in env)
    # an expression: it binds no name in the notebook's namespace
    code = (f"(lambda o, e, i: (e.update({json.dumps(changed)}), [e.pop(k, None) for k in {json.dumps(removed)}]"
            f"{move}))(__import__('os'), __import__('os').environ, get_ipython())")
    from jupyter_core.utils import run_sync

    try:
        return run_sync(_execute_silently)(km, code)
    except Exception:
        return False


async def _execute_silently(km, code: str) -> bool:
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=START_TIMEOUT)
        msg_id = kc.execute(code, silent=True, store_history=False, allow_stdin=False)
        while True:
            reply = await kc.get_shell_msg(timeout=START_TIMEOUT)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply["content"].get("status") == "ok"
    finally:
        kc.stop_channels()


def _shutdown(km, now: bool) -> None:
    from jupyter_core.utils import run_sync

    try:
        if run_sync(km.is_alive)():
            run_sync(km.shutdown_kernel)(now=now)
    except RuntimeError:
        pass
    finally:
        try:
            run_sync(km.cleanup_resources)()
        except Exception:
            pass


if __name__ == "__main__":
    sys.exit(main(sys.argv))
