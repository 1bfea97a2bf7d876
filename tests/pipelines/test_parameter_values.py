"""Parameter defaults come with their value as JSON beside their text (issue 12 item 5): the run form reads the
value the backend parsed with `ast.literal_eval` instead of parsing Python literals in the browser."""

from __future__ import annotations

import pytest

from jupyter_mlp_backend.pipelines.parameters import default_value, parameters_of

PARAMS = ("alpha = 0.5\nepochs: int = 3\ntarget = 'churn'\nverbose = True\nlayers = [1, 2]\nopts = {'lr': 0.1, 2: 'x'}\n"
          "seed = None\nstart = date(2020, 1, 1)\npair = (1, 2)\nnote = '''a\\nb'''\nbig = 1_000\nodd = {'a': {1, 2}}")


def test_each_default_has_its_json_value():
    got = {p.name: (p.type, default_value(p.type, p.default)) for p in parameters_of(PARAMS)}
    assert got == {
        "alpha": ("float", 0.5), "epochs": ("int", 3), "target": ("str", "churn"), "verbose": ("bool", True),
        "layers": ("list", [1, 2]), "opts": ("dict", {"lr": 0.1, "2": "x"}), "seed": ("none", None),
        "start": ("other", None), "pair": ("other", None), "note": ("str", "a\nb"), "big": ("int", 1000),
        "odd": ("dict", None),  # a set inside: not JSON, the form shows the text
    }


@pytest.mark.parametrize("text", ["float('nan')", "1e999", "b'x'", "[1, (2, 3)]", "{True: 1}"])
def test_what_json_cannot_carry_has_no_value(text):
    assert default_value("list", text) is None


def test_the_api_sends_the_value_beside_the_text(api, acme, make_nb):
    sam = api.as_user("sam")
    nb = make_nb(("alpha = 0.5\nseed = None\nstart = date(2020, 1, 1)\nopts = {'lr': 0.1}", ["parameters"]),
                 ("from datetime import date\nx = alpha", ["stage:train"]))
    want = [{"name": "alpha", "type": "float", "default": "0.5", "default_value": 0.5},
            {"name": "seed", "type": "none", "default": "None", "default_value": None},
            {"name": "start", "type": "other", "default": "date(2020, 1, 1)", "default_value": None},
            {"name": "opts", "type": "dict", "default": "{'lr': 0.1}", "default_value": {"lr": 0.1}}]
    pre = sam.post("/projects/acme/pipelines/preflight", json={"notebook": nb, "path": "acme/p.ipynb"})
    assert pre.status_code == 200, pre.text
    assert pre.json()["parameters"] == want
    made = sam.post("/projects/acme/pipelines", json={"notebook": nb, "path": "acme/p.ipynb", "name": "params"})
    assert made.status_code == 201, made.text
    assert made.json()["parameters"] == want
    got = sam.get("/projects/acme/pipelines/params")
    assert got.status_code == 200 and got.json()["versions"][0]["parameters"] == want
