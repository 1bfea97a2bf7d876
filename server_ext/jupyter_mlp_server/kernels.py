"""Zero-config notebooks: a kernel started for a notebook inside a project logs to that project.

The rule (also in docs/experiments.md): a notebook belongs to the project named in the nearest `mlp-project.toml`
(`project = "<slug>"`) in its folder or a parent folder, up to the Jupyter root. Notebooks outside any such
folder get no platform settings.

Before the kernel starts, the extension asks the backend for MLflow credentials scoped to that project and the
user (the backend refuses non-members), and puts them in the kernel's environment: `MLFLOW_TRACKING_URI` (the
project's gateway), `MLFLOW_TRACKING_TOKEN`, `MLFLOW_EXPERIMENT_ID` (the project's Default experiment),
`MLP_PROJECT`, `MLP_NOTEBOOK_PATH` and `MLP_NOTEBOOK_FILE`. The user types nothing; the kernel can do no more
than its user may in that one project.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlp.projects import MARKER, RULE, ProjectOf, project_of  # noqa: F401 - re-exported for handlers

if TYPE_CHECKING:
    from .app import MLPServerApp

log = logging.getLogger(__name__)


class KernelEnvironment:
    """Hooks into the session manager: credentials are fetched (async) before a kernel starts."""

    def __init__(self, app: MLPServerApp):
        self.app = app
        self._pending: dict[str, dict[str, str]] = {}

    def install(self, session_manager: Any) -> None:
        original_start = session_manager.start_kernel_for_session
        original_env = session_manager.get_kernel_env

        async def start_kernel_for_session(session_id, path, name, type, kernel_name, *args, **kwargs):  # noqa: ANN001, A002
            key = _key(session_manager, path, name)
            self._pending[key] = await self.env_for(key)
            try:
                return await original_start(session_id, path, name, type, kernel_name, *args, **kwargs)
            finally:
                self._pending.pop(key, None)

        def get_kernel_env(path, name=None):  # noqa: ANN001
            env = original_env(path, name)
            env.update(self._pending.get(_key(session_manager, path, name), {}))
            return env

        session_manager.start_kernel_for_session = start_kernel_for_session
        session_manager.get_kernel_env = get_kernel_env

    async def env_for(self, os_path: str) -> dict[str, str]:
        root = self.app.serverapp.root_dir
        try:
            api_path = str(Path(os_path).resolve().relative_to(Path(root).resolve()))
        except ValueError:
            return {}
        found = project_of(root, api_path)
        if found.project is None:
            return {}
        env = {"MLP_PROJECT": found.project, "MLP_NOTEBOOK_PATH": api_path, "MLP_NOTEBOOK_FILE": os_path}
        try:
            base = await self.app.backend_base()
            public = (self.app.mlp_settings.public_url or base).rstrip("/")
            env["MLFLOW_TRACKING_URI"] = f"{public}/mlflow/{found.project}"
            creds = await self.app.backend_request("POST", f"projects/{found.project}/kernel-token")
        except Exception as e:  # noqa: BLE001 - the kernel still starts; its MLflow calls will say why they fail
            log.warning("jupyter-mlp: no MLflow credentials for %s in project %s: %s", api_path, found.project, e)
            env["MLP_CREDENTIALS_ERROR"] = str(e)[:500]
            return env
        env.update(MLFLOW_TRACKING_TOKEN=creds["token"], MLFLOW_EXPERIMENT_ID=creds["experiment_id"],
                   MLFLOW_TRACKING_URI=f"{public}{creds['tracking_path']}")
        return env


def _key(session_manager: Any, path: str | None, name: str | None) -> str:
    if name is not None:
        return os.path.join(session_manager.kernel_manager.cwd_for_path(path), name)
    return str(path)
