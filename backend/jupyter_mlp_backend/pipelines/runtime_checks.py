"""What fails only when a stage runs, found before it runs: packages the pipeline environment lacks, pip
installs, downloads, files read relative to the notebook (pipelines.analysis walks every kept cell through
`RuntimeChecks`)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from .analysis_model import Problem


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
class RuntimeChecks:
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


def grouped(problems: list[Problem]) -> list[Problem]:
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
