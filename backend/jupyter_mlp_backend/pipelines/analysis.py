"""From a notebook to stages: cell tags split it, static analysis finds what flows between stages.

Tags (cell metadata `tags`):
- `stage:<name>` starts a stage; cells up to the next `stage:` tag belong to it (untagged cells before the first
  one belong to the first stage). A notebook without stage tags is one stage, `main`.
- `imports`, `functions`: shared, prepended to every stage. `parameters`: papermill's parameters cell, shared.
- `skip`: left out. `depends:<stage>`: an explicit dependency of the cell's stage.
- Display tags other tools use (`hide-input`, `remove-cell`, …) are allowed; any other tag is an error, so a typo
  like `stage-train` never silently changes the pipeline.

Variables a stage uses that an earlier stage defines are its inputs; they pass between stages as artifacts.
Preflight reports, with cell numbers (1-based, as the notebook shows them), what would break.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

SHARED_TAGS = ("imports", "functions", "parameters")
DISPLAY_TAGS = {"hide-input", "hide-output", "hide-cell", "remove-input", "remove-output", "remove-cell",
                "raises-exception", "injected-parameters"}
STAGE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
BUILTINS = set(dir(builtins)) | {"__name__", "__file__", "display", "get_ipython", "In", "Out", "exit", "quit"}
# Constructors whose values cannot be written to disk and read back in another process.
UNSERIALISABLE_CALLS = {"open", "connect", "Lock", "RLock", "Thread", "socket", "Session", "create_engine",
                        "Popen", "Pool", "Client"}


@dataclass
class Problem:
    severity: str  # "error" | "warning"
    cell: int | None
    code: str
    message: str


@dataclass
class Parameter:
    name: str
    type: str
    default: str


@dataclass
class Stage:
    name: str
    cells: list[int] = field(default_factory=list)  # 1-based cell numbers of its own cells
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    explicit: list[str] = field(default_factory=list)


@dataclass
class Analysis:
    stages: list[Stage]
    parameters: list[Parameter]
    problems: list[Problem]
    shared_cells: list[int]
    parameters_cell: int | None

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


class _Scope(ast.NodeVisitor):
    """One nested scope (function, lambda, class body, comprehension), Python's rules: which names it reads from
    outside itself, now (class bodies, comprehensions) or later (function bodies, when called); which module names
    it binds with `global`; which names a comprehension's walrus binds in the scope around it."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.reads: set[str] = set()
        self.binds: set[str] = set()
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()
        self.child_now: set[str] = set()
        self.child_later: set[str] = set()
        self.global_binds: set[str] = set()
        self.walrus_up: set[str] = set()

    # -- what the scope binds and reads
    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.reads.add(node.id)
        else:
            self.binds.add(node.id)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for a in node.names:
            if a.name != "*":
                self.binds.add((a.asname or a.name).split(".")[0])

    visit_ImportFrom = visit_Import  # noqa: N815

    def visit_Global(self, node: ast.Global) -> None:
        self.globals |= set(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.nonlocals |= set(node.names)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.binds.add(node.name)
        self.generic_visit(node)

    def _capture(self, node: ast.AST) -> None:
        name = getattr(node, "name", None) or getattr(node, "rest", None)
        if name:
            self.binds.add(name)
        self.generic_visit(node)

    visit_MatchAs = visit_MatchStar = visit_MatchMapping = _capture  # noqa: N815

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        (self.walrus_up if self.kind == "comprehension" else self.binds).add(node.target.id)

    # -- nested scopes
    def _child(self, child: _Scope) -> None:
        self.child_now |= child.now
        self.child_later |= child.later
        self.global_binds |= child.global_binds
        (self.walrus_up if self.kind == "comprehension" else self.binds).update(child.walrus_up)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        _visit_signature(self, node)
        if not isinstance(node, ast.Lambda):
            self.binds.add(node.name)
        self._child(_function_scope(node))

    visit_AsyncFunctionDef = visit_Lambda = visit_FunctionDef  # noqa: N815

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for n in [*node.decorator_list, *node.bases, *node.keywords]:
            self.visit(n)
        self.binds.add(node.name)
        self._child(_class_scope(node))

    def _comprehension(self, node: ast.AST) -> None:
        self.visit(node.generators[0].iter)  # type: ignore[attr-defined]
        self._child(_comprehension_scope(node))

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension  # noqa: N815

    # -- the result
    @property
    def local(self) -> set[str]:
        return self.binds - self.globals - self.nonlocals

    @property
    def now(self) -> set[str]:
        """Names read from outside while the scope's own code runs at once (a class body, a comprehension)."""
        if self.kind == "function":
            return set()
        return (self.reads | self.child_now) - self.local - self.walrus_up

    @property
    def later(self) -> set[str]:
        """Names read from outside when a function defined in it is called."""
        if self.kind == "function":
            return (self.reads | self.child_now | self.child_later) - self.local
        if self.kind == "class":  # a method does not see its class body's names
            return set(self.child_later)
        return self.child_later - self.local


def _visit_signature(v: ast.NodeVisitor, node: ast.AST) -> None:
    """Decorators and default values run where the function is defined (annotations may be postponed: skipped)."""
    args = node.args  # type: ignore[attr-defined]
    for n in [*getattr(node, "decorator_list", []), *args.defaults, *[d for d in args.kw_defaults if d]]:
        v.visit(n)


def _function_scope(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> _Scope:
    s = _Scope("function")
    a = node.args
    s.binds |= {x.arg for x in [*a.posonlyargs, *a.args, *a.kwonlyargs, *filter(None, [a.vararg, a.kwarg])]}
    for stmt in node.body if isinstance(node.body, list) else [node.body]:
        s.visit(stmt)
    s.global_binds |= s.binds & s.globals
    return s


def _class_scope(node: ast.ClassDef) -> _Scope:
    s = _Scope("class")
    for stmt in node.body:
        s.visit(stmt)
    s.global_binds |= s.binds & s.globals
    return s


def _comprehension_scope(node: ast.AST) -> _Scope:
    s = _Scope("comprehension")
    for i, gen in enumerate(node.generators):  # type: ignore[attr-defined]
        if i:
            s.visit(gen.iter)
        s.visit(gen.target)
        for cond in gen.ifs:
            s.visit(cond)
    for part in ("elt", "key", "value"):
        if hasattr(node, part):
            s.visit(getattr(node, part))
    return s


class _Names(ast.NodeVisitor):
    """Module-level code, in order: names it defines, names it reads before defining them (`used`), names it
    deletes; nested scopes follow Python's rules (`_Scope`). Function and lambda bodies run when called, so the
    names they read count as used only if the cell does not define them anywhere (`finish()`)."""

    def __init__(self) -> None:
        self.defined: set[str] = set()
        self.used: list[str] = []
        self.later: list[str] = []
        self.deleted: set[str] = set()
        self.star = False
        self.unserialisable: dict[str, str] = {}

    def finish(self) -> _Names:
        self.used += [n for n in dict.fromkeys(self.later) if n not in self.defined and n not in self.used]
        return self

    def _define(self, name: str) -> None:
        self.defined.add(name)
        self.deleted.discard(name)

    def _bind(self, target: ast.AST) -> None:
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                self._define(node.id)

    def _read(self, names: set[str]) -> None:
        self.used += [n for n in sorted(names) if n not in self.defined]

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            self._define((a.asname or a.name).split(".")[0])
            self.unserialisable[(a.asname or a.name).split(".")[0]] = "a module"

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for a in node.names:
            if a.name == "*":
                self.star = True
            else:
                self._define(a.asname or a.name)

    def _scope(self, s: _Scope) -> None:
        self._read(s.now)
        self.later += sorted(s.later)
        for n in s.global_binds | s.walrus_up:
            self._define(n)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        _visit_signature(self, node)
        self._define(node.name)
        self._scope(_function_scope(node))

    visit_AsyncFunctionDef = visit_FunctionDef  # noqa: N815

    def visit_Lambda(self, node: ast.Lambda) -> None:
        _visit_signature(self, node)
        self._scope(_function_scope(node))

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for b in [*node.decorator_list, *node.bases, *node.keywords]:
            self.visit(b)
        self._scope(_class_scope(node))
        self._define(node.name)

    def _comprehension(self, node: ast.AST) -> None:
        self.visit(node.generators[0].iter)  # type: ignore[attr-defined]
        self._scope(_comprehension_scope(node))

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension  # noqa: N815

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for t in node.targets:
            for sub in ast.walk(t):  # subscripts and attributes on the left read their base
                if isinstance(sub, (ast.Subscript, ast.Attribute)):
                    self.visit(sub.value)
                    if isinstance(sub, ast.Subscript):
                        self.visit(sub.slice)
            self._bind(t)
            self._note_value(t, node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:  # `x: int` alone binds nothing
            self.visit(node.value)
            self._note_value(node.target, node.value)
            self._bind(node.target)
        if not isinstance(node.target, ast.Name):
            self.visit(node.target.value)  # type: ignore[attr-defined]

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self._read({node.target.id})
        else:
            self.visit(node.target.value)  # type: ignore[attr-defined]
        self.visit(node.value)
        self._bind(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._bind(node.target)

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        self._bind(node.target)
        for stmt in [*node.body, *node.orelse]:
            self.visit(stmt)

    visit_AsyncFor = visit_For  # noqa: N815

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self._bind(item.optional_vars)
                self.unserialisable[getattr(item.optional_vars, "id", "")] = "a context-managed resource"
        for stmt in node.body:
            self.visit(stmt)

    visit_AsyncWith = visit_With  # noqa: N815

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        had = node.name in self.defined if node.name else True
        if node.name:
            self._define(node.name)
        for stmt in node.body:
            self.visit(stmt)
        if not had:  # Python deletes the `as` name when the handler ends
            self.defined.discard(node.name)  # type: ignore[arg-type]

    def _capture(self, node: ast.AST) -> None:
        self.generic_visit(node)
        name = getattr(node, "name", None) or getattr(node, "rest", None)
        if name:
            self._define(name)

    visit_MatchAs = visit_MatchStar = visit_MatchMapping = _capture  # noqa: N815

    def visit_Global(self, node: ast.Global) -> None:  # at module level, `global` changes nothing
        return

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._read({node.id})
        elif isinstance(node.ctx, ast.Store):
            self._define(node.id)
        else:  # `del x` needs x, and x is gone afterwards
            self._read({node.id})
            self.defined.discard(node.id)
            self.deleted.add(node.id)

    def _note_value(self, target: ast.AST, value: ast.AST) -> None:
        if not isinstance(target, ast.Name):
            return
        why = None
        if isinstance(value, ast.Lambda):
            why = "a lambda"
        elif isinstance(value, ast.GeneratorExp):
            why = "a generator"
        elif isinstance(value, ast.Call):
            fn = value.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if name in UNSERIALISABLE_CALLS:
                why = f"the result of {name}() (a live resource)"
        if why:
            self.unserialisable[target.id] = why
        else:
            self.unserialisable.pop(target.id, None)


# --- What fails only when a stage runs: packages the pipeline environment lacks, downloads, relative files ---

class Environment:
    """The Python environment pipeline stages run in. Stages run papermill with the backend's own interpreter, or
    in a container built from its `package_freeze()`, so the backend's environment is the stages' environment."""

    def __init__(self) -> None:
        self._modules: dict[str, bool] = {}

    def has_module(self, name: str) -> bool:
        if name not in self._modules:
            import importlib.util

            try:
                self._modules[name] = importlib.util.find_spec(name) is not None
            except (ImportError, ValueError):
                self._modules[name] = False
        return self._modules[name]

    def has_distribution(self, name: str) -> bool:
        import importlib.metadata

        try:
            importlib.metadata.distribution(name)
            return True
        except importlib.metadata.PackageNotFoundError:
            return self.has_module(name.replace("-", "_"))


URL = re.compile(r"^(https?|ftp|s3|gs|gcs|az|abfs|hf)://", re.IGNORECASE)
RELATIVE_FILE = re.compile(r"^(?![/~\\]|[A-Za-z]:)[\w.\-/]*\w\.[A-Za-z0-9]{1,8}$")
# Calls that fetch from the internet by themselves (seaborn's and Hugging Face's load_dataset, scikit-learn's
# fetch_*, Keras' get_file, ...); any call given a URL literal counts too, unless it only shows or records it.
DOWNLOAD_CALLS = {"urlopen", "urlretrieve", "fetch_openml", "get_file", "hf_hub_download", "snapshot_download",
                  "load_dataset", "dataset_download", "download_url", "gdown"}
HTTP_MODULES = {"requests", "httpx", "urllib3"}
NOT_A_FETCH = {"print", "display", "Markdown", "HTML", "IFrame", "set_tracking_uri", "set_registry_uri", "log_param",
               "log_params", "set_tag", "set_tags", "log_text", "format", "startswith", "endswith", "replace", "join",
               "append", "urlparse", "urlsplit", "urljoin", "info", "debug", "warning", "write", "link"}
READERS = {"open", "read_csv", "read_parquet", "read_json", "read_excel", "read_table", "read_feather",
           "read_pickle", "read_hdf", "read_fwf", "read_orc", "read_xml", "read_sas", "read_stata", "read_spss",
           "load", "loadtxt", "genfromtxt", "fromfile", "imread", "load_workbook", "read_file", "load_img",
           "read_text", "read_bytes", "safe_load", "load_iris_csv", "read_sql_table"}
WRITE_MODE = re.compile(r"[wax]")
SHELL_DOWNLOADS = {"wget", "curl", "kaggle", "gdown", "aria2c", "git"}
NOT_PYTHON_CELL_MAGICS = {"bash", "sh", "script", "html", "HTML", "markdown", "latex", "javascript", "js", "svg",
                          "writefile", "file", "perl", "ruby", "sql", "system", "!"}


def _call_name(call: ast.Call) -> str:
    fn = call.func
    return fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Inside `try: … except ImportError/ModuleNotFoundError/Exception/bare:` (an optional import)."""
    while node in parents:
        up = parents[node]
        if isinstance(up, ast.Try) and node in up.body:
            for h in up.handlers:
                names = [n.id if isinstance(n, ast.Name) else getattr(n, "attr", "") for n in
                         ((h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]) if h.type else [])]
                if h.type is None or {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"} & set(names):
                    return True
        if isinstance(up, ast.If) and "TYPE_CHECKING" in ast.unparse(up.test):
            return True
        node = up
    return False


@dataclass
class _RuntimeChecks:
    """Walks every kept cell in notebook order (what a stage may need runs in that order too)."""

    env: Environment
    network: bool
    problems: list[Problem]
    strings: dict[str, str] = field(default_factory=dict)  # module-level names bound to string literals
    written: set[str] = field(default_factory=set)  # relative files an earlier cell writes (stages share a folder)

    def magic(self, cell: int, kind: str, text: str) -> None:
        words = text.split()
        if not words:
            return
        cmd = words[0]
        if kind == "!" and cmd in ("python", "python3") and words[1:3] == ["-m", "pip"]:
            words, cmd = words[2:], "pip"
        if cmd in ("pip", "pip3", "conda", "mamba") and "install" in words:
            self._install(cell, f"{kind}{text.strip()}", words[words.index("install") + 1:])
        elif kind == "!" and cmd in SHELL_DOWNLOADS and (cmd != "git" or "clone" in words):
            self._download(cell, f"`{kind}{text.strip()[:60]}`", "")
        elif kind == "%" and cmd in ("run", "load", "loadpy", "cd"):
            self.problems.append(Problem("error", cell, "magic", (
                f"cell {cell}: `%{text.strip()[:60]}` needs a file beside the notebook, which a pipeline stage "
                "does not have: copy the code it runs into a cell tagged `functions`")))

    def _install(self, cell: int, line: str, args: list[str]) -> None:
        if "-r" in args or "--requirement" in args or any(a.startswith("-e") for a in args):
            missing = ["the packages of a requirements file"]
        else:
            wanted = [re.split(r"[<>=!~\[;@ ]", a)[0] for a in args if not a.startswith("-")]
            missing = [w for w in wanted if w and not self.env.has_distribution(w)]
            if not missing:
                self.problems.append(Problem("warning", cell, "pip_install", (
                    f"cell {cell}: `{line[:80]}` installs packages while the notebook runs; the pipeline environment "
                    "already has them, so in a stage it changes nothing (the line can go)")))
                return
        self.problems.append(Problem("error", cell, "pip_install", (
            f"cell {cell}: `{line[:80]}` installs packages while the notebook runs; pipeline stages run in the "
            f"platform's fixed environment, without network, and it lacks {', '.join(missing)}: add "
            f"{'them' if len(missing) > 1 else 'it'} to the environment the platform runs in (pip install there), "
            "then delete the line or tag the cell `skip`")))

    def _download(self, cell: int, what: str, how: str) -> None:
        if self.network:
            return
        self.problems.append(Problem("error", cell, "download", (
            f"cell {cell}: downloads {what}{how}: pipeline stages run without network access, so it would fail "
            "there. Download it once from the notebook and register it as a dataset (`from jupyter_mlp import "
            "datasets; datasets.register('name', df)`), then read it in the stage with `datasets.read('name')`; or "
            "give the stages a network with \"mlp\": {\"container\": {\"network\": true}} in the notebook's "
            "metadata")))

    def _literal(self, node: ast.AST | None) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return self.strings.get(node.id)
        return None

    def code(self, cell: int, tree: ast.AST) -> None:
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and not getattr(node, "level", 0):
                tops = [a.name.split(".")[0] for a in node.names] if isinstance(node, ast.Import) else \
                    [(node.module or "").split(".")[0]]
                for top in dict.fromkeys(tops):
                    if top and not self.env.has_module(top) and not _guarded(node, parents):
                        self.problems.append(Problem("error", cell, "missing_package", (
                            f"cell {cell}: imports '{top}', which the pipeline environment does not have: the "
                            f"stage would fail with ModuleNotFoundError. Add the package to the environment the "
                            "platform runs in (pip install there) and promote again; a module beside the notebook "
                            "belongs in a cell tagged `functions` instead")))
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and \
                    isinstance(node.value.value, str):
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        self.strings[t.id] = node.value.value
            elif isinstance(node, ast.Call):
                self._call(cell, node)

    def _call(self, cell: int, call: ast.Call) -> None:
        name = _call_name(call)
        fn = call.func
        base = fn.value.id if isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name) else ""
        args = [*call.args, *[k.value for k in call.keywords]]
        literals = [s for s in (self._literal(a) for a in args) if s]
        url = next((s for s in literals if URL.match(s)), None)
        if url and name not in NOT_A_FETCH:
            self._download(cell, f"'{url[:80]}'", f" ({name or 'a call'})")
            return
        if name in DOWNLOAD_CALLS or name.startswith("fetch_") and base in ("", "datasets", "sklearn") or \
                base in HTTP_MODULES and name in ("get", "post", "request", "head", "stream"):
            self._download(cell, f"with {base + '.' if base else ''}{name}()", "")
            return
        # Writers first: what an earlier cell writes, a later one may read (a run's stages share a folder).
        mode = self._literal(call.args[1]) if len(call.args) > 1 else self._literal(
            next((k.value for k in call.keywords if k.arg == "mode"), None))
        writing = name.startswith(("to_", "save", "write", "dump")) or name in ("savefig", "savetxt", "mkdir") or \
            (name == "open" and mode is not None and WRITE_MODE.search(mode))
        paths = [s for s in literals if RELATIVE_FILE.match(s)]
        if isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Call) and _call_name(fn.value) == "Path":
            inner = [self._literal(a) for a in fn.value.args]
            paths += [s for s in inner if s and RELATIVE_FILE.match(s)]
            writing = writing or name.startswith(("write", "mkdir", "touch"))
            reading = name in ("read_text", "read_bytes", "open") and not writing
        else:
            reading = name in READERS and not writing
        if writing:
            self.written |= set(paths)
        elif reading:
            for p in paths[:1]:
                if p in self.written:
                    continue
                stem = re.sub(r"[^a-z0-9_]+", "_", PurePosixPath(p).stem.lower()).strip("_") or "data"
                self.problems.append(Problem("error", cell, "relative_file", (
                    f"cell {cell}: reads '{p}' relative to the notebook's folder; a pipeline stage runs in a folder "
                    "of its own, where it does not exist (FileNotFoundError). Register the file as a dataset once "
                    f"from the notebook (`datasets.register('{stem}', '{p}')`) and read it in the stage with "
                    f"`datasets.read('{stem}')`")))


def _grouped(problems: list[Problem]) -> list[Problem]:
    """The same message for several cells is said once, naming every cell."""
    out: list[Problem] = []
    seen: dict[tuple[str, str, str], tuple[Problem, list[int]]] = {}
    for p in problems:
        rest = re.sub(r"^cell \d+: ", "", p.message)
        key = (p.severity, p.code, rest)
        if key in seen and p.cell is not None:
            if p.cell not in seen[key][1]:
                seen[key][1].append(p.cell)
            continue
        seen[key] = (p, [p.cell] if p.cell is not None else [])
        out.append(p)
    for p, cells in seen.values():
        if len(cells) > 1:
            p.message = f"cells {', '.join(map(str, cells[:-1]))} and {cells[-1]}: " + re.sub(
                r"^cell \d+: ", "", p.message)
    return out


@dataclass
class _Cell:
    number: int
    source: str
    tags: list[str]
    ran: bool  # it has an execution count or outputs: it worked when last run


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _strip_magics(cell: _Cell, checks: _RuntimeChecks | None = None) -> str:
    """The cell as plain Python: IPython's magics and shell escapes run in a stage (papermill runs an IPython
    kernel), so they are left out of the analysis; those that install packages, download, or need a file beside
    the notebook are reported (`checks`)."""
    lines = cell.source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].lstrip()[2:].split(" ")[0]
        if magic in NOT_PYTHON_CELL_MAGICS:  # the body is not Python: shell lines are checked as `!` lines
            for line in lines[1:] if magic in ("bash", "sh", "script", "system", "!") else []:
                if checks:
                    checks.magic(cell.number, "!", line)
            return ""
        lines = ["", *lines[1:]]
    out = []
    for line in lines:
        s = line.lstrip()
        m = re.match(r"^(?:(\w+)\s*=\s*)?([!%])(?!=)(.*)$", s)
        if m and not s.startswith("%%"):
            if checks:
                checks.magic(cell.number, m.group(2), m.group(3))
            indent = line[:len(line) - len(s)]
            out.append(f"{indent}{m.group(1)} = None" if m.group(1) else f"{indent}pass")
        else:
            out.append(line)
    return "\n".join(out)


def _param_type(value: ast.AST) -> tuple[str, str]:
    try:
        v = ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError):
        return "other", ast.unparse(value)
    t = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict", type(None): "none"}
    return t.get(type(v), "other"), ast.unparse(value)


def parameters_of(source: str) -> list[Parameter]:
    params = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            kind, default = _param_type(node.value)
            params.append(Parameter(node.targets[0].id, kind, default))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            kind, default = _param_type(node.value)
            params.append(Parameter(node.target.id, kind, default))
    return params


KALE_IGNORED = ("limit:", "annotation:", "label:", "image:")


def _kale_tags(cell: int, tags: list[str], problems: list[Problem]) -> list[str]:
    """Kale's tags (Kubeflow's notebook-to-pipeline tool) mean what ours do: `step:<name>` and its older name
    `block:<name>` start a stage (empty: the cell continues the stage before it), `prev:<name>` is a dependency,
    `pipeline-parameters` the parameters cell, `pipeline-metrics` a last stage, `metrics`, that reads what it
    prints. Its Kubernetes tags (limits, annotations, labels, images) have no meaning here: said, not refused."""
    out = []
    for t in tags:
        if t.startswith(("step:", "block:")):
            name = t.split(":", 1)[1]
            if name:
                out.append(f"stage:{name}")
        elif t.startswith("prev:"):
            out.append(f"depends:{t[5:]}")
        elif t == "pipeline-parameters":
            out.append("parameters")
        elif t == "pipeline-metrics":
            out.append("stage:metrics")
        elif t.startswith(KALE_IGNORED):
            problems.append(Problem("warning", cell, "kale_tag", (
                f"cell {cell}: Kale's tag '{t}' is for Kubeflow and is not used here (stage resources come from "
                "\"mlp\": {\"container\": …} in the notebook's metadata)")))
        else:
            out.append(t)
    return out


def analyse(nb: dict[str, Any], env: Environment | None = None) -> Analysis:
    """Split a notebook (nbformat v4 JSON) into stages and check it, without running anything. `env`: the
    environment stages run in (default: this process's, which is theirs)."""
    problems: list[Problem] = []
    cells: list[_Cell] = []
    for i, c in enumerate(nb.get("cells", []), start=1):
        if c.get("cell_type") != "code":
            continue
        tags = _kale_tags(i, [str(t) for t in (c.get("metadata", {}).get("tags") or [])], problems)
        ran = c.get("execution_count") is not None or bool(c.get("outputs"))
        cells.append(_Cell(i, _source(c), tags, ran))

    # 1. Tags → stages, shared cells, parameters.
    stages: list[Stage] = []
    shared: list[_Cell] = []
    params_cell: _Cell | None = None
    own: dict[str, list[_Cell]] = {}
    pending: list[_Cell] = []  # untagged cells before the first stage tag
    current: Stage | None = None
    for cell in cells:
        unknown = [t for t in cell.tags if t not in (*SHARED_TAGS, "skip") and t not in DISPLAY_TAGS
                   and not t.startswith(("stage:", "depends:"))]
        for t in unknown:
            problems.append(Problem("error", cell.number, "unknown_tag",
                                    f"cell {cell.number}: unknown tag '{t}' (known: stage:<name>, depends:<stage>, "
                                    "imports, functions, parameters, skip)"))
        if "skip" in cell.tags:
            continue
        if "parameters" in cell.tags:
            if params_cell is not None:
                problems.append(Problem("error", cell.number, "two_parameters_cells",
                                        f"cell {cell.number}: a second 'parameters' cell (the first is cell "
                                        f"{params_cell.number})"))
            params_cell = cell
            continue
        if any(t in cell.tags for t in ("imports", "functions")):
            shared.append(cell)
            continue
        stage_tags = [t.split(":", 1)[1] for t in cell.tags if t.startswith("stage:")]
        if len(stage_tags) > 1:
            problems.append(Problem("error", cell.number, "two_stages",
                                    f"cell {cell.number}: tagged with two stages {stage_tags}"))
        if stage_tags:
            name = stage_tags[0]
            if not STAGE_NAME.match(name):
                problems.append(Problem("error", cell.number, "bad_stage_name",
                                        f"cell {cell.number}: stage name '{name}' must be lowercase letters, digits, "
                                        "'-' or '_', starting with a letter"))
            if current is not None and name == current.name:  # the same stage again: its next cell
                stage_tags = []
            elif name in own:
                problems.append(Problem("error", cell.number, "duplicate_stage",
                                        f"cell {cell.number}: stage '{name}' starts again (stages are contiguous)"))
        if stage_tags:
            current = Stage(name)
            stages.append(current)
            own[name] = list(pending)
            pending = []
        if current is None:
            pending.append(cell)
            continue
        own[current.name].append(cell)
        current.explicit += [t.split(":", 1)[1] for t in cell.tags if t.startswith("depends:")]
    if not stages:
        stages = [Stage("main")]
        own["main"] = pending
    for s in stages:
        s.cells = [c.number for c in own[s.name]]

    # 2. What fails only at run time, in every kept cell in notebook order.
    container = (nb.get("metadata", {}).get("mlp") or {}).get("container") or {}
    checks = _RuntimeChecks(env or Environment(), container.get("network") is True, problems)
    kept = {c.number for c in [*shared, *([params_cell] if params_cell else []), *(c for s in own.values() for c in s)]}
    plain: dict[int, str] = {}
    for cell in cells:
        if cell.number in kept:
            plain[cell.number] = _strip_magics(cell, checks)
            try:
                checks.code(cell.number, ast.parse(plain[cell.number]))
            except SyntaxError:
                pass  # said below, where the cell's names are read

    # 3. Parameters. Anything else the parameters cell defines (imports) runs before every stage too.
    parameters: list[Parameter] = []
    param_names: set[str] = set()
    if params_cell is not None:
        try:
            parameters = parameters_of(plain[params_cell.number])
            v = _Names()
            v.visit(ast.parse(plain[params_cell.number]))
            v.finish()
            param_names = {p.name for p in parameters} | v.defined
            imported = sorted(n for n, why in v.unserialisable.items() if why == "a module" and n in v.defined)
            if imported:
                problems.append(Problem("warning", params_cell.number, "parameters_import", (
                    f"cell {params_cell.number}: the parameters cell imports {', '.join(imported)}: it runs before "
                    "every stage, so this works, but only its assignments are parameters; imports belong in a cell "
                    "tagged `imports`")))
        except SyntaxError as e:
            problems.append(Problem("error", params_cell.number, "syntax",
                                    f"cell {params_cell.number}: parameters cell does not parse: {e.msg}"))

    # 4. Shared cells define names every stage sees.
    shared_names: set[str] = set()
    for cell in shared:
        code = plain[cell.number]
        try:
            v = _Names()
            v.visit(ast.parse(code))
            v.finish()
        except SyntaxError as e:
            problems.append(Problem("error", cell.number, "syntax", f"cell {cell.number}: does not parse: {e.msg}"))
            continue
        if v.star:
            problems.append(Problem("error", cell.number, "star_import",
                                    f"cell {cell.number}: 'from … import *' hides which names a stage needs"))
        shared_names |= v.defined

    # 5. Data flow between stages.
    known = BUILTINS | shared_names | param_names
    defined_by: dict[str, str] = {}  # name -> latest stage (in notebook order) that defines it
    unserialisable: dict[str, tuple[str, int]] = {}
    for s in stages:
        local: set[str] = set()
        inputs: list[str] = []
        for cell in own[s.name]:
            code = plain[cell.number]
            try:
                v = _Names()
                v.visit(ast.parse(code))
                v.finish()
            except SyntaxError as e:
                problems.append(Problem("error", cell.number, "syntax",
                                        f"cell {cell.number}: does not parse: {e.msg} (line {e.lineno})"))
                continue
            if v.star:
                problems.append(Problem("error", cell.number, "star_import",
                                        f"cell {cell.number}: 'from … import *' hides which names a stage needs"))
            for name in dict.fromkeys(v.used):
                if name in local or name in known or name in inputs:
                    continue
                if name in defined_by:
                    inputs.append(name)
                    src = defined_by[name]
                    if src not in s.depends_on:
                        s.depends_on.append(src)
                    producer = next(x for x in stages if x.name == src)
                    if name not in producer.outputs:
                        producer.outputs.append(name)
                    if name in unserialisable:
                        why, where = unserialisable[name]
                        problems.append(Problem("error", cell.number, "unserialisable",
                                                f"cell {cell.number}: '{name}' is {why} (cell {where}, stage '{src}')"
                                                f" and cannot be passed to stage '{s.name}'"))
                elif cell.ran:
                    problems.append(Problem("error", cell.number, "hidden_state",
                                            f"cell {cell.number}: '{name}' is not defined by any cell in the "
                                            "notebook, though this cell ran: it came from a cell that is gone"))
                else:
                    problems.append(Problem("error", cell.number, "undefined",
                                            f"cell {cell.number}: '{name}' is used but never defined before this "
                                            f"stage ('{s.name}')"))
            local = (local - v.deleted) | v.defined
            for name in v.defined:
                if name in v.unserialisable:
                    unserialisable[name] = (v.unserialisable[name], cell.number)
                else:
                    unserialisable.pop(name, None)
        s.inputs = inputs
        for name in local:
            defined_by[name] = s.name

    # 6. Explicit dependencies, unknown ones, and cycles.
    by_name = {s.name: s for s in stages}
    for s in stages:
        for dep in s.explicit:
            if dep not in by_name:
                problems.append(Problem("error", s.cells[0] if s.cells else None, "unknown_dependency",
                                        f"stage '{s.name}' depends on '{dep}', which is not a stage"))
            elif dep not in s.depends_on and dep != s.name:
                s.depends_on.append(dep)
    cycle = _cycle(stages)
    if cycle:
        problems.append(Problem("error", None, "cycle", "stages depend on each other in a cycle: "
                                + " → ".join(cycle)))
    for s in stages:
        if not s.cells:
            problems.append(Problem("warning", None, "empty_stage", f"stage '{s.name}' has no cells"))
    return Analysis(stages, parameters, _grouped(problems), [c.number for c in shared],
                    params_cell.number if params_cell else None)


def _cycle(stages: list[Stage]) -> list[str] | None:
    graph = {s.name: list(s.depends_on) for s in stages}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        path.append(n)
        for m in graph.get(n, []):
            if state.get(m) == 1:
                return path[path.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        state[n] = 2
        path.pop()
        return None

    for n in graph:
        if n not in state and (found := visit(n)):
            return found
    return None


def topological(stages: list[Stage]) -> list[str]:
    """Stage names in an order where every stage comes after what it depends on (notebook order breaks ties)."""
    done: list[str] = []
    remaining = list(stages)
    while remaining:
        ready = [s for s in remaining if all(d in done for d in s.depends_on)]
        if not ready:
            raise ValueError("cycle")
        done.append(ready[0].name)
        remaining.remove(ready[0])
    return done
