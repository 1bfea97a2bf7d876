"""The CLI's layout: one module per domain under jupyter_mlp/cli/, each adding its own commands, and the same
commands and verbs as when it was one file (the list below was saved from that file's `mlp --help` and every
command's `--help`)."""

from __future__ import annotations

import argparse
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

CLI = Path(__file__).parents[2] / "jupyter_mlp" / "cli"
MLP = Path(sys.executable).parent / "mlp"

# `mlp --help`'s commands and each command's verbs, saved from jupyter_mlp/cli.py before the split (sorted).
BEFORE = sorted("""
up; down; projects; projects list; projects create; members; members list; members add; members remove; runs;
runs list; runs show; runs compare; runs replay; promote; pipelines; pipelines list; pipelines show; pipelines run;
pipelines status; pipelines cancel; pipelines log; pipelines schedule; pipelines schedules; pipelines unschedule;
models; models list; models show; models register; models verify; models promote; models decisions;
models approve; models reject; deploy; deployments; deployments list; deployments show; deployments switch;
deployments rollback; deployments scale; deployments delete; deployments logs; batch; keys; keys create;
keys list; keys revoke; monitor; monitor set; monitor show; monitor check; monitor windows; monitor retrainings;
alerts; alerts list; webhooks; webhooks list; webhooks add; webhooks delete; audit; audit verify
""".replace("\n", " ").strip(" ;").split("; ") + [
    "ask",  # added since the split (issue 13: the assistant)
    "models card",  # added since the split (issue 13 item 7: model cards)
    "suggest",  # added since the split (issue 14: the recommender)
    "hub",  # added since the split (issue 15: JupyterHub with the backend as its service)
    "ship",  # added since the split (issue 16: the Ship flow)
    "pipelines executor",  # added since the split (issue 16 item 2: where stages run, the base image's state)
    "audit export", "audit public-key",  # added since the split (issue 20 item 4: signed audit checkpoints)
    "serving", "serving tls",  # added since the split (issue 20 item 2: client certificates at the gateway)
    "datasets", "datasets list", "datasets policy",  # issue 20 item 1: column policies on datasets
    "security", "security encryption", "security rotate-master-key", "security shred",  # issue 20 item 3
])

DOMAINS = ("updown", "hub", "projects", "runs", "datasets", "pipelines", "ship", "models", "serving", "monitoring", "assistant",
           "recommender")


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next((a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)), {})


def test_no_module_over_500_lines():
    sizes = {p.name: len(p.read_text().splitlines()) for p in CLI.glob("*.py")}
    assert {"__init__.py", "main.py", "common.py", *(f"{d}.py" for d in DOMAINS)} <= set(sizes)
    assert {name: n for name, n in sizes.items() if n > 500} == {}


@pytest.mark.parametrize("domain", DOMAINS)
def test_each_domain_module_registers_its_commands(domain):
    module = importlib.import_module(f"jupyter_mlp.cli.{domain}")
    assert module.COMMANDS
    parser = argparse.ArgumentParser(prog="mlp")
    sub = parser.add_subparsers(dest="command")
    for add in module.COMMANDS.values():
        add(sub)
    commands = _subcommands(parser)
    assert sorted(commands) == sorted(module.COMMANDS)
    for name, command in commands.items():
        handlers = [v.get_default("func") for v in _subcommands(command).values()] or [command.get_default("func")]
        assert all(h.__module__ == module.__name__ for h in handlers), (name, handlers)


def test_commands_and_verbs_unchanged():
    from jupyter_mlp.cli import build_parser

    found = []
    for name, command in _subcommands(build_parser()).items():
        found += [name, *(f"{name} {verb}" for verb in _subcommands(command))]
    assert sorted(found) == BEFORE


def test_mlp_help_lists_the_same_commands(tmp_path):
    env = {**os.environ, "MLP_HOME": str(tmp_path), "COLUMNS": "100"}
    for argv in ([str(MLP)], [sys.executable, "-m", "jupyter_mlp.cli"]):
        p = subprocess.run([*argv, "--help"], capture_output=True, text=True, env=env, timeout=60)
        assert p.returncode == 0, p.stderr
        listed = re.findall(r"^    ([a-z][a-z-]*)(?:\s|$)", p.stdout, re.M)
        assert sorted(listed) == [c for c in BEFORE if " " not in c]


def test_import_is_light():
    code = "import sys, jupyter_mlp.cli; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert {"mlflow", "dagster", "pandas"} & set(p.stdout.split()) == set()
