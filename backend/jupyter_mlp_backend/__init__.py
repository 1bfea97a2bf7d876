"""jupyter-mlp backend: the FastAPI service that decides access, keeps the audit log and runs the platform."""

from .app import create_app

__all__ = ["create_app"]
