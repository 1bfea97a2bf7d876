"""`mlp hub`'s parts that need no running hub: the shipped config's copy and the proxy lookup."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jupyter_mlp import hub
from jupyter_mlp.settings import Settings


def test_write_config_copies_the_shipped_file(tmp_path):
    target = tmp_path / "jupyterhub_config.py"
    p = subprocess.run([sys.executable, "-m", "jupyter_mlp.cli", "hub", "--write-config", str(target)],
                       capture_output=True, text=True, timeout=60, env={"MLP_HOME": str(tmp_path / "home"),
                                                                        "PATH": "/usr/bin:/bin"})
    assert p.returncode == 0, p.stderr
    assert target.read_text() == hub.CONFIG.read_text()


def test_proxy_lookup_setting_then_venv_then_path(tmp_path, monkeypatch):
    assert hub.proxy_command(Settings(home=tmp_path, hub_proxy_command="/opt/chp")) == "/opt/chp"
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    monkeypatch.setattr(sys, "executable", str(venv / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(RuntimeError, match="npm install -g --prefix .venv configurable-http-proxy@5"):
        hub.proxy_command(Settings(home=tmp_path))
    (venv / "configurable-http-proxy").write_text("#!/bin/sh\n")
    assert hub.proxy_command(Settings(home=tmp_path)) == str(venv / "configurable-http-proxy")


def test_the_backend_service_gets_the_object_stores_credentials(tmp_path, monkeypatch):
    """JupyterHub starts a managed service with only the environment its config names: the S3 client's AWS_*
    variables (object storage for artifacts and Iceberg, docs/deployment.md) must be passed on, like MLP_*; the
    hub's own secrets are not."""
    from traitlets.config.loader import PyFileConfigLoader

    monkeypatch.setenv("MLP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MLP_HUB_PROXY_COMMAND", "/bin/true")
    monkeypatch.setenv("MLP_ICEBERG_WAREHOUSE", "s3://team/iceberg")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "team-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "team-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("CONFIGPROXY_AUTH_TOKEN", "the-proxys-own")
    config = PyFileConfigLoader(hub.CONFIG.name, str(hub.CONFIG.parent)).load_config()
    (service,) = config.JupyterHub.services
    env = service["environment"]
    assert env["MLP_ICEBERG_WAREHOUSE"] == "s3://team/iceberg" and env["MLP_AUTH_MODE"] == "hub"
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_DEFAULT_REGION"]) == (
        "team-key", "team-secret", "eu-west-1")
    assert "CONFIGPROXY_AUTH_TOKEN" not in env


def test_postgres_settings_reach_the_backend_service_and_the_hub(tmp_path, monkeypatch):
    """`mlp hub` on PostgreSQL (docs/deployment.md): the stores' settings are passed to the backend service, which
    migrates its database and starts MLflow and Dagster on theirs; `hub_db_url` is JupyterHub's own database."""
    from traitlets.config.loader import PyFileConfigLoader

    pg = "postgresql+psycopg://team:pw@db.lan/"
    monkeypatch.setenv("MLP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MLP_HUB_PROXY_COMMAND", "/bin/true")
    monkeypatch.setenv("MLP_DATABASE_URL", pg + "mlp")
    monkeypatch.setenv("MLP_MLFLOW_BACKEND_STORE_URI", pg + "mlflow")
    monkeypatch.setenv("MLP_DAGSTER_POSTGRES_URL", pg + "dagster")
    monkeypatch.setenv("MLP_HUB_DB_URL", pg + "jupyterhub")
    config = PyFileConfigLoader(hub.CONFIG.name, str(hub.CONFIG.parent)).load_config()
    (service,) = config.JupyterHub.services
    env = service["environment"]
    assert (env["MLP_DATABASE_URL"], env["MLP_MLFLOW_BACKEND_STORE_URI"], env["MLP_DAGSTER_POSTGRES_URL"]) == (
        pg + "mlp", pg + "mlflow", pg + "dagster")
    assert config.JupyterHub.db_url == pg + "jupyterhub"
    monkeypatch.delenv("MLP_HUB_DB_URL")
    config = PyFileConfigLoader(hub.CONFIG.name, str(hub.CONFIG.parent)).load_config()
    assert config.JupyterHub.db_url == f"sqlite:///{tmp_path / 'home' / 'hub' / 'jupyterhub.sqlite'}"
