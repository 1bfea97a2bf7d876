"""Server-extension fixtures (pytest-jupyter): a real Jupyter server with jupyter_mlp_server loaded.

- `jp_server_config`: loads the extension, turns unauthenticated access off (the default we ship with).
- `mlp_home` (from the top conftest) is set before the server starts, so the extension starts its own backend
  there and stops it at teardown.
"""

from __future__ import annotations

import pytest



@pytest.fixture
def jp_server_config(mlp_home):
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mlp_server": True},
            "allow_unauthenticated_access": False,
        }
    }
