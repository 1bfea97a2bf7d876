"""jupyter-mlp backend: the FastAPI service that decides access, keeps the audit log and runs the platform.

`create_app` is imported on first use, so that processes which only need a submodule (a serving worker, a gate
evaluation) do not pay for FastAPI and SQLAlchemy.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
