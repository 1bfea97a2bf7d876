"""The body of a local stage's papermill process started ahead by warm_papermill (issue 17).

Run as `python -c "runpy.run_path(<this file>)" papermill <run io dir> [<stage> <kernel name> <cwd> [<modules>
[<ready fd>]]]` (runpy adds nothing to sys.path). It imports papermill and, when the stage it is for is known, starts
that stage's kernel at once: a fresh jupyter_client kernel with the stage's kernel name and working folder and the run's environment plus
`MLP_STAGE` (so stage_procs finds it by `MLP_STAGE_IO` and `MLP_STAGE`, as a kernel papermill starts). Then it waits
for one line on stdin: the stage's whole environment and papermill's arguments.

The variables known only once the stage's MLflow child run exists (MLFLOW_RUN_ID, MLFLOW_TRACKING_TOKEN,
MLP_STAGE_RUN_ID...) are given to the kernel before any notebook cell runs: one silent execution (no output, no
execution count, no history, no name bound in the notebook's namespace) that sets them in the kernel's
`os.environ`, as if the kernel had started with them. papermill then runs the notebook with that kernel manager
(papermill hands `km` to nbclient, which uses a started kernel and leaves its shutdown to its owner), and this
process shuts the kernel down gracefully after papermill saved the output notebook, as nbclient did (its atexit
handlers run; asked on the shell channel, see _ask_to_exit). A stage that does not match what the kernel was started
for (another stage, kernel name or folder) gets the plain path: the kernel is shut down and papermill starts its own.
One process and one fresh kernel per stage, as before.

What each stage no longer waits for (issue 17; ~0.6 s a stage): jupyter_client's wait_for_ready ends with 0.2 s of
IOPub silence, paid by the hand-over and again by nbclient (the hand-over needs no IOPub; nbclient's client is ready
once its kernel_info request's idle status arrived, _ready_client); its shutdown polls the kernel every 0.1 s; and
the interpreter's own teardown after the kernel is gone (_exit).

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

            km[0].client_factory = _ready_client()
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
    """Run `code` in the kernel, silently; whether it succeeded. Only the shell channel: the request waits in its
    queue until the kernel reads it, so no jupyter_client wait_for_ready (its last 0.2 s of IOPub silence, on every
    stage's path) and no IOPub, which nothing here reads."""
    import queue
    import time

    kc = km.client()
    kc.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
    try:
        msg_id = kc.execute(code, silent=True, store_history=False, allow_stdin=False)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                reply = await kc.get_shell_msg(timeout=1)
            except queue.Empty:
                if time.monotonic() > deadline or not await km.is_alive():
                    return False
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply["content"].get("status") == "ok"
    finally:
        kc.stop_channels()


def _ready_client():
    """The client class nbclient gets for a kernel started here: ready once the kernel answered a kernel_info
    request and that request's idle status came on IOPub (the subscription is live, so no output of the first cell
    is lost), without jupyter_client's further 0.2 s of IOPub silence (nbclient matches every message to its
    request anyway)."""
    import queue
    import time

    from jupyter_client.asynchronous import AsyncKernelClient

    class ReadyClient(AsyncKernelClient):
        async def wait_for_ready(self, timeout: float | None = None) -> None:
            deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
            while True:
                msg_id = self.kernel_info()
                reply = await self._reply(msg_id)
                if reply is not None and await self._idle(msg_id):
                    self._handle_kernel_info_reply(reply)
                    return
                if not await self._async_is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")

        async def _reply(self, msg_id: str):
            try:
                while True:
                    msg = await self.shell_channel.get_msg(timeout=1)
                    if msg["parent_header"].get("msg_id") == msg_id:
                        return msg
            except queue.Empty:
                return None

        async def _idle(self, msg_id: str) -> bool:
            end = time.monotonic() + 0.5
            while (left := end - time.monotonic()) > 0:
                try:
                    msg = await self.iopub_channel.get_msg(timeout=left)
                except queue.Empty:
                    return False
                if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status" and \
                        msg["content"].get("execution_state") == "idle":
                    return True
            return False

    return ReadyClient


def _shutdown(km, now: bool) -> None:
    from jupyter_core.utils import run_sync

    try:
        if run_sync(km.is_alive)():
            if not now and km.ipykernel:
                run_sync(_ask_to_exit)(km)
            # at once when it exited; else jupyter_client's own request, wait and signals
            run_sync(km.shutdown_kernel)(now=now)
    except RuntimeError:
        pass
    finally:
        try:
            run_sync(km.cleanup_resources)()
        except Exception:
            pass


async def _ask_to_exit(km) -> None:
    """Ask an IPython kernel to shut down on its shell channel and wait for its exit (polled every 20 ms, up to half
    of jupyter_client's shutdown wait, as jupyter_client waits).

    Not jupyter_client's request on the control channel: ipykernel (7.4) flushes stdout on its control thread after
    handling it, and that flush can block for good on the IOPub thread which the main thread is closing meanwhile.
    About 1 in 8 shutdowns of a kernel that had imported scikit-learn hung so, until jupyter_client's SIGTERM 2.5 s
    later, which ends the kernel without its atexit handlers (MLflow's flush of what a stage logged among them). On
    the shell channel the kernel's main thread handles it, with nothing running beside it. A kernel still running
    then gets jupyter_client's request."""
    import asyncio
    import time

    kc = km.client()
    kc.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
    try:
        kc.shell_channel.send(kc.session.msg("shutdown_request", {"restart": False}))
        deadline = time.monotonic() + km.shutdown_wait_time / 2
        while time.monotonic() < deadline and await km.is_alive():
            await asyncio.sleep(0.02)
    finally:
        kc.stop_channels()


def _exit(code: object) -> None:
    """Leave at once, papermill's output written and the kernel shut down: the interpreter's own teardown (its
    modules, zmq contexts: ~0.2 s a stage) does nothing the stage needs. As sys.exit: None 0, a message 1."""
    import logging

    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


if __name__ == "__main__":
    try:
        status = main(sys.argv)
    except SystemExit as e:  # papermill's command line ends with one (an error in a cell raises instead: as before)
        status = e.code
    _exit(status)
