"""Server-extension fixtures (pytest-jupyter): a real Jupyter server with jupyter_mlp_server loaded.

- `jp_server_config`: loads the extension, turns unauthenticated access off (the default we ship with).
- `mlp_home` (from the top conftest) is set before the server starts, so the extension starts its own backend
  there and stops it at teardown.
"""

from __future__ import annotations

import pytest



@pytest.fixture
def jp_server_config(mlp_home, monkeypatch):
    # These tests run no pipeline: the backend the extension starts leaves Dagster for its first use rather than
    # starting its webserver beside every test's server (tests/pipelines/test_stage_start.py covers the default).
    monkeypatch.setenv("MLP_DAGSTER_START_WITH_PLATFORM", "false")
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mlp_server": True},
            "allow_unauthenticated_access": False,
        }
    }


@pytest.fixture
def jp_fetch(jp_fetch):
    """pytest-jupyter's jp_fetch with room for the backend's start.

    Each test's server starts its own backend and the first request waits for it (the extension allows 60 s).
    jp_fetch's default of 20 s was overrun on a loaded CI machine: the request timed out with no answer at all.
    """
    def fetch(*parts, **kwargs):
        kwargs.setdefault("request_timeout", 90)
        return jp_fetch(*parts, **kwargs)
    return fetch
