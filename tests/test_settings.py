"""Settings: one typed object, `MLP_` environment, optional file, and documentation that matches it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from jupyter_mlp.settings import Settings, load_settings

DOC = Path(__file__).parents[1] / "docs" / "configuration.md"


def test_every_setting_is_documented_with_its_default():
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(\w+)` \|.*$", DOC.read_text(), re.M)}
    assert set(Settings.model_fields) <= set(rows), f"undocumented: {set(Settings.model_fields) - set(rows)}"
    for name, field in Settings.model_fields.items():
        row = rows[name]
        assert f"`MLP_{name.upper()}`" in row
        if field.default_factory is None:
            shown = '`""`' if field.default == "" else f"`{field.default}`"
            assert shown in row, f"{name}: default {field.default!r} not in {row}"


def test_environment_and_file_and_priority(mlp_home, monkeypatch, tmp_path):
    assert load_settings().home == mlp_home.resolve()
    assert load_settings().effective_database_url == f"sqlite:///{mlp_home.resolve() / 'mlp.db'}"
    mlp_home.mkdir()
    (mlp_home / "settings.toml").write_text('lab_port = 9000\nadmin_users = ["ana"]\nlog_level = "DEBUG"\n')
    s = load_settings()
    assert (s.lab_port, s.admin_users, s.log_level) == (9000, ["ana"], "DEBUG")
    monkeypatch.setenv("MLP_LAB_PORT", "9100")
    assert load_settings().lab_port == 9100  # environment beats the file
    assert load_settings(lab_port=9200).lab_port == 9200  # arguments beat both
    other = tmp_path / "other.toml"
    other.write_text("lab_port = 9300\n")
    monkeypatch.delenv("MLP_LAB_PORT")
    monkeypatch.setenv("MLP_SETTINGS_FILE", str(other))
    assert load_settings().lab_port == 9300


def test_bad_settings_are_named(mlp_home, monkeypatch):
    monkeypatch.setenv("MLP_LAB_PORT", "not-a-port")
    with pytest.raises(ValidationError, match="lab_port"):
        load_settings()
    monkeypatch.delenv("MLP_LAB_PORT")
    mlp_home.mkdir()
    (mlp_home / "settings.toml").write_text('lab_prot = 9000\n')
    with pytest.raises(ValidationError, match="lab_prot"):
        load_settings()
