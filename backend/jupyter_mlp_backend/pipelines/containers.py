"""Stages in Docker containers built from the pipeline version's environment, when a Docker engine answers.

Images are built here, never pulled (no registry is reachable from these machines):

* the **base image** (`container_base_image`, default `mlp-base:bookworm`) is Debian bookworm with Python 3,
  made by `debootstrap --variant=minbase` from a Debian mirror and imported into Docker; built once, checked (and
  built when missing) in the background when the platform starts, on first need, or by
  `python -m jupyter_mlp_backend.pipelines.containers base`;
* a **stage image** per environment: the base plus the exact files of the distributions the stages need —
  papermill, ipykernel, the stage I/O libraries and every distribution a stage notebook imports, with their
  dependencies — copied from the environment the version was promoted in. Its tag is a hash of the base image
  and the `name==version` list, so versions with the same needs share an image. A distribution whose installed
  version differs from the version's lock is refused by name: the image would not be the locked environment.

A stage container runs as the calling user, with CPU, memory and process limits, the version folder read-only,
the run folder read-write, and **no network** unless the pipeline's notebook asks (`metadata.mlp.container.network`).
It reaches the backend (MLflow tracking, datasets) through a Unix socket bridged to the backend's port
(`jupyter_mlp.bridge`), so the stage's URLs are the same inside and out.
"""

from __future__ import annotations

import ast
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jupyter_mlp.settings import Settings

# What every stage needs besides its own imports: the executor, the kernel, and the stage I/O libraries
# (jupyter_mlp.pipeline_io, jupyter_mlp.datasets).
STAGE_ROOTS = ("papermill", "ipykernel", "pandas", "pyarrow", "numpy", "cloudpickle", "httpx")
LABEL = "mlp.run"


class ContainerError(RuntimeError):
    """Docker is needed and cannot do what was asked; the message says what to do."""


def docker_client(settings: Settings):  # noqa: ANN201
    """A Docker client that answered a ping, or None (engine `none`, or `auto` with no engine reachable)."""
    if settings.container_engine == "none":
        return None
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        return client
    except Exception as e:  # the SDK raises several kinds for "no engine": all mean the same here
        if settings.container_engine == "docker":
            raise ContainerError(f"MLP_CONTAINER_ENGINE=docker but no Docker engine answers: {e}") from e
        return None


def executor(settings: Settings) -> dict[str, str]:
    """Where stages run now, in words the panel shows."""
    client = docker_client(settings)
    if client is None:
        why = ("containers are switched off (MLP_CONTAINER_ENGINE=none)" if settings.container_engine == "none"
               else "no Docker engine answers")
        return {"kind": "subprocess", "detail": f"Stages run in a local subprocess: {why}."}
    version = client.version().get("Version", "?")
    return {"kind": "docker", "detail": f"Stages run in Docker containers (engine {version}), no network "
                                        "unless the pipeline asks."}


def mirror(settings: Settings) -> str:
    if settings.debian_mirror:
        return settings.debian_mirror
    for f in sorted(Path("/etc/apt").glob("sources.list*")) + sorted(Path("/etc/apt/sources.list.d").glob("*")):
        try:
            text = f.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            parts = line.split()
            if line.startswith("URIs:") and len(parts) > 1 and "security" not in parts[1]:
                return parts[1]
            if parts[:1] == ["deb"] and len(parts) > 2 and "security" not in line:
                return parts[1] if not parts[1].startswith("[") else parts[2]
    return "http://deb.debian.org/debian"


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _image(client, tag: str):  # noqa: ANN001, ANN202
    import docker

    try:
        return client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None


# What a stage does before its notebook runs in a container, as the steps the run shows while it waits.
STEPS = 3


def step(n: int, text: str) -> str:
    """A progress line: `[step 2/3] stage image ...` (the panel shows the last one while the stage starts)."""
    return f"[step {n}/{STEPS}] {text}"


def ensure_base_image(client, settings: Settings, log: Callable[[str], None] = print):  # noqa: ANN001, ANN201
    """The base image, made with debootstrap when Docker does not have it yet."""
    tag = settings.container_base_image
    image = _image(client, tag)
    if image is not None:
        log(step(1, f"base image {tag} present"))
        return image
    building = base_image_status(settings)
    if building and building.get("state") == "building":
        log(step(1, f"base image {tag}: waiting for the build the platform started at "
                    f"{_clock(building['since'])} (about a minute)"))
    with _locked(settings.home / "run" / "base-image.lock"):
        image = _image(client, tag)
        if image is not None:
            log(step(1, f"base image {tag} ready"))
            return image
        if shutil.which("debootstrap") is None:
            raise ContainerError(f"The base image {tag} is missing and debootstrap is not installed to build it "
                                 "(apt-get install debootstrap), or set MLP_CONTAINER_BASE_IMAGE to a local image "
                                 "with python3")
        major_minor = f"{sys.version_info.major}.{sys.version_info.minor}"
        with tempfile.TemporaryDirectory(prefix="mlp-rootfs-") as root:
            log(step(1, f"building base image {tag} with debootstrap from {mirror(settings)} (about a minute)"))
            proc = subprocess.run(
                ["debootstrap", "--variant=minbase", "--include=python3,ca-certificates", "bookworm", root,
                 mirror(settings)], capture_output=True, text=True)
            if proc.returncode != 0:
                raise ContainerError(f"debootstrap failed: {proc.stderr.strip()[-500:] or proc.stdout[-500:]}")
            found = Path(root, "usr/bin", f"python{major_minor}")
            if not found.exists():
                raise ContainerError(f"The base image would not have Python {major_minor} (the stages' Python); "
                                     "set MLP_CONTAINER_BASE_IMAGE to an image that has it")
            tar_path = Path(root).with_suffix(".tar")
            try:
                subprocess.run(["tar", "-C", root, "-cf", str(tar_path), "."], check=True)
                repo, _, name = tag.rpartition(":") if ":" in tag else (tag, "", "latest")
                client.api.import_image_from_file(str(tar_path), repository=repo, tag=name)
            finally:
                tar_path.unlink(missing_ok=True)
        log(step(1, f"base image {tag} ready"))
        return client.images.get(tag)


def _clock(t: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(t))


def _status_path(settings: Settings) -> Path:
    return settings.home / "run" / "base-image.json"


def base_image_status(settings: Settings) -> dict[str, Any] | None:
    """What the platform last found of the base image (`prepare_base_image`): state, image, detail, since."""
    try:
        return json.loads(_status_path(settings).read_text())
    except (OSError, ValueError):
        return None


def prepare_base_image(settings: Settings, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Check the base image when the platform starts and build it when missing, recording what happens, so that
    the first pipeline run does not pay for the build unannounced (the executor route and the runs say it)."""
    tag = settings.container_base_image
    since = time.time()

    def record(state: str, detail: str) -> dict[str, Any]:
        status = {"state": state, "image": tag, "detail": detail, "since": since, "at": time.time()}
        path = _status_path(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(status))
        tmp.replace(path)
        log(f"pipeline base image {tag}: {detail}")
        return status

    try:
        client = docker_client(settings)
    except ContainerError as e:
        return record("failed", str(e))
    if client is None:
        return record("unused", "no Docker engine: stages run in local subprocesses")
    if _image(client, tag) is not None:
        return record("ready", "present")
    record("building", f"missing: building it with debootstrap since {_clock(since)} (about a minute); a "
                       "pipeline run started meanwhile waits for it")
    try:
        ensure_base_image(client, settings, lambda line: None)
    except ContainerError as e:
        return record("failed", str(e))
    return record("ready", f"built in {time.time() - since:.0f} s")


def prepare_base_image_in_background(settings: Settings, log: Callable[[str], None] = print):  # noqa: ANN201
    """`prepare_base_image` on a daemon thread (the platform starts at once); returns the thread."""
    import threading

    def run() -> None:
        try:
            prepare_base_image(settings, log)
        except Exception as e:  # noqa: BLE001 - a failed check must not take the backend down; it is logged
            log(f"pipeline base image check failed: {e}")

    thread = threading.Thread(target=run, name="mlp-base-image", daemon=True)
    thread.start()
    return thread


# --- what a version's stages need ------------------------------------------------------------------------------


def stage_imports(version_dir: Path) -> set[str]:
    """Top-level modules the stage notebooks import."""
    names: set[str] = set()
    for nb in sorted((version_dir / "stages").glob("*.ipynb")):
        for cell in json.loads(nb.read_text()).get("cells", []):
            if cell.get("cell_type") != "code":
                continue
            src = cell.get("source", "")
            try:
                tree = ast.parse("".join(src) if isinstance(src, list) else src)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names.add(node.module.split(".")[0])
    return names - {"jupyter_mlp"} - set(sys.stdlib_module_names)


def distributions_needed(version_dir: Path) -> dict[str, Any]:
    """name -> Distribution: the stage roots, the distributions providing the stages' imports, and their closure."""
    from importlib.metadata import PackageNotFoundError, distribution, packages_distributions

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    providers = packages_distributions()
    roots = list(STAGE_ROOTS)
    for module in sorted(stage_imports(version_dir)):
        roots += providers.get(module, [])
    seen: dict[str, Any] = {}
    stack = roots
    while stack:
        name = canonicalize_name(stack.pop())
        if name in seen:
            continue
        try:
            d = distribution(name)
        except PackageNotFoundError:
            continue
        if name == "jupyter-mlp":
            continue  # copied from source below, without its platform dependencies
        seen[name] = d
        for spec in d.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                stack.append(req.name)
    return seen


def _check_lock(version_dir: Path, dists: dict[str, Any]) -> None:
    from packaging.utils import canonicalize_name

    lock = {}
    for line in (version_dir / "environment.txt").read_text().splitlines():
        name, _, ver = line.partition("==")
        lock[canonicalize_name(name)] = ver
    wrong = [f"{n} (locked {lock[n]}, installed {d.version})" for n, d in sorted(dists.items())
             if n in lock and lock[n] != d.version]
    if wrong:
        raise ContainerError("This machine's environment no longer matches the version's lock, so its image "
                             f"cannot be built exactly: {', '.join(wrong[:8])}. Promote the notebook again to "
                             "make a version of this environment.")


def _files(d: Any) -> list[tuple[Path, str]]:
    """(absolute path, path under site-packages) of one distribution's installed files."""
    base = Path(d.locate_file("")).resolve()
    out = []
    for f in d.files or []:
        p = Path(d.locate_file(f)).resolve()
        try:
            rel = p.relative_to(base)
        except ValueError:
            continue  # scripts in bin/ and the like
        if p.is_file():
            out.append((p, rel.as_posix()))
    return out


DOCKERFILE = """\
FROM {base}
COPY site /opt/mlp/site
ENV PYTHONPATH=/opt/mlp/site HOME=/tmp IPYTHONDIR=/tmp/.ipython MPLCONFIGDIR=/tmp/.matplotlib \\
    JUPYTER_RUNTIME_DIR=/tmp/.jupyter-runtime PYTHONUNBUFFERED=1
LABEL mlp.environment="{env}"
"""


def ensure_stage_image(client, settings: Settings, version_dir: Path,  # noqa: ANN001
                       log: Callable[[str], None] = print) -> str:
    """The tag of the image this version's stages run in, built when missing."""
    import jupyter_mlp

    base = ensure_base_image(client, settings, log)
    dists = distributions_needed(version_dir)
    _check_lock(version_dir, dists)
    pins = sorted(f"{n}=={d.version}" for n, d in dists.items())
    own = sorted(Path(jupyter_mlp.__file__).parent.glob("*.py"))
    h = hashlib.sha256(base.id.encode())
    h.update("\n".join(pins).encode())
    for f in own:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    env = h.hexdigest()
    tag = f"mlp-stage:{env[:20]}"
    with _locked(settings.home / "run" / f"image-{env[:20]}.lock"):
        if _image(client, tag) is not None:
            log(step(2, f"stage image {tag} reused (already built for this environment)"))
            return tag
        started = time.monotonic()
        log(step(2, f"building stage image {tag}: packing {len(pins)} distributions from this environment"))
        with tempfile.TemporaryFile() as ctx:
            with tarfile.open(fileobj=ctx, mode="w") as tar:
                df = DOCKERFILE.format(base=settings.container_base_image, env=env).encode()
                info = tarfile.TarInfo("Dockerfile")
                info.size = len(df)
                import io

                tar.addfile(info, io.BytesIO(df))
                for d in dists.values():
                    for path, rel in _files(d):
                        tar.add(str(path), arcname=f"site/{rel}", recursive=False)
                for f in own:
                    tar.add(str(f), arcname=f"site/jupyter_mlp/{f.name}", recursive=False)
            ctx.seek(0)
            log(step(2, f"building stage image {tag}: {ctx.seek(0, 2) / 1e6:.0f} MB sent to Docker"))
            ctx.seek(0)
            try:  # Docker's own lines ("Step 2/4 : COPY site ...") as they come: the progress of the build
                for chunk in client.api.build(fileobj=ctx, custom_context=True, tag=tag, rm=True, forcerm=True,
                                              pull=False, decode=True):
                    if "error" in chunk:
                        raise ContainerError(f"Building the stage image failed: {chunk['error'].strip()}")
                    for line in str(chunk.get("stream", "")).splitlines():
                        if line.strip():
                            log(step(2, f"building stage image {tag}: {line.strip()}"))
            except ContainerError:
                raise
            except Exception as e:  # APIError and the like: the message is what matters
                raise ContainerError(f"Building the stage image failed: {e}") from e
            if _image(client, tag) is None:
                raise ContainerError(f"Building the stage image failed: Docker did not make {tag}")
        log(step(2, f"stage image {tag} built in {time.monotonic() - started:.0f} s"))
        return tag


def limits(settings: Settings, desc: dict[str, Any]) -> dict[str, Any]:
    """CPU, memory and network of a stage container: the version's own request, else the settings."""
    asked = desc.get("container") or {}
    return {"cpus": float(asked.get("cpus", settings.container_cpus)),
            "memory": str(asked.get("memory", settings.container_memory)),
            "network": bool(asked.get("network", False))}


def run_stage(client, image: str, *, version_dir: Path, run_dir: Path, run_id: str, project: str,  # noqa: ANN001
              stage: str, papermill_args: list[str], env: dict[str, str], backend: tuple[str, int] | None,
              limit: dict[str, Any], log_path: Path) -> int:
    """Run one stage's papermill in a container; return its exit code. The container is removed afterwards."""
    from jupyter_mlp.bridge import unix_to_tcp

    sockdir = tempfile.mkdtemp(prefix="mlp-bridge-")  # short: a Unix socket path has at most 107 bytes
    bridge = None
    command = ["python3", "-m", "jupyter_mlp.stage_container"]
    if backend is not None:
        bridge = unix_to_tcp(os.path.join(sockdir, "backend.sock"), *backend)
        command += ["--bridge", "/run/mlp/backend.sock", "--port", str(backend[1])]
    command += ["--", *papermill_args]
    container = None
    try:
        container = client.containers.run(
            image, command, detach=True, name=f"mlp-{run_id[:13]}-{stage}"[:60],
            labels={LABEL: run_id, "mlp.project": project, "mlp.stage": stage},
            user=f"{os.getuid()}:{os.getgid()}", working_dir=str(run_dir), environment=env,
            network_mode="bridge" if limit["network"] else "none",
            nano_cpus=int(limit["cpus"] * 1e9), mem_limit=limit["memory"], memswap_limit=limit["memory"],
            pids_limit=1024,
            volumes={str(version_dir): {"bind": str(version_dir), "mode": "ro"},
                     str(run_dir): {"bind": str(run_dir), "mode": "rw"},
                     sockdir: {"bind": "/run/mlp", "mode": "rw"}})
        code = container.wait()["StatusCode"]
        log_path.write_bytes(container.logs(stdout=True, stderr=True)[-2_000_000:])
        if code == 137:
            log_path.open("a").write(f"\n[mlp] the container was killed (out of memory at {limit['memory']}, "
                                     "or cancelled)\n")
        return code
    finally:
        if container is not None:
            try:
                container.remove(force=True)  # also stops it when we were interrupted (run cancelled)
            except Exception:  # noqa: BLE001 - already gone
                pass
        if bridge is not None:
            bridge.close()
        shutil.rmtree(sockdir, ignore_errors=True)


def kill_run(settings: Settings, run_id: str) -> int:
    """Stop every stage of a pipeline run at once (cancel): its local stage processes and kernels, and its
    containers; returns how many there were."""
    from . import stage_procs

    killed = sum(stage_procs.kill(d) for d in (settings.home / "pipeline-runs").glob(f"*/{run_id}"))
    client = docker_client(settings) if settings.container_engine != "none" else None
    if client is None:
        return killed
    # The low-level listing returns summaries only: the high-level one inspects each container after
    # listing it, and a container removed in between (the stage runner removing its own) raised NotFound.
    def listed() -> list[str]:
        return [c["Id"] for c in client.api.containers(all=True, filters={"label": f"{LABEL}={run_id}"})]

    found = listed()
    for cid in found:
        try:
            client.api.remove_container(cid, force=True)
        except Exception:  # noqa: BLE001 - it ended meanwhile, or the stage runner is removing it
            pass
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and listed():
        time.sleep(0.2)
    return killed + len(found)


if __name__ == "__main__":  # python -m jupyter_mlp_backend.pipelines.containers base
    from jupyter_mlp.settings import load_settings

    if sys.argv[1:] != ["base"]:
        sys.exit("usage: python -m jupyter_mlp_backend.pipelines.containers base")
    s = load_settings()
    if prepare_base_image(s)["state"] != "ready":
        sys.exit(1)
