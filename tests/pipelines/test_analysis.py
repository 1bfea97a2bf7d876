"""Static analysis of a notebook into stages: tags, data flow, and what preflight refuses."""

from __future__ import annotations

from jupyter_mlp_backend.pipelines.analysis import analyse, topological


def codes(a):
    return [(p.code, p.cell) for p in a.problems]


def test_untagged_notebook_is_one_stage(make_nb):
    a = analyse(make_nb("import math", "x = math.sqrt(4)", "print(x)"))
    assert [s.name for s in a.stages] == ["main"] and a.stages[0].cells == [1, 2, 3]
    assert a.ok and a.problems == []


def test_tags_split_stages_and_data_flow_orders_them(make_nb):
    a = analyse(make_nb(
        ("import pandas as pd", ["imports"]),
        ("def double(v):\n    return v * factor", ["functions"]),
        ("factor = 2\nrows: int = 10", ["parameters"]),
        ("raw = pd.DataFrame({'a': range(rows)})", ["stage:load"]),
        ("clean = raw.dropna()", []),
        ("model = double(clean.a.sum())", ["stage:train"]),
        ("report = f'{model}'", ["stage:report"]),
        ("print('debug', raw)", ["skip"]),
        ("extra = clean.shape", ["stage:describe"]),
    ))
    assert a.ok, a.problems
    stages = {s.name: s for s in a.stages}
    assert stages["load"].cells == [4, 5] and stages["load"].outputs == ["clean"]
    assert stages["train"].inputs == ["clean"] and stages["train"].depends_on == ["load"]
    assert stages["report"].inputs == ["model"] and stages["report"].depends_on == ["train"]
    assert stages["describe"].depends_on == ["load"]
    assert [(p.name, p.type, p.default) for p in a.parameters] == [("factor", "int", "2"), ("rows", "int", "10")]
    assert topological(a.stages) == ["load", "train", "report", "describe"]


def test_preflight_names_each_problem_with_its_cell(make_nb):
    a = analyse(make_nb(
        ("import os", ["imports"]),
        ("x = 1\nf = lambda v: v\nfh = open('/tmp/x')", ["stage:a"]),
        ("y = undefined_name + x", ["stage:b"]),
        ("print(f(1), fh)", ["stage:c"]),
        ("%matplotlib inline\n!pip install foo\nz = 2", ["stage:d"]),
        ("from math import *", ["stage:e"]),
        ("w = 1", ["stage-typo"]),
    ))
    got = codes(a)
    assert ("undefined", 3) in got
    assert [c for c in got if c[0] == "unserialisable"] == [("unserialisable", 4), ("unserialisable", 4)]
    assert got.count(("magic", 5)) == 2
    assert ("star_import", 6) in got
    assert ("unknown_tag", 7) in got
    assert not a.ok


def test_hidden_state_from_a_deleted_cell(make_nb):
    a = analyse(make_nb("y = model.predict(1)", ran=True))
    assert codes(a) == [("hidden_state", 1)]
    assert "came from a cell that is gone" in a.problems[0].message


def test_explicit_dependency_cycle_and_unknown_stage(make_nb):
    a = analyse(make_nb(
        ("a = 1", ["stage:one", "depends:two"]),
        ("b = a", ["stage:two"]),
        ("c = 1", ["stage:three", "depends:nowhere"]),
    ))
    msgs = " ".join(p.message for p in a.problems)
    assert "cycle" in msgs and "one" in msgs and "two" in msgs
    assert "'nowhere', which is not a stage" in msgs


def test_names_bound_inside_functions_and_comprehensions_are_local(make_nb):
    a = analyse(make_nb(
        ("def f(a, *args, k=1, **kw):\n    t = a + k\n    return [t * i for i in args]", ["functions"]),
        ("vals = [f(i, i) for i in range(3)]\nsq = {k: v for k, v in zip('ab', vals)}\n"
         "with_ctx = sum(x for x in range(3))\ntry:\n    1/0\nexcept ZeroDivisionError as err:\n    e = err",
         ["stage:s"]),
    ))
    assert a.ok, a.problems


def test_a_function_reads_a_module_imported_earlier_in_its_own_cell(make_nb):
    a = analyse(make_nb(
        ("import pathlib\ndef size(p):\n    return pathlib.Path(p).stat().st_size\nn = size('.')", ["stage:s"]),
        ("def late():\n    return undefined_anywhere", ["stage:t"]),
    ))
    assert [p.message for p in a.problems if p.severity == "error"] == [
        "cell 2: 'undefined_anywhere' is used but never defined before this stage ('t')"]


def test_bad_stage_names_and_syntax_errors(make_nb):
    a = analyse(make_nb(("x = (", ["stage:Bad Name"])))
    got = [c for c, _ in codes(a)]
    assert "bad_stage_name" in got and "syntax" in got
