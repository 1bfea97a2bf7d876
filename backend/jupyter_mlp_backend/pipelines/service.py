"""The pipelines domain's public names for other domains (issue 12 item 1).

Other domains (monitoring's retraining and monitors, the registry's lineage) call pipelines only through these
names, never through the route modules (`routes`, `runs`, `schedules`) or private helpers. The bodies are in
run_service.py (launching), run_status.py (a run's state and end) and schedule_service.py (Dagster's code
location and daemon).
"""

from __future__ import annotations

from .containers import base_image_status
from .pipeline_service import preflight
from .pipeline_service import promote as promote_notebook
from .run_service import get_run
from .run_service import launch as launch_run
from .run_service import start_run
from .run_status import TERMINAL
from .run_status import describe as describe_run
from .schedule_service import sync_dagster

__all__ = ["TERMINAL", "base_image_status", "describe_run", "get_run", "launch_run", "preflight", "promote_notebook",
           "start_run", "sync_dagster"]
