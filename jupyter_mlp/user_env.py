"""What a process that runs user code gets of the platform's environment: an allow-list, never the whole of it.

The backend's environment holds the platform's secrets: `MLP_DATABASE_URL` (with its password), the object
store's `AWS_*` credentials, the hub's and services' tokens (`MLP_HUB_API_TOKEN`, `JUPYTERHUB_API_TOKEN`,
`JUPYTER_TOKEN`), API keys, Dagster's storage URL. A pipeline stage (papermill and its kernel, local or in a
container) and a model's serving or batch worker (a models-from-code model's own Python runs there) run code a user
wrote, so they start from nothing and get:

* `SYSTEM`: what any process needs to run here (PATH, HOME, locale, temp dir, the Python/Jupyter/virtualenv
  paths, GPU and thread settings, CA bundles and proxies), none of which is a platform credential;
* what the caller adds for that process: a stage's own variables (`STAGE`: its run's MLflow run and short-lived
  gateway token as the user who launched it, its dataset snapshots, its I/O folder).

A container stage gets only `STAGE` (the image has its own PATH, HOME and locale).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# The stage's own variables, set by the stage runner for this run (jupyter_mlp.datasets, pipeline_io, lineage and
# stage_mlflow read them in the notebook).
STAGE = ("MLP_STAGE_IO", "MLP_STAGE", "MLP_PIPELINE_VERSION", "MLP_DATASET_SNAPSHOTS", "MLP_PROJECT",
         "MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN", "MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID", "MLP_STAGE_RUN_ID")

SYSTEM = frozenset((
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP",
    "VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV", "LD_LIBRARY_PATH",
    # where papermill finds the kernel spec, and IPython/matplotlib their config
    "JUPYTER_PATH", "JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_CONFIG_PATH", "JUPYTER_RUNTIME_DIR",
    "JUPYTER_PLATFORM_DIRS", "JUPYTER_PREFER_ENV_PATH", "IPYTHONDIR", "MPLCONFIGDIR", "MPLBACKEND",
    # GPUs and thread pools as the machine's operator set them
    "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "CUDA_HOME", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS", "NUMEXPR_MAX_THREADS",
    # model caches, offline switches
    "HF_HOME", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TORCH_HOME",
    # TLS trust and the network's proxies (the machine's, as the backend's own requests use them)
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
))
# PYTHONPATH, PYTHONHASHSEED...; LC_ALL, LC_CTYPE...; XDG_CACHE_HOME...
SYSTEM_PREFIXES = ("PYTHON", "LC_", "XDG_")


def user_code_env(extra: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a process that runs user code: `SYSTEM` of `environ` (default: this process's), plus
    `extra`."""
    src = os.environ if environ is None else environ
    env = {k: v for k, v in src.items() if k in SYSTEM or k.startswith(SYSTEM_PREFIXES)}
    env.update(extra or {})
    return env
