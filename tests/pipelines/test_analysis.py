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
    assert ("pip_install", 5) in got and ("magic", 5) not in got  # %matplotlib runs in a stage
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


# Issue 18 item 2: scoping. Each snippet is valid Python that runs as one cell and hands its last names to the
# next stage; preflight must find no problem in any of them.
VALID_SCOPES = {
    "lambda_reads_import_of_its_cell": "import re\nclean = lambda s: re.sub(r'\\s+', ' ', s)\nout = clean('a  b')",
    "lambda_in_call": "import math\nout = sorted([3, 1], key=lambda v: math.fabs(v))",
    "function_reads_name_defined_later_in_cell": "def f():\n    return helper() + 1\ndef helper():\n    return 1\n"
                                                 "out = f()",
    "method_reads_module_name_defined_after_class": "class A:\n    def m(self):\n        return K * 2\nK = 3\n"
                                                    "out = A().m()",
    "class_body_reads_its_own_names": "class Cfg:\n    base = 2\n    twice = base * 2\n    items = [base]\n"
                                      "out = Cfg.twice",
    "decorator_defined_in_cell": "import functools\ndef deco(fn):\n    @functools.wraps(fn)\n"
                                 "    def inner(*a):\n        return fn(*a)\n    return inner\n"
                                 "@deco\ndef g(x):\n    return x\nout = g(1)",
    "class_decorator_and_method_decorator": "import dataclasses\n@dataclasses.dataclass\nclass P:\n    x: int = 1\n"
                                            "    @property\n    def y(self):\n        return self.x\nout = P().y",
    "global_in_function_defines_module_name": "def setup():\n    global model\n    model = 41\nsetup()\nout = model + 1",
    "nonlocal_counter": "def counter():\n    n = 0\n    def inc():\n        nonlocal n\n        n += 1\n"
                        "        return n\n    return inc\nout = counter()()",
    "walrus_in_comprehension_binds_outside": "data = [1, 2, 3]\nbig = [y for x in data if (y := x * 2) > 2]\n"
                                             "out = y",
    "walrus_at_module_level": "if (n := 3) > 2:\n    out = n",
    "nested_comprehension": "m = [[1, 2], [3]]\nout = [v for row in m for v in row if v]",
    "dict_and_set_comprehension": "keys = 'ab'\nout = {k: {c for c in k} for k in keys}",
    "match_capture_names": "cmd = {'op': 'add', 'args': [1, 2]}\nmatch cmd:\n"
                           "    case {'op': 'add', 'args': [a, *rest]}:\n        out = a + len(rest)\n"
                           "    case {'op': op, **others}:\n        out = op\n    case [x, y] | (x, y):\n"
                           "        out = x\n    case str() as s:\n        out = s\n    case _:\n        out = None",
    "try_except_finally": "try:\n    import tomllib as toml\nexcept ImportError as err:\n    toml = None\n"
                          "    print(err)\nelse:\n    v = 1\nfinally:\n    w = 2\nout = toml",
    "del_then_rebind": "tmp = 1\ndel tmp\ntmp = 2\nout = tmp",
    "lambda_default_and_closure": "base = 10\nadd = [lambda v, b=base: v + b for _ in range(2)]\nout = add[0](1)",
    "generator_reading_cell_name": "limit = 3\nout = sum(i for i in range(limit))",
}


import pytest  # noqa: E402


@pytest.mark.parametrize("name", sorted(VALID_SCOPES))
def test_valid_scoping_has_no_false_positive(make_nb, name):
    a = analyse(make_nb((VALID_SCOPES[name], ["stage:make"]), ("final = out", ["stage:use"]), ran=True))
    assert a.problems == [], (name, a.problems)
    assert a.stages[1].inputs == ["out"]


def test_del_removes_a_name_a_later_stage_needs(make_nb):
    a = analyse(make_nb(("big = list(range(10))\nsize = len(big)\ndel big", ["stage:a"]), ("x = big", ["stage:b"])))
    assert codes(a) == [("undefined", 2)]


def test_a_name_only_a_function_binds_locally_is_not_a_module_name(make_nb):
    a = analyse(make_nb(("def f():\n    local_only = 1\n    return local_only", ["stage:a"]),
                        ("x = local_only", ["stage:b"])))
    assert codes(a) == [("undefined", 2)]


def test_class_scope_is_not_visible_in_methods(make_nb):
    # A method cannot read its class body's names unqualified: the stage would fail with NameError.
    a = analyse(make_nb(("class A:\n    k = 1\n    def m(self):\n        return k\nout = A().m()", ["stage:a"])))
    assert codes(a) == [("undefined", 1)]


# Issue 18 item 3: what fails only when a stage runs is said before promotion, with the cell and what to do.
def test_imports_the_pipeline_environment_lacks(make_nb):
    a = analyse(make_nb(
        ("import pandas as pd\nimport numpy.linalg", ["imports"]),
        ("import no_such_package_mlp_test as nsp\nfrom other_missing_mlp.sub import thing", ["stage:a"]),
        ("try:\n    import optional_missing_mlp\nexcept ImportError:\n    optional_missing_mlp = None", []),
        ("def later():\n    import lazy_missing_mlp\n    return lazy_missing_mlp", []),
    ))
    missing = [p for p in a.problems if p.code == "missing_package"]
    assert [(p.cell, p.message.split("'")[1]) for p in missing] == [
        (2, "no_such_package_mlp_test"), (2, "other_missing_mlp"), (4, "lazy_missing_mlp")]
    assert "pipeline environment does not have" in missing[0].message and "ModuleNotFoundError" in missing[0].message
    assert not a.ok


def test_pip_cells_are_reported_for_what_they_are_and_magics_run(make_nb):
    a = analyse(make_nb(
        ("%matplotlib inline\n%load_ext autoreload\n%autoreload 2\nimport pandas as pd", ["imports"]),
        ("!pip install -q no-such-dist-mlp==1.0 pandas\n%pip install pandas>=2\nfiles = !ls\nx = len(files)",
         ["stage:a"]),
        ("%%time\ny = x + 1", []),
        ("%%bash\necho hi", []),
        ("if y:\n    !echo ok\nz = y", []),
    ))
    assert [(p.severity, p.code, p.cell) for p in a.problems] == [
        ("error", "pip_install", 2), ("warning", "pip_install", 2)]
    assert "lacks no-such-dist-mlp" in a.problems[0].message and "without network" in a.problems[0].message
    assert "already has them" in a.problems[1].message


def test_imports_in_the_parameters_cell_get_a_message_that_says_so(make_nb):
    a = analyse(make_nb(
        ("import papermill as pm\nimport json\nalpha = 0.5", ["parameters"]),
        *[(f"v{i} = pm.__name__ + json.dumps(alpha)", ["stage:s"] if i == 0 else []) for i in range(11)],
    ))
    assert a.ok, a.problems
    assert [(p.severity, p.code, p.cell) for p in a.problems] == [("warning", "parameters_import", 1)]
    assert "parameters cell imports json, pm" in a.problems[0].message
    assert [(p.name, p.default) for p in a.parameters] == [("alpha", "0.5")]


def test_the_same_message_is_said_once_for_all_its_cells(make_nb):
    a = analyse(make_nb(*[(f"v{i} = pm.x", ["stage:s"] if i == 0 else []) for i in range(11)]))
    assert len(a.problems) == 1
    assert a.problems[0].message.startswith("cells 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 11: 'pm' is used but never")


def test_downloads_need_a_network_stages_do_not_have(make_nb):
    nb = make_nb(
        ("import pandas as pd\nimport urllib.request\nimport requests", ["imports"]),
        ("URL = 'https://example.org/data/iris.csv'\ndf = pd.read_csv(URL)", ["stage:a"]),
        ("urllib.request.urlretrieve('https://example.org/x.zip', 'x.zip')", []),
        ("r = requests.get(api_url)", []),
        ("import mlflow\nmlflow.set_tracking_uri('http://localhost:5000')\nprint('https://example.org')", []),
        ("!wget -q https://example.org/y.csv", []),
        ("api_url = 'local'", ["parameters"]),
    )
    a = analyse(nb)
    got = [(p.code, p.cell) for p in a.problems]
    assert got == [("download", 2), ("download", 3), ("download", 4), ("download", 6)], a.problems
    assert "'https://example.org/data/iris.csv' (read_csv)" in a.problems[0].message
    assert "datasets.register" in a.problems[0].message and "network" in a.problems[0].message
    nb["metadata"]["mlp"] = {"container": {"network": True}}
    assert analyse(nb).problems == []


def test_relative_files_beside_the_notebook(make_nb):
    a = analyse(make_nb(
        ("import pandas as pd\nfrom pathlib import Path\nimport json", ["imports"]),
        ("df = pd.read_csv('data/test.csv')\ncfg = json.load(open('config.json'))", ["stage:a"]),
        ("df.to_csv('clean.csv')\nopen('notes.txt', 'w').write('x')\nabs_df = pd.read_csv('/srv/data/abs.csv')", []),
        ("again = pd.read_csv('clean.csv')\ntext = Path('README.md').read_text()\nn = open('notes.txt').read()",
         ["stage:b"]),
    ))
    got = [(p.code, p.cell, p.message.split("'")[1]) for p in a.problems]
    assert got == [("relative_file", 2, "data/test.csv"), ("relative_file", 2, "config.json"),
                   ("relative_file", 4, "README.md")], a.problems
    assert "FileNotFoundError" in a.problems[0].message
    assert "datasets.register('test', 'data/test.csv')" in a.problems[0].message


def test_kale_tags_mean_what_ours_do(make_nb):
    a = analyse(make_nb(
        ("import math", ["imports"]),
        ("rate = 0.1", ["pipeline-parameters"]),
        ("raw = [1.0, 2.0]", ["block:load_data"]),
        ("raw.append(3.0)", ["block:"]),
        ("total = sum(raw) * rate", ["step:train", "prev:load_data", "limit:nvidia.com/gpu:1"]),
        ("more = math.sqrt(total)", ["step:train"]),
        ("print(total)", ["pipeline-metrics"]),
    ))
    assert a.ok, a.problems
    assert [(s.name, s.cells, s.depends_on) for s in a.stages] == [
        ("load_data", [3, 4], []), ("train", [5, 6], ["load_data"]), ("metrics", [7], ["train"])]
    assert [p.name for p in a.parameters] == ["rate"]
    assert [(p.code, p.cell) for p in a.problems] == [("kale_tag", 5)]
