"""The pipelines domain's public names for other domains (issue 12 item 1).

Other domains (monitoring's retraining and monitors) call pipelines only through these names, never through
`runs`/`schedules` or their private helpers. For now they are re-exported from where they are defined (the run and
schedule modules, which also hold their HTTP routes); the bodies are unchanged.
"""

from __future__ import annotations

from .runs import TERMINAL
from .runs import _describe as describe_run
from .runs import _launch as launch_run
from .schedules import _sync_dagster as sync_dagster

__all__ = ["TERMINAL", "describe_run", "launch_run", "sync_dagster"]
