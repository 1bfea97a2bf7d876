"""The Jupyter server extension of jupyter-mlp: `/mlp/api/*` forwards to the backend with the user's identity."""

from .app import MLPServerApp

__all__ = ["MLPServerApp"]


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    return [{"module": "jupyter_mlp_server", "app": MLPServerApp}]
