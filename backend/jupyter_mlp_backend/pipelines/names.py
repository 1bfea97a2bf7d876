"""What flows between stages: the names a cell defines, reads before defining them, and deletes, by Python's scoping
rules (pipelines.analysis turns them into each stage's inputs and outputs)."""

from __future__ import annotations

import ast
import builtins

BUILTINS = set(dir(builtins)) | {"__name__", "__file__", "display", "get_ipython", "In", "Out", "exit", "quit"}
# Constructors whose values cannot be written to disk and read back in another process.
UNSERIALISABLE_CALLS = {"open", "connect", "Lock", "RLock", "Thread", "socket", "Session", "create_engine",
                        "Popen", "Pool", "Client"}


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


class Names(ast.NodeVisitor):
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

    def finish(self) -> Names:
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
