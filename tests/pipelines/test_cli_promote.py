"""`mlp promote` goes through the same backend call as the panel: project from the marker file, problems listed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

MLP = Path(sys.executable).parent / "mlp"


def _run(env, *args):
    return subprocess.run([str(MLP), *args], env=env, capture_output=True, text=True, timeout=120)


def test_promote_check_and_refusal(mlp_home, tmp_path, make_nb):
    env = {**os.environ, "MLP_HOME": str(mlp_home)}
    try:
        assert _run(env, "projects", "create", "acme").returncode == 0
        folder = tmp_path / "acme"
        folder.mkdir()
        (folder / "mlp-project.toml").write_text('project = "acme"\n')
        nb = folder / "train.ipynb"
        nb.write_text(json.dumps(make_nb(("a = 1", ["stage:one"]), ("b = a + 1", ["stage:two"]))))

        check = _run(env, "promote", str(nb), "--check")
        assert check.returncode == 0 and "Stages: one, two" in check.stdout
        first = _run(env, "promote", str(nb))
        assert first.returncode == 0 and "(new version)" in first.stdout, first.stderr
        assert "stage two: cells [2], in ['a'], out [] <- one" in first.stdout
        again = _run(env, "promote", str(nb))
        assert "unchanged" in again.stdout

        nb.write_text(json.dumps(make_nb(("b = a + 1", ["stage:two"]), ("%run helpers.py", ["stage:three"]))))
        bad = _run(env, "promote", str(nb))
        assert bad.returncode == 1
        assert "cell 1" in bad.stderr and "'a' is used but never defined" in bad.stderr
        assert "cell 2" in bad.stderr and "needs a file beside the notebook" in bad.stderr

        loose = tmp_path / "loose.ipynb"
        loose.write_text(nb.read_text())
        nowhere = _run(env, "promote", str(loose))
        assert nowhere.returncode == 2 and "in no project" in nowhere.stderr
        garbage = folder / "broken.ipynb"
        garbage.write_text("{not json")
        assert "cannot read" in _run(env, "promote", str(garbage)).stderr
    finally:
        _run(env, "down")
