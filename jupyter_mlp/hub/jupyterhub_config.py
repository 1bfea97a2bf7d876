"""JupyterHub with the jupyter-mlp backend as a hub service. `mlp hub` runs `jupyterhub -f` on this file.

Every value comes from jupyter-mlp's settings (`MLP_HUB_*`, `MLP_ADMIN_USERS`, ..., docs/configuration.md);
`$MLP_HOME/hub/jupyterhub_config.py`, when it exists, is loaded last and may override anything (a dummy password
for tests, a site's OAuthenticator, a DockerSpawner...). docs/deployment.md explains each part.
"""

import os
import sys

from jupyter_mlp.hub import SERVICE, free_port, hub_dir, is_root, proxy_command, venv_bin
from jupyter_mlp.settings import load_settings

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file
settings = load_settings()
state = hub_dir(settings)
state.mkdir(mode=0o700, parents=True, exist_ok=True)

# The public proxy on the configured address; the hub's own API and the proxy's API on free loopback ports, so
# several hubs (tests, engineers) can share one machine.
c.JupyterHub.ip = settings.hub_ip
c.JupyterHub.port = settings.hub_port
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = free_port()
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{free_port()}"
c.ConfigurableHTTPProxy.command = [proxy_command(settings)]
c.ConfigurableHTTPProxy.pid_file = str(state / "jupyterhub-proxy.pid")

# Hub state under MLP_HOME/hub
c.JupyterHub.db_url = settings.hub_db_url or f"sqlite:///{state / 'jupyterhub.sqlite'}"  # hub_db_url: PostgreSQL
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")

# Who signs in and how servers start: settings
c.JupyterHub.authenticator_class = settings.hub_authenticator
c.JupyterHub.spawner_class = settings.hub_spawner
c.Authenticator.admin_users = set(settings.admin_users)  # hub admins are platform admins (the backend reads `admin`)

# The platform backend, a hub-managed service at /services/mlp/: the hub starts and restarts it, gives it its API
# token (JUPYTERHUB_API_TOKEN) and prefix; the backend resolves every caller's hub token with HubAuth.
backend_port = settings.backend_port or free_port()
backend_url = f"http://127.0.0.1:{backend_port}"
# A managed service gets only this environment (JupyterHub keeps its own secrets to itself): the platform's
# settings, and the S3 client's credentials and region for object storage (artifacts, Iceberg; docs/deployment.md).
service_env = {k: v for k, v in os.environ.items() if k.startswith(("MLP_", "AWS_"))}
service_env.update({"MLP_HOME": str(settings.home), "MLP_AUTH_MODE": "hub", "MLP_BACKEND_PORT": str(backend_port),
                    "PATH": os.environ.get("PATH", "")})
c.JupyterHub.services = [{
    "name": SERVICE,
    "url": backend_url,
    "command": [sys.executable, "-m", "jupyter_mlp_backend", "--host", "127.0.0.1", "--port", str(backend_port)],
    "environment": service_env,
    "display": False,
}]
c.JupyterHub.load_roles = [
    # The service's own token: identify callers and read the hub's users (admin flags, removed users).
    {"name": "mlp-service", "description": "the jupyter-mlp backend", "scopes": ["read:users", "list:users"],
     "services": [SERVICE]},
    # Every user may call the platform service; what they may do there the backend decides per project.
    {"name": "user", "scopes": ["self", f"access:services!service={SERVICE}"]},
    # A single-user server's own token (JUPYTERHUB_API_TOKEN, what its kernels call the backend with): JupyterHub's
    # default `server` role plus the platform service.
    {"name": "server", "scopes": ["users:activity!user", "access:servers!server",
                                  f"access:services!service={SERVICE}"]},
]

# Single-user servers: the server extension (enabled in the venv) forwards the user's own hub token to the
# backend's loopback URL; kernels get the server owner's token (JUPYTERHUB_API_TOKEN).
c.Spawner.cmd = [venv_bin("jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.args = ["--allow-root"] if is_root() else []
c.Spawner.environment = {"MLP_HOME": str(settings.home), "MLP_AUTH_MODE": "hub", "MLP_BACKEND_URL": backend_url}
c.Spawner.oauth_client_allowed_scopes = [f"access:services!service={SERVICE}"]

site = state / "jupyterhub_config.py"
if site.exists():
    load_subconfig(str(site))  # noqa: F821 - provided by JupyterHub
