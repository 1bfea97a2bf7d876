"""`mlp hub`: JupyterHub for a team, with the platform backend as the hub service `mlp` (docs/deployment.md)."""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from ..settings import load_settings


def cmd_hub(args: argparse.Namespace) -> int:
    from ..hub import CONFIG, hub_dir, proxy_command, venv_bin

    settings = load_settings()
    if args.write_config:
        target = Path(args.write_config)
        shutil.copyfile(CONFIG, target)
        print(f"wrote {target}: run `jupyterhub -f {target}` (it reads jupyter-mlp's settings)")
        return 0
    proxy_command(settings)  # fail here, with the fix, rather than inside JupyterHub's start-up
    state = hub_dir(settings)
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chdir(state)  # JupyterHub writes anything not configured into its working directory
    hub = venv_bin("jupyterhub")
    print(f"JupyterHub at http://{settings.hub_ip}:{settings.hub_port}/ (state in {state})", flush=True)
    os.execv(hub, [hub, "-f", str(CONFIG), *args.jupyterhub_args])
    return 0  # not reached


def add_hub(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hub", help="start JupyterHub with the platform backend as its service /services/mlp")
    p.add_argument("--write-config", metavar="PATH", help="copy the shipped jupyterhub_config.py to PATH and exit")
    p.add_argument("jupyterhub_args", nargs=argparse.REMAINDER, help="passed to jupyterhub (after `--`)")
    p.set_defaults(func=cmd_hub)


# Top-level commands this module adds, by name; main.py places them in `mlp --help`'s order.
COMMANDS = {"hub": add_hub}
