"""A candidate's Triton kernels, taken from the file's text: nothing of the candidate's module executes.

The kernel runner (:mod:`verifier.worker.runner_role`) never imports a candidate. It parses the
candidate's source and keeps only:

- the top-level functions decorated with ``@triton.jit`` (optionally under ``@triton.autotune``
  and ``@triton.heuristics``), whose decorator arguments must be literals (configs as
  ``triton.Config(...)`` calls over literals, list comprehensions over literal ranges included);
  heuristics' functions are Python and never run here: their values come from the launch plan;
- the module-level constants those kernels read (literals, ``tl.constexpr(literal)``, Triton dtypes);
- the import aliases of Triton's language modules.

Every kernel body must use the Triton language only (:func:`check_body`): its names are its own
locals and parameters, other kernels of the file, those constants, Triton's modules and a handful of
builtins the code generator knows (``range``, ``len``, ``min``, ``max``, ``int``, ``float``,
``print``); an attribute is a public part of Triton's language (never ``.handle``, never a name that
starts with ``_``); no ``try``, ``with``, ``lambda``, nested functions, f-strings, comprehensions or
``global``. A body that breaks a rule is refused with its line. The same check runs in the trusted
parent (the report's ``kernels`` check) and in the runner before it builds anything.

:func:`build_namespace` then makes the runner's kernel objects: each kept function is compiled from
its own AST (decorators removed) into a namespace holding only what the check allowed and a
restricted ``__builtins__`` (:data:`RUNTIME_BUILTINS`): ``int``/``float``/``bool`` there refuse a
Triton tensor, so an interpreted body cannot read a value into Python that way.
"""

from __future__ import annotations

import ast
import builtins
import copy
import hashlib
import importlib
import linecache
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from verifier.ast_tools import Finding
from verifier.parsing import parse_or_raise

ALLOWED_MODULES = frozenset(
    {
        "triton",
        "triton.language",
        "triton.language.math",
        "triton.language.extra",
        "triton.language.extra.libdevice",
        "triton.language.extra.cuda",
        "triton.language.extra.cuda.libdevice",
    }
)
"""Modules a kernel body may name (through their import aliases)."""

TRITON_ROOT_ATTRS = frozenset({"language", "cdiv", "next_power_of_2", "jit", "Config", "autotune", "heuristics"})
"""What a kernel or a decorator may take from the ``triton`` package itself."""

BODY_BUILTINS = frozenset({"range", "len", "min", "max", "int", "float", "print"})
"""Builtins a kernel body may name: those Triton's code generator understands, less ``getattr``,
``hasattr`` and ``isinstance`` (they can tell the interpreter from a compiled kernel)."""

JIT_KWARGS = frozenset({"do_not_specialize", "do_not_specialize_on_alignment", "noinline", "debug"})
AUTOTUNE_KWARGS = frozenset(
    {"configs", "key", "reset_to_zero", "restore_value", "warmup", "rep", "cache_results", "use_cuda_graph"}
)
AUTOTUNE_PYTHON = frozenset({"prune_configs_by", "pre_hook", "post_hook", "do_bench"})
CONFIG_OPTIONS = ("num_warps", "num_stages", "num_ctas", "maxnreg")
MAX_CONFIGS = 64

REFUSED_NODES: dict[type[ast.AST], str] = {
    ast.Try: "try/except",
    ast.With: "with",
    ast.AsyncWith: "async with",
    ast.Lambda: "lambda",
    ast.FunctionDef: "a nested function",
    ast.AsyncFunctionDef: "a nested function",
    ast.ClassDef: "a class",
    ast.Global: "global",
    ast.Nonlocal: "nonlocal",
    ast.Import: "import",
    ast.ImportFrom: "import",
    ast.JoinedStr: "an f-string (formats values on the host)",
    ast.FormattedValue: "an f-string (formats values on the host)",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a generator expression",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Await: "await",
    ast.NamedExpr: "an assignment expression",
    ast.Delete: "del",
    ast.Match: "match",
}
if hasattr(ast, "TryStar"):
    REFUSED_NODES[ast.TryStar] = "try/except*"


class KernelSourceError(ValueError):
    """The candidate's kernels cannot be taken from its text (syntax, or misuse of this module)."""


@dataclass(frozen=True)
class ConfigSpec:
    """One ``triton.Config``: its meta-parameters and launch options, as literals."""

    kwargs: dict[str, Any]
    options: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"kwargs": dict(self.kwargs), "options": dict(self.options)}


@dataclass(frozen=True)
class AutotuneSpec:
    configs: tuple[ConfigSpec, ...]
    key: tuple[str, ...]
    reset_to_zero: tuple[str, ...] = ()
    restore_value: tuple[str, ...] = ()
    warmup: int | None = None
    rep: int | None = None


@dataclass
class KernelDef:
    """One top-level ``@triton.jit`` function of the candidate's file."""

    node: ast.FunctionDef
    params: tuple[str, ...]
    constexpr_params: frozenset[str]
    defaults: dict[str, Any]
    jit_kwargs: dict[str, Any]
    autotune: AutotuneSpec | None = None
    heuristics: tuple[str, ...] = ()
    references: set[str] = field(default_factory=set)
    """Module-level names the body reads (other kernels, constants, module aliases)."""

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def line(self) -> int:
        """The ``def`` line."""
        return self.node.lineno

    @property
    def first_line(self) -> int:
        """The line Python gives the function's code: its first decorator's, else the ``def``."""
        return min([self.node.lineno, *(d.lineno for d in self.node.decorator_list)])

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "line": self.line,
            "params": list(self.params),
            "constexpr_params": sorted(self.constexpr_params),
            "autotune_configs": len(self.autotune.configs) if self.autotune else 0,
            "heuristics": list(self.heuristics),
        }


@dataclass
class KernelSource:
    """What the runner may build from a candidate's text."""

    source: str
    filename: str
    kernels: dict[str, KernelDef]
    constants: dict[str, tuple[ast.expr, Any]]
    """Module-level name -> (its expression, its value) for the constants kernels read."""
    aliases: dict[str, str]
    """Module-level name -> the dotted path of the Triton module or object it is bound to."""
    findings: list[Finding]
    skipped: dict[str, str] = field(default_factory=dict)
    """Top-level functions that look like kernels but were not taken, and why."""

    @property
    def ok(self) -> bool:
        return not self.findings

    def fingerprint(self) -> str:
        """A digest of everything the runner builds from the text (the kernels' lines and constants)."""
        h = hashlib.sha256()
        for name in sorted(self.kernels):
            kernel = self.kernels[name]
            h.update(ast.dump(kernel.node, include_attributes=True).encode())
            h.update(repr(sorted(kernel.jit_kwargs.items())).encode())
        for name in sorted(self.constants):
            h.update(f"{name}={ast.dump(self.constants[name][0])}".encode())
        h.update(repr(sorted(self.aliases.items())).encode())
        return h.hexdigest()


# ---- resolving Triton names -------------------------------------------------------------------------


def _module(path: str) -> Any:
    return importlib.import_module(path)


def _is_language_object(value: Any) -> bool:
    """Part of Triton's language: a module we allow, or something defined in ``triton.language``
    (a Triton function wrapped as a JIT or interpreted function counts by its own function)."""
    if isinstance(value, types.ModuleType):
        return value.__name__ in ALLOWED_MODULES
    names: list[str] = []
    if isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)):
        module = getattr(value, "__module__", None)
        names = [module] if isinstance(module, str) else []
    else:
        names = [type(value).__module__]
        inner = getattr(value, "fn", None)  # a JIT or interpreted function: the function it wraps
        if isinstance(inner, types.FunctionType) and isinstance(inner.__module__, str):
            names.append(inner.__module__)
    language = [n for n in names if n == "triton.language" or n.startswith("triton.language.")]
    foreign = [n for n in names if not n.startswith("triton.")]
    return bool(language) and not foreign


def resolve_dotted(path: str) -> Any:
    """The object a dotted path names, walking only public attributes of allowed modules and
    language objects; raises LookupError with the reason otherwise."""
    parts = path.split(".")
    if parts[0] != "triton":
        raise LookupError(f"{path} is not part of Triton")
    value: Any = _module("triton")
    walked = "triton"
    for i, part in enumerate(parts[1:], start=1):
        if part.startswith("_"):
            raise LookupError(f"{walked}.{part} is private")
        if walked == "triton" and part not in TRITON_ROOT_ATTRS:
            raise LookupError(f"triton.{part} is not part of Triton's language")
        candidate = f"{walked}.{part}"
        if candidate in ALLOWED_MODULES:
            value = _module(candidate)
        else:
            try:
                value = getattr(value, part)
            except AttributeError:
                raise LookupError(f"{candidate} does not exist") from None
            if isinstance(value, types.ModuleType):
                raise LookupError(f"{candidate} is a module kernels may not use")
            if i > 1 and not _is_language_object(value) and not isinstance(value, (int, float, bool, str)):
                raise LookupError(f"{candidate} is not part of Triton's language")
        walked = candidate
    return value


def value_attributes() -> frozenset[str]:
    """Attributes a kernel may read on a value (a tensor, a dtype, a constexpr...): the public ones of
    Triton's language classes, without ``handle`` (the host data behind an interpreted value)."""
    tl = _module("triton.language")
    names: set[str] = set()
    for cls_name in ("tensor", "dtype", "pointer_type", "block_type", "constexpr", "tuple", "tensor_descriptor"):
        cls = getattr(tl, cls_name, None)
        if isinstance(cls, type):
            names.update(n for n in dir(cls) if not n.startswith("_"))
    names.update({"dtype", "shape", "type", "value", "element_ty", "numel", "T"})
    return frozenset(names - {"handle", "data"})


# ---- a small evaluator for decorator arguments and constants ------------------------------------------


MAX_EVAL_STEPS = 20_000
"""Work the literal evaluator may do for one file (it runs in the trusted parent)."""
MAX_INT = 1 << 64


class _Literal:
    """Evaluates literals, displays, arithmetic, ``triton.Config(...)`` and list comprehensions over
    literal iterables, exactly as Python would (or refuses): names resolve to module-level
    constants or Triton objects. Bounded: a step budget for the whole file, integers within 2**64."""

    def __init__(self, resolve_name: Callable[[str], Any]) -> None:
        self.resolve_name = resolve_name
        self.steps = 0

    def _step(self) -> None:
        self.steps += 1
        if self.steps > MAX_EVAL_STEPS:
            raise LookupError("decorator arguments and constants too costly to evaluate")

    def eval(self, node: ast.expr, scope: dict[str, Any] | None = None) -> Any:
        self._step()
        scope = scope or {}
        if isinstance(node, ast.Constant):
            if isinstance(node.value, int) and not isinstance(node.value, bool) and abs(node.value) > MAX_INT:
                raise LookupError("a number too large")
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.eval(e, scope) for e in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                raise LookupError("a dict with ** unpacking")
            out = {}
            for k, v in zip(node.keys, node.values, strict=True):
                key = self.eval(k, scope)  # type: ignore[arg-type]
                if not isinstance(key, str):
                    raise LookupError("a dict key that is not a string")
                out[key] = self.eval(v, scope)
            return out
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
            v = self.eval(node.operand, scope)
            if isinstance(node.op, ast.Not):
                return not _plain(v)
            if not isinstance(v, (int, float)):
                raise LookupError("a sign on something other than a number")
            return -v if isinstance(node.op, ast.USub) else +v
        if isinstance(node, ast.BinOp):
            return _binop(node.op, self.eval(node.left, scope), self.eval(node.right, scope))
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            return _compare(node.ops[0], self.eval(node.left, scope), self.eval(node.comparators[0], scope))
        if isinstance(node, ast.BoolOp):  # Python's semantics: the deciding operand, short-circuited
            value: Any = None
            for operand in node.values:
                value = self.eval(operand, scope)
                if bool(_plain(value)) != isinstance(node.op, ast.And):
                    return value
            return value
        if isinstance(node, ast.Name):
            if node.id in scope:
                return scope[node.id]
            try:
                return self.resolve_name(node.id)
            except LookupError:
                if node.id == "range":  # the builtin, when the file does not bind the name
                    return range
                raise
        if isinstance(node, ast.Attribute):
            return resolve_dotted(_dotted(node, self.resolve_alias))
        if isinstance(node, ast.Call):
            return self.call(node, scope)
        if isinstance(node, ast.ListComp):
            return self.listcomp(node, scope)
        raise LookupError(f"{type(node).__name__} is not a literal")

    def resolve_alias(self, name: str) -> str:
        value = self.resolve_name(name)
        if isinstance(value, types.ModuleType):
            return value.__name__
        raise LookupError(f"{name} is not a Triton module")

    def call(self, node: ast.Call, scope: dict[str, Any]) -> Any:
        callee = self.eval(node.func, scope)
        args = [self.eval(a, scope) for a in node.args]
        if any(k.arg is None for k in node.keywords):
            raise LookupError("** arguments")
        kwargs = {k.arg: self.eval(k.value, scope) for k in node.keywords}
        triton = _module("triton")
        tl = _module("triton.language")
        if callee is triton.Config:
            return _config_spec(args, kwargs)
        if callee is range:
            if not all(isinstance(a, int) and not isinstance(a, bool) for a in args) or not 1 <= len(args) <= 3:
                raise LookupError("range() of something other than integers")
            values = range(*args)
            if len(values) > MAX_CONFIGS * 16:
                raise LookupError("a range too long")
            return list(values)
        if callee is tl.constexpr:
            return tl.constexpr(*args)
        if callee in (triton.cdiv, triton.next_power_of_2) and all(isinstance(a, int) for a in args):
            return callee(*args)
        raise LookupError("a call of something other than triton.Config, range or tl.constexpr")

    def listcomp(self, node: ast.ListComp, scope: dict[str, Any]) -> list[Any]:
        results: list[Any] = []

        def loop(generators: list[ast.comprehension], inner: dict[str, Any]) -> None:
            self._step()
            if len(results) > MAX_CONFIGS * 4:
                raise LookupError("too many values")
            if not generators:
                results.append(self.eval(node.elt, inner))
                return
            gen = generators[0]
            if gen.is_async:
                raise LookupError("async comprehension")
            iterable = self.eval(gen.iter, inner)
            if not isinstance(iterable, (list, tuple)):
                raise LookupError("a comprehension over something other than a literal list or range")
            for item in iterable:
                bound = dict(inner)
                _bind(gen.target, item, bound)
                if all(self.eval(cond, bound) for cond in gen.ifs):
                    loop(generators[1:], bound)

        loop(node.generators, dict(scope))
        return results


def _bind(target: ast.expr, value: Any, scope: dict[str, Any]) -> None:
    if isinstance(target, ast.Name):
        scope[target.id] = value
    elif isinstance(target, (ast.Tuple, ast.List)):
        items = list(value)
        if len(items) != len(target.elts):
            raise LookupError("unpacking mismatch")
        for t, v in zip(target.elts, items, strict=True):
            _bind(t, v, scope)
    else:
        raise LookupError("a comprehension target that is not a name")


def _plain(value: Any) -> Any:
    """A literal's Python value (``tl.constexpr`` unwrapped) for truth tests."""
    inner = getattr(value, "value", value) if type(value).__name__ == "constexpr" else value
    if not (inner is None or isinstance(inner, (bool, int, float, str, tuple, list))):
        raise LookupError("a truth test of something other than a literal")
    return inner


def _binop(op: ast.operator, a: Any, b: Any) -> Any:
    table: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
        ast.Add: lambda x, y: x + y,
        ast.Sub: lambda x, y: x - y,
        ast.Mult: lambda x, y: x * y,
        ast.FloorDiv: lambda x, y: x // y,
        ast.Mod: lambda x, y: x % y,
        ast.Pow: lambda x, y: x**y,
        ast.LShift: lambda x, y: x << y,
        ast.RShift: lambda x, y: x >> y,
        ast.Div: lambda x, y: x / y,
    }
    if isinstance(op, ast.Add) and isinstance(a, (list, tuple)) and type(a) is type(b):
        if len(a) + len(b) > MAX_CONFIGS * 4:
            raise LookupError("too many values")
        return a + b
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
    if type(op) not in table or not numbers:
        raise LookupError("arithmetic on something other than numbers")
    if any(isinstance(v, int) and abs(v) > MAX_INT for v in (a, b)):
        raise LookupError("a number too large")
    if isinstance(op, (ast.Pow, ast.LShift)) and (not isinstance(b, (int, float)) or abs(b) > 64):
        raise LookupError("a number too large")
    if isinstance(op, ast.Mult) and isinstance(a, int) and isinstance(b, int) and abs(a) * 1.0 * abs(b) > MAX_INT:
        raise LookupError("a number too large")
    try:
        result = table[type(op)](a, b)
    except (ArithmeticError, ValueError) as e:
        raise LookupError(f"arithmetic fails: {e}") from None
    if isinstance(result, int) and abs(result) > MAX_INT:
        raise LookupError("a number too large")
    if isinstance(result, complex):
        raise LookupError("a complex number")
    return result


def _compare(op: ast.cmpop, a: Any, b: Any) -> bool:
    table: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
        ast.Eq: lambda x, y: x == y,
        ast.NotEq: lambda x, y: x != y,
        ast.Lt: lambda x, y: x < y,
        ast.LtE: lambda x, y: x <= y,
        ast.Gt: lambda x, y: x > y,
        ast.GtE: lambda x, y: x >= y,
    }
    if type(op) not in table or not all(isinstance(v, (int, float, str)) for v in (a, b)):
        raise LookupError("a comparison of something other than numbers or strings")
    return table[type(op)](a, b)


def _config_spec(args: list[Any], kwargs: dict[str, Any]) -> ConfigSpec:
    params = ["kwargs", *CONFIG_OPTIONS]
    bound = dict(zip(params, args, strict=False))
    if len(args) > len(params):
        raise LookupError("triton.Config with too many arguments")
    for k, v in kwargs.items():
        if k not in params:
            raise LookupError(f"triton.Config argument {k!r} (hooks and IR overrides run outside the kernel)")
        bound[k] = v
    meta = bound.get("kwargs")
    if not isinstance(meta, dict) or not all(isinstance(k, str) for k in meta):
        raise LookupError("triton.Config's meta-parameters must be a dict of names")
    options = {}
    for name in CONFIG_OPTIONS:
        value = bound.get(name)
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 1024:
                raise LookupError(f"triton.Config {name}={value!r}")
            options[name] = value
    return ConfigSpec(kwargs=dict(meta), options=options)


def _dotted(node: ast.expr, resolve_alias: Callable[[str], str]) -> str:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        raise LookupError("an attribute of something that is not a name")
    return ".".join([resolve_alias(node.id), *reversed(parts)])


# ---- reading the file ------------------------------------------------------------------------------


class _Reader:
    def __init__(self, source: str, filename: str) -> None:
        self.source = source
        self.filename = filename
        self.findings: list[Finding] = []
        self.aliases: dict[str, str] = {}
        self.assignments: dict[str, list[ast.stmt]] = {}
        self.functions: dict[str, list[ast.FunctionDef]] = {}
        self.kernels: dict[str, KernelDef] = {}
        self.skipped: dict[str, str] = {}
        self.literal = _Literal(self.resolve_module_name)
        self._constants: dict[str, tuple[ast.expr, Any]] = {}
        self.dynamic_globals: int | None = None
        """The line of a ``globals()``/``vars()``/``locals()`` call: module names may then be rebound
        at run time, so no kernel name can be trusted to mean the file's function."""

    # module-level names ---------------------------------------------------------------------------
    def read_toplevel(self, tree: ast.Module) -> None:
        for node in ast.walk(tree):  # a name declared global anywhere may be rebound at run time
            if isinstance(node, ast.Global):
                for name in node.names:
                    self.assignments.setdefault(name, []).append(node)  # type: ignore[arg-type]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("globals", "vars", "locals")
            ):
                self.dynamic_globals = node.lineno
        for stmt in tree.body:
            if isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    if alias.name in ALLOWED_MODULES or alias.name.split(".")[0] == "triton":
                        if alias.asname:
                            self._alias(alias.asname, alias.name, stmt)
                        else:
                            self._alias(alias.name.split(".")[0], alias.name.split(".")[0], stmt)
                    else:
                        self._shadow(alias.asname or alias.name.split(".")[0], stmt)
            elif isinstance(stmt, ast.ImportFrom):
                for alias in stmt.names:
                    local = alias.asname or alias.name
                    full = f"{stmt.module}.{alias.name}" if stmt.module else alias.name
                    if stmt.level == 0 and stmt.module and stmt.module.split(".")[0] == "triton":
                        self._alias(local, full, stmt)
                    else:
                        self._shadow(local, stmt)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    for name in _target_names(target):
                        self.assignments.setdefault(name, []).append(stmt)
            elif isinstance(stmt, ast.FunctionDef):
                self.functions.setdefault(stmt.name, []).append(stmt)
            elif isinstance(stmt, (ast.ClassDef, ast.AsyncFunctionDef)):
                self._shadow(stmt.name, stmt)
            else:
                for node in ast.walk(stmt):  # names bound inside if/for/try/with at module level
                    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                        self.assignments.setdefault(node.id, []).append(stmt)
                    elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                        self.assignments.setdefault(node.name, []).append(stmt)
                    elif isinstance(node, (ast.Import, ast.ImportFrom)):
                        for alias in node.names:
                            self.assignments.setdefault(alias.asname or alias.name.split(".")[0], []).append(stmt)

    def _alias(self, local: str, path: str, stmt: ast.stmt) -> None:
        if local in self.aliases and self.aliases[local] != path:
            self.assignments.setdefault(local, []).append(stmt)  # bound twice: ambiguous
        self.aliases[local] = path

    def _shadow(self, local: str, stmt: ast.stmt) -> None:
        self.assignments.setdefault(local, []).append(stmt)

    def resolve_module_name(self, name: str) -> Any:
        """A module-level name used in a decorator or a constant: a Triton alias or a literal constant."""
        if name in self.aliases and name not in self.assignments and name not in self.functions:
            return resolve_dotted(self.aliases[name])
        if name in self.functions:
            raise LookupError(f"{name} is a function")
        return self.constant(name)[1]

    def constant(self, name: str) -> tuple[ast.expr, Any]:
        if name in self._constants:
            return self._constants[name]
        stmts = self.assignments.get(name, [])
        if len(stmts) != 1 or name in self.aliases or name in self.functions:
            raise LookupError(f"module-level name {name} is not one literal constant")
        stmt = stmts[0]
        single = isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
        annotated = isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None
        if single or annotated:
            expr = stmt.value  # type: ignore[union-attr]
        else:
            raise LookupError(f"module-level name {name} is not assigned a literal")
        self._constants[name] = (expr, None)  # a placeholder against self-reference
        try:
            value = self.literal.eval(expr)
        except LookupError:
            del self._constants[name]
            raise
        except (ArithmeticError, TypeError, ValueError) as e:
            del self._constants[name]
            raise LookupError(f"module-level name {name}: {e}") from None
        self._constants[name] = (expr, value)
        return self._constants[name]

    # kernels ------------------------------------------------------------------------------------------
    def read_kernels(self) -> None:
        for name, defs in self.functions.items():
            node = defs[-1]
            kind = self._decorator_kind(node)
            if kind is None:
                continue
            if self.dynamic_globals is not None:
                self.skipped[name] = (
                    f"line {self.dynamic_globals} reaches the module's names dynamically (globals()/vars()), so "
                    f"`{name}` may not be the file's function when launched"
                )
                continue
            if len(defs) > 1 or name in self.assignments or name in self.aliases:
                self.skipped[name] = f"`{name}` is bound more than once at module level"
                continue
            try:
                self.kernels[name] = self._kernel(node)
            except LookupError as e:
                self.skipped[name] = f"line {node.lineno}: {e}"

    def _decorator_path(self, node: ast.expr) -> str | None:
        target = node.func if isinstance(node, ast.Call) else node
        try:
            return _dotted(target, lambda n: self.aliases[n] if n in self.aliases else _fail(n))
        except (LookupError, KeyError):
            return None

    def _decorator_kind(self, fn: ast.FunctionDef) -> str | None:
        paths = [self._decorator_path(d) for d in fn.decorator_list]
        if paths and paths[-1] == "triton.jit":
            return "jit"
        return None

    def _kernel(self, fn: ast.FunctionDef) -> KernelDef:
        jit_kwargs: dict[str, Any] = {}
        autotune: AutotuneSpec | None = None
        heuristics: list[str] = []
        for decorator in fn.decorator_list:
            path = self._decorator_path(decorator)
            call = decorator if isinstance(decorator, ast.Call) else None
            if path == "triton.jit":
                if call is not None:
                    if call.args:
                        raise LookupError("@triton.jit(...) takes keyword arguments only here")
                    for k in call.keywords:
                        if k.arg not in JIT_KWARGS:
                            raise LookupError(f"@triton.jit argument {k.arg!r} is not supported by the verifier")
                        jit_kwargs[k.arg] = self.literal.eval(k.value)
            elif path == "triton.autotune" and call is not None:
                if autotune is not None:
                    raise LookupError("two @triton.autotune decorators")
                autotune = self._autotune(call)
            elif path == "triton.heuristics" and call is not None:
                heuristics.extend(self._heuristics(call))
            else:
                raise LookupError(
                    f"decorator `{ast.unparse(decorator)[:60]}` is not @triton.jit/@triton.autotune/@triton.heuristics"
                )
        args = fn.args
        if args.vararg or args.kwarg or args.posonlyargs:
            raise LookupError("*args, **kwargs and positional-only parameters are not supported")
        params = tuple(a.arg for a in [*args.args, *args.kwonlyargs])
        constexpr_params = frozenset(
            a.arg
            for a in [*args.args, *args.kwonlyargs]
            if a.annotation is not None and self._is_constexpr(a.annotation)
        )
        defaults: dict[str, Any] = {}
        positional_defaults = list(zip(args.args[len(args.args) - len(args.defaults) :], args.defaults, strict=True))
        keyword_defaults = [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
        for arg, default in [*positional_defaults, *keyword_defaults]:
            defaults[arg.arg] = self.literal.eval(default)
        for name in [*(autotune.key if autotune else ()), *heuristics]:
            if name not in params:
                raise LookupError(f"autotune/heuristics name {name!r} is not a parameter of `{fn.name}`")
        if autotune is not None:
            for name in [*autotune.reset_to_zero, *autotune.restore_value]:
                if name not in params:
                    raise LookupError(f"autotune reset/restore name {name!r} is not a parameter of `{fn.name}`")
        return KernelDef(
            node=fn,
            params=params,
            constexpr_params=constexpr_params,
            defaults=defaults,
            jit_kwargs=jit_kwargs,
            autotune=autotune,
            heuristics=tuple(heuristics),
        )

    def _is_constexpr(self, annotation: ast.expr) -> bool:
        try:
            value = self.literal.eval(annotation)
        except LookupError:
            return False
        return value is _module("triton.language").constexpr

    def _autotune(self, call: ast.Call) -> AutotuneSpec:
        if call.args:
            names = ["configs", "key"]
            kw = {names[i]: a for i, a in enumerate(call.args[:2])}
            if len(call.args) > 2:
                raise LookupError("@triton.autotune takes its optional arguments by keyword here")
        else:
            kw = {}
        for k in call.keywords:
            if k.arg in AUTOTUNE_PYTHON:
                if isinstance(k.value, ast.Constant) and k.value.value is None:
                    continue
                raise LookupError(
                    f"@triton.autotune({k.arg}=...) runs Python the verifier does not run; the runner tunes over "
                    "the listed configs itself"
                )
            if k.arg not in AUTOTUNE_KWARGS:
                raise LookupError(f"@triton.autotune argument {k.arg!r} is not supported by the verifier")
            kw[k.arg] = k.value  # type: ignore[index]
        if "configs" not in kw or "key" not in kw:
            raise LookupError("@triton.autotune needs configs and key")
        configs = self.literal.eval(kw["configs"])
        if not isinstance(configs, (list, tuple)) or not configs or not all(isinstance(c, ConfigSpec) for c in configs):
            raise LookupError("@triton.autotune configs must be a non-empty list of triton.Config(...)")
        if len(configs) > MAX_CONFIGS:
            raise LookupError(f"@triton.autotune lists {len(configs)} configs (at most {MAX_CONFIGS})")

        def names(key: str) -> tuple[str, ...]:
            if key not in kw:
                return ()
            value = self.literal.eval(kw[key])
            if value is None:
                return ()
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise LookupError(f"@triton.autotune {key} must be a list of parameter names")
            return tuple(value)

        def integer(key: str) -> int | None:
            if key not in kw:
                return None
            value = self.literal.eval(kw[key])
            return int(value) if isinstance(value, int) and 0 < value < 10_000 else None

        return AutotuneSpec(
            configs=tuple(configs),
            key=names("key"),
            reset_to_zero=names("reset_to_zero"),
            restore_value=names("restore_value"),
            warmup=integer("warmup"),
            rep=integer("rep"),
        )

    def _heuristics(self, call: ast.Call) -> list[str]:
        values = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "values"), None)
        if not isinstance(values, ast.Dict) or any(k is None for k in values.keys):
            raise LookupError("@triton.heuristics needs a dict display of names")
        out = []
        for key in values.keys:
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                raise LookupError("@triton.heuristics keys must be string literals")
            out.append(key.value)
        return out

    # bodies ------------------------------------------------------------------------------------------
    def check_bodies(self, value_attrs: frozenset[str]) -> None:
        for kernel in self.kernels.values():
            self.findings.extend(self._check_body(kernel, value_attrs))

    def _check_body(self, kernel: KernelDef, value_attrs: frozenset[str]) -> list[Finding]:
        fn = kernel.node
        out: list[Finding] = []
        local = set(kernel.params)
        for node in ast.walk(fn):
            if node is not fn and isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                local.add(node.id)
        where = f"kernel `{kernel.name}`"

        def refuse(node: ast.AST, message: str) -> None:
            out.append(Finding(getattr(node, "lineno", fn.lineno), f"{where}: {message}"))

        body_nodes = [*fn.body, *[a.annotation for a in [*fn.args.args, *fn.args.kwonlyargs] if a.annotation]]
        for top in body_nodes:
            for node in ast.walk(top):
                refused = REFUSED_NODES.get(type(node))
                if refused:
                    refuse(node, f"{refused} is not part of the Triton language")
                    continue
                if isinstance(node, ast.Attribute):
                    self._check_attribute(node, local, value_attrs, refuse)
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    self._check_name(kernel, node, local, refuse)
        return out

    def _check_name(self, kernel: KernelDef, node: ast.Name, local: set[str], refuse: Callable[..., None]) -> None:
        name = node.id
        if name in local:
            return
        if name in self.functions:
            if name in self.kernels:
                kernel.references.add(name)
            elif name in self.skipped:
                refuse(node, f"calls `{name}`, which the verifier cannot take ({self.skipped[name]})")
            else:
                refuse(node, f"calls `{name}`, which is not a @triton.jit function of the file")
            return
        if name in self.aliases and name not in self.assignments:
            try:
                value = resolve_dotted(self.aliases[name])
            except LookupError as e:
                refuse(node, f"`{name}`: {e}")
                return
            if not (isinstance(value, types.ModuleType) or _is_language_object(value) or _root_helper(value)):
                refuse(node, f"`{name}` is not part of the Triton language")
                return
            kernel.references.add(name)
            return
        if name in self.assignments:
            try:
                self.constant(name)
            except LookupError as e:
                refuse(node, f"reads module-level `{name}`, which is not one literal constant ({e})")
                return
            kernel.references.add(name)
            return
        if name in BODY_BUILTINS:
            return
        if hasattr(builtins, name):
            refuse(node, f"the builtin `{name}` is not part of the Triton language")
        else:
            refuse(node, f"`{name}` is not defined in the file")

    def _check_attribute(
        self, node: ast.Attribute, local: set[str], value_attrs: frozenset[str], refuse: Callable[..., None]
    ) -> None:
        if node.attr.startswith("_"):
            refuse(node, f"attribute `.{node.attr}` is private (not part of the Triton language)")
            return
        root: ast.expr = node
        while isinstance(root, ast.Attribute):
            root = root.value
        module_root = (
            isinstance(root, ast.Name)
            and root.id not in local
            and root.id in self.aliases
            and root.id not in self.assignments
        )
        if module_root:
            if not isinstance(node.value, (ast.Attribute, ast.Name)):
                return
            outer = node
            # check only the longest chain once: the outermost attribute whose parent is not an attribute
            try:
                resolve_dotted(_dotted(outer, lambda n: self.aliases[n]))
            except LookupError as e:
                refuse(node, str(e))
            return
        if node.attr not in value_attrs:
            refuse(node, f"attribute `.{node.attr}` is not part of the Triton language")


def _root_helper(value: Any) -> bool:
    triton = _module("triton")
    return value is triton.cdiv or value is triton.next_power_of_2


def _fail(name: str) -> str:
    raise LookupError(name)


def _target_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for t in target.elts for n in _target_names(t)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []


# ---- public API ------------------------------------------------------------------------------------------


def extract(source: str, filename: str = "kiln_candidate.py") -> KernelSource:
    """The candidate's kernels as the runner will build them, with every rule they break.

    Raises KernelSourceError only when the source does not parse."""
    tree = parse_or_raise(source, KernelSourceError)
    reader = _Reader(source, filename)
    reader.read_toplevel(tree)
    reader.read_kernels()
    reader.check_bodies(value_attributes())
    constants = {}
    for kernel in reader.kernels.values():
        for name in kernel.references:
            if name in reader._constants and reader._constants[name][1] is not None:
                constants[name] = reader._constants[name]
    aliases = {
        name: path
        for name, path in reader.aliases.items()
        if any(name in k.references for k in reader.kernels.values())
    }
    return KernelSource(
        source=source,
        filename=filename,
        kernels=reader.kernels,
        constants=constants,
        aliases=aliases,
        findings=sorted(reader.findings, key=lambda f: f.line),
        skipped=dict(reader.skipped),
    )


def _refuse_tensor(kind: Callable[..., Any]) -> Callable[..., Any]:
    name = kind.__name__

    def checked(*args: Any, **kwargs: Any) -> Any:
        if args and _is_triton_tensor(args[0]):
            raise TypeError(
                f"{name}() of a Triton tensor reads its value on the host (not part of the Triton language)"
            )
        return kind(*args, **kwargs)

    checked.__name__ = name
    return checked


def _is_triton_tensor(value: Any) -> bool:
    tl = _module("triton.language")
    return isinstance(value, tl.tensor)


def _print(*args: Any, **kwargs: Any) -> None:
    """``print`` in an interpreted kernel body prints nothing (a compiled one prints on the device)."""


def runtime_builtins() -> dict[str, Any]:
    """The ``__builtins__`` of the runner's kernel namespace: the builtins a body may name (see
    :data:`BODY_BUILTINS`), with ``int``/``float``/``bool`` refusing a Triton tensor and ``print``
    printing nothing, and an ``__import__`` that refuses everything but Triton's language."""
    return {
        "range": range,
        "len": len,
        "min": min,
        "max": max,
        "int": _refuse_tensor(int),
        "float": _refuse_tensor(float),
        "bool": _refuse_tensor(bool),
        "print": _print,
        "__import__": _no_import,
    }


def _no_import(name: str, *args: Any, **kwargs: Any) -> Any:
    if name in ("triton", "triton.language") or name.startswith("triton.language"):
        return importlib.import_module(name)
    raise ImportError(f"kernels may not import {name}")


def register_source(ks: KernelSource) -> str:
    """Put the candidate's text in ``linecache`` under a name of its own (no file is written), so
    that Triton reads each kernel's source from there; returns that name."""
    digest = hashlib.sha256(ks.source.encode()).hexdigest()[:16]
    filename = f"<kiln-candidate-{digest}>"
    lines = ks.source.splitlines(keepends=True)
    linecache.cache[filename] = (len(ks.source), None, lines, filename)
    return filename


def build_namespace(ks: KernelSource, make_kernel: Callable[[Callable[..., Any], KernelDef], Any]) -> dict[str, Any]:
    """The runner's module namespace: Triton aliases, constants, and each kernel made by
    ``make_kernel(plain_function, kernel_def)`` (a JITFunction to compile, or an interpreted one).

    Refuses (KernelSourceError) a source with findings."""
    if ks.findings:
        raise KernelSourceError("; ".join(str(f) for f in ks.findings[:5]))
    filename = register_source(ks)
    namespace: dict[str, Any] = {"__builtins__": runtime_builtins(), "__name__": "kiln_kernels"}
    namespace["__kiln_language__"] = _module("triton.language")  # the interpreter looks for it here
    for name, path in ks.aliases.items():
        namespace[name] = resolve_dotted(path)
    for name, (_expr, value) in ks.constants.items():
        namespace[name] = value
    for name, kernel in ks.kernels.items():
        node = copy.copy(kernel.node)
        node.decorator_list = []
        module = ast.Module(body=[node], type_ignores=[])
        ast.fix_missing_locations(module)
        code = compile(module, filename, "exec", dont_inherit=True)
        scratch: dict[str, Any] = {}
        exec(code, namespace, scratch)  # defines the plain function only: its body does not run
        plain = scratch[name]
        plain.__module__ = "kiln_kernels"
        namespace[name] = (plain, kernel)
    for name, kernel in ks.kernels.items():
        plain, _ = namespace[name]
        namespace[name] = make_kernel(plain, kernel)
    return namespace
