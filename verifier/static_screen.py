"""A static screen of candidate source, run in the parent before any candidate code executes.

It rejects constructs an honest kernel has no use for and a cheat does: process introspection
(frames, gc, ctypes), patching of library attributes, escapes (subprocess, sockets, files),
dynamic code (exec/eval, ``__import__``), host-side computation (numpy, ``.tolist()``), torch's
private dispatch/profiler machinery, and torch compute calls inside exception handlers (a fallback
waiting for the kernel to fail). The runtime guard catches these too; the screen names the line.
"""

from __future__ import annotations

import ast
import re

from verifier.ast_tools import Finding, dotted_name
from verifier.parsing import parse as parse_source

FORBIDDEN_MODULES = {
    "ctypes": "raw memory and C calls",
    "gc": "process introspection",
    "inspect": "process introspection",
    "sys": "interpreter internals",
    "builtins": "patching builtins",
    "importlib": "dynamic imports",
    "subprocess": "starting processes",
    "multiprocessing": "starting processes",
    "socket": "network access",
    "ssl": "network access",
    "http": "network access",
    "urllib": "network access",
    "requests": "network access",
    "signal": "signal handling",
    "threading": "background threads",
    "_thread": "background threads",
    "concurrent": "background threads",
    "asyncio": "background tasks",
    "atexit": "exit hooks",
    "pickle": "arbitrary object loading",
    "marshal": "code loading",
    "shutil": "file system access",
    "tempfile": "file system access",
    "pathlib": "file system access",
    "glob": "file system access",
    "io": "file I/O",
    "mmap": "raw memory",
    "resource": "process limits",
    "faulthandler": "interpreter internals",
    "traceback": "frame introspection",
    "pty": "starting processes",
    "_posixsubprocess": "starting processes",
    "posix": "raw OS calls",
    "_ctypes": "raw memory and C calls",
    "array": "host-side computation on tensor bytes",
    "struct": "host-side computation on tensor bytes",
    "operator": "attribute access by computed name",
    "types": "building functions and code objects",
    "code": "interactive interpreters",
    "codeop": "dynamic code",
    "runpy": "dynamic code",
    "weakref": "finalizers (code that runs after forward returned)",
    "torch.multiprocessing": "starting processes",
    "torch.jit": "TorchScript (framework compute)",
    "torch.compile": "torch.compile (the baseline, not a kernel)",
    "numpy": "host-side computation",
    "scipy": "host-side computation",
    "jax": "another framework's kernels",
    "cupy": "another framework's kernels",
    "numba": "another framework's kernels",
    "tensorflow": "another framework's kernels",
    "verifier": "the verifier itself",
    "torch.utils._python_dispatch": "torch's dispatch-mode machinery",
    "torch.overrides": "torch's override machinery",
    "torch.profiler": "the profiler",
    "torch.autograd.profiler": "the profiler",
    "torch._C": "torch's private C API",
    "torch._dynamo": "torch's compiler internals",
    "torch._inductor": "torch's compiler (a fallback)",
    "torch.fx": "graph capture and rewriting",
    "string": "attribute access by computed name (Formatter.get_field)",
    "pydoc": "objects looked up by dotted name",
    "pkgutil": "objects looked up by dotted name",
    "logging.config": "objects looked up by dotted name",
    "unittest": "patching by name",
    "timeit": "running code given as a string",
    "cProfile": "running code given as a string",
    "profile": "running code given as a string",
    "trace": "running code given as a string",
    "pdb": "running code given as a string",
    "bdb": "running code given as a string",
    "doctest": "running code given as a string",
    "dis": "code objects",
    "copyreg": "object serialisation hooks",
}
STRING_EVALUATORS = frozenset(
    {"get_type_hints", "ForwardRef", "evaluate_forward_ref", "_eval_type", "singledispatch", "singledispatchmethod"}
)
"""Library functions that evaluate a string as Python (annotations): dynamic code by another name,
refused wherever the name appears (``typing.get_type_hints(f)``, imported under any alias, used
after a star import, named in a string)."""
MODULES_REACHED_AS_ATTRIBUTES = frozenset(
    {
        "_posixsubprocess",
        "posix",
        "_ctypes",
        "weakref",
        "threading",
        "_thread",
        "concurrent",
        "asyncio",
        "subprocess",
        "multiprocessing",
        "socket",
        "ctypes",
        "gc",
        "inspect",
        "importlib",
        "sys",
        "builtins",
        "pickle",
        "marshal",
        "shutil",
        "pty",
        "faulthandler",
        "atexit",
    }
)
"""Forbidden modules that other modules hold as attributes (``torch.utils.data.dataloader.threading``):
reaching one that way is the import the screen refuses, by a back door."""
INTERPRETER_INTERNALS = frozenset({"handle", "data"})
"""Attributes that, inside a ``@triton.jit`` body run by the CPU interpreter, reach the host arrays
behind Triton values (``x.handle.data`` is numpy): host computation no GPU build could run."""
ANYWHERE_INTERNALS = frozenset({"handle"})
"""Of those, refused anywhere in the file: a plain helper called from a kernel body runs in the
interpreter too (and no honest launch code needs ``.handle``)."""
HOST_EXPORTS = {
    "untyped_storage": "tensor storage (host access to its bytes)",
    "storage": "tensor storage (host access to its bytes)",
    "_typed_storage": "tensor storage (host access to its bytes)",
    "frombuffer": "tensors built from host bytes",
    "from_file": "tensors read from files",
    "from_buffer": "storages built from host bytes",
    "__reduce__": "object serialisation (tensor bytes on the host)",
    "__reduce_ex__": "object serialisation (tensor bytes on the host)",
    "__getstate__": "object serialisation (tensor bytes on the host)",
    "__array_interface__": "host arrays",
    "__cuda_array_interface__": "raw device pointers to other frameworks",
    "__dlpack__": "raw tensor exchange with other frameworks",
}
"""Attributes that export tensor data to the host or hand work to another engine."""
FORBIDDEN_CALLS = {
    "exec": "dynamic code",
    "eval": "dynamic code",
    "compile": "dynamic code",
    "__import__": "dynamic imports",
    "globals": "namespace introspection",
    "locals": "namespace introspection",
    "vars": "namespace introspection",
    "setattr": "dynamic attribute patching",
    "delattr": "dynamic attribute patching",
    "open": "file I/O",
    "breakpoint": "debugger",
    "input": "console input",
    "memoryview": "raw memory",
    "id": "object addresses",
    "bytes": "host copies of tensor bytes",
    "bytearray": "host copies of tensor bytes",
    "dir": "namespace introspection",
    "type": "type introspection (telling the recording's data-free tensors from real ones)",
}
RECORDING_TELLS = ("faketensor", "fake_tensor", "is_fake", "fake_mode", "is_meta", "functionalsubclass")
"""Names that tell a forward recorded on data-free tensors from one run on data (a plan recorded
one way and run another is not what was verified): refused wherever they appear."""
FORBIDDEN_ATTRIBUTES = {
    "__globals__",
    "__code__",
    "__closure__",
    "__builtins__",
    "__subclasses__",
    "__bases__",
    "__mro__",
    "__dict__",
    "__class__",
    "__getattribute__",
    "__kwdefaults__",
    "__defaults__",
    "f_back",
    "f_globals",
    "f_locals",
    "f_code",
    "tb_frame",
    "gi_frame",
    "cr_frame",
    "ag_frame",
    "gi_code",
    "cell_contents",
    "__self__",
    "__func__",
    "__wrapped__",
    "__loader__",
    "__spec__",
    "__base__",
    "__init_subclass__",
    "__import__",
    "f_trace",
    "f_lasti",
    "tb_next",
    "co_consts",
    "__traceback__",
    "__context__",
    "__cause__",
    "__getattr__",
    "mro",
}
PRIVATE_TORCH_ATTRIBUTES = {
    "_C",
    "_disable_current_modes",
    "_pop_mode",
    "_push_mode",
    "_python_dispatch",
    "_get_current_dispatch_mode",
    "_DisableTorchDispatch",
    "_disable_profiler",
    "_toggle_collection_dynamic",
    "_dynamo",
    "_inductor",
    "_set_torch_function_mode",
    "DisableTorchFunction",
    "DisableTorchFunctionSubclass",
    "TorchDispatchMode",
    "TorchFunctionMode",
    "_enable_torch_function",
    "_disabled_torch_function_impl",
}
HOST_METHODS = {
    "numpy": "host-side computation",
    "tolist": "host-side computation",
    "from_numpy": "host-side computation",
    "__array__": "host-side computation",
}
OS_ALLOWED = {"environ", "path", "getenv", "cpu_count", "sep", "linesep", "name"}
ALLOCATION_CALLS = {
    "empty",
    "empty_like",
    "empty_strided",
    "zeros",
    "zeros_like",
    "ones",
    "ones_like",
    "full",
    "full_like",
    "tensor",
    "as_tensor",
    "device",
    "Size",
    "dtype",
    "cdiv",
    "next_power_of_2",
}


LIBRARY_NAMES = {"torch", "triton", "tl", "F", "nn", "math"}
PRIVATE_ROOTS = frozenset({"torch", "triton", "dataclasses", "collections"})
"""Libraries whose private names are refused: torch's and Triton's internals, and the standard library's
code generators (``dataclasses._create_fn`` exec's whatever body it is given)."""
CODEGEN_INPUTS = frozenset({"__annotations__", "__dataclass_fields__"})
"""What ``dataclass`` builds its methods' source text from. The runtime guard lets the standard
library's code generation through only for plain identifier fields; written by the candidate (as a
name, an attribute or a string) these are refused here too."""
_FORMATTER = __import__("string").Formatter()
_FORMAT_ATTRIBUTE = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def _is_jit(decorator: ast.expr) -> bool:
    """``@triton.jit``, ``@jit``, ``@triton.jit(...)`` (and autotune/heuristics wrappers are separate)."""
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    dotted = dotted_name(target)
    return dotted is not None and dotted.rpartition(".")[2] == "jit"


class _Screen(ast.NodeVisitor):
    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.module_aliases: dict[str, str] = {}
        self.in_handler = 0
        self.in_kernel = 0
        self.called_names: set[int] = set()

    def add(self, node: ast.AST, message: str) -> None:
        self.findings.append(Finding(getattr(node, "lineno", 0), message))

    def _check_module(self, node: ast.AST, name: str, reached: bool = False) -> None:
        for forbidden, why in FORBIDDEN_MODULES.items():
            if "." in forbidden and reached and (name == forbidden or name.startswith(forbidden + ".")):
                self.add(node, f"uses `{name}` ({why} is not allowed in a candidate)")
                return
            if not reached and (name == forbidden or name.startswith(forbidden + ".")):
                self.add(node, f"imports `{name}` ({why} is not allowed in a candidate)")
                return
        if not reached:
            self._check_private_library(node, name)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(node, alias.name)
            self.module_aliases[alias.asname or alias.name.split(".")[0]] = (
                alias.name if alias.asname else alias.name.split(".")[0]
            )

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            self.add(node, "relative import (a candidate is a single self-contained file)")
        self._check_module(node, module)
        for alias in node.names:
            full = f"{module}.{alias.name}" if module else alias.name
            before = len(self.findings)
            self._check_module(node, full)
            if alias.name in PRIVATE_TORCH_ATTRIBUTES and len(self.findings) == before:
                self.add(node, f"imports `{full}` (torch's private dispatch/profiler machinery)")
            if alias.name in STRING_EVALUATORS:
                self.add(node, f"imports `{full}` (evaluating strings as code)")
            self.module_aliases[alias.asname or alias.name] = full

    def _resolve(self, dotted: str) -> str:
        head, _, rest = dotted.partition(".")
        base = self.module_aliases.get(head)
        if base is None:
            return dotted
        return f"{base}.{rest}" if rest else base

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in FORBIDDEN_ATTRIBUTES:
            self.add(node, f"accesses `.{node.attr}` (introspection of objects or frames)")
        if node.attr in PRIVATE_TORCH_ATTRIBUTES:
            self.add(node, f"uses `{node.attr}` (torch's private dispatch/profiler machinery)")
        why = "the interpreter's host arrays, which no GPU build has"
        if self.in_kernel and node.attr in INTERPRETER_INTERNALS:
            self.add(node, f"accesses `.{node.attr}` inside a Triton kernel ({why})")
        elif node.attr in ANYWHERE_INTERNALS:
            self.add(node, f"accesses `.{node.attr}` (in a helper a kernel can call: {why})")
        if HOST_EXPORTS.get(node.attr):
            self.add(node, f"uses `.{node.attr}` ({HOST_EXPORTS[node.attr]})")
        elif node.attr in HOST_METHODS and id(node) not in self.called_names:
            self.add(node, f"uses `.{node.attr}` ({HOST_METHODS[node.attr]}, reached without calling it here)")
        if node.attr in STRING_EVALUATORS:
            self.add(node, f"uses `.{node.attr}` (evaluating strings as code)")
        if node.attr in MODULES_REACHED_AS_ATTRIBUTES:
            why = FORBIDDEN_MODULES[node.attr]
            self.add(node, f"reaches the `{node.attr}` module through an attribute ({why})")
        dotted = dotted_name(node)
        if dotted is not None:
            resolved = self._resolve(dotted)
            if resolved.startswith("os.") and resolved.split(".")[1] not in OS_ALLOWED:
                self.add(node, f"uses `{resolved}` (only os.environ/os.path/os.getenv are allowed)")
            self._check_private_library(node, resolved)
            self._check_module(node, resolved, reached=True)
        self.generic_visit(node)

    def _check_private_library(self, node: ast.AST, resolved: str) -> None:
        """``torch._anything`` / ``triton._anything`` (private modules and internals), anywhere."""
        parts = resolved.split(".")
        if parts[0] in PRIVATE_ROOTS and any(p.startswith("_") and not p.startswith("__") for p in parts[1:]):
            self.add(node, f"uses `{resolved}` (a private {parts[0]} module or internal)")

    def _check_format_fields(self, node: ast.Constant, value: str) -> None:
        """``"{0.handle.data}".format(x)`` reads attributes by name where no ``ast.Attribute`` shows
        them (in the interpreter that is the host array behind a Triton value, printed in full)."""
        try:
            fields = [field for _, field, _, _ in _FORMATTER.parse(value) if field]
        except ValueError:
            return
        for field in fields:
            for attr in _FORMAT_ATTRIBUTE.findall(field):
                if (
                    attr in FORBIDDEN_ATTRIBUTES
                    or attr in INTERPRETER_INTERNALS
                    or attr in HOST_EXPORTS
                    or attr in HOST_METHODS
                    or attr in PRIVATE_TORCH_ATTRIBUTES
                ):
                    self.add(node, f"reads `.{attr}` through a format string field `{{{field}}}`")

    def visit_Constant(self, node: ast.Constant) -> None:
        """Name lists apply to constant strings too: ``getattr(torch, "_C")``, ``attrgetter("sys")``."""
        value = node.value
        if isinstance(value, str) and "{" in value:
            self._check_format_fields(node, value)
        if isinstance(value, str) and 0 < len(value) <= 120 and _NAME.fullmatch(value):
            parts = value.split(".")
            last = parts[-1]
            if (
                last in FORBIDDEN_ATTRIBUTES
                or last in PRIVATE_TORCH_ATTRIBUTES
                or last in ANYWHERE_INTERNALS
                or (last in MODULES_REACHED_AS_ATTRIBUTES)
                or HOST_EXPORTS.get(last)
                or last in HOST_METHODS
                or last in STRING_EVALUATORS
                or value in FORBIDDEN_CALLS
                or any(value == m or value.startswith(m + ".") for m in FORBIDDEN_MODULES)
                or (parts[0] in PRIVATE_ROOTS and any(p.startswith("_") and not p.startswith("__") for p in parts[1:]))
            ):
                self.add(node, f"names `{value}` in a string (a forbidden module, attribute or call by name)")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        """Dynamic-access builtins used as values (``g = getattr``, ``reduce(getattr, ...)``) hide
        what they reach from the checks on their calls; ``__builtins__`` reaches all of them."""
        if isinstance(node.ctx, ast.Load) and id(node) not in self.called_names:
            if node.id in FORBIDDEN_CALLS or node.id == "getattr":
                self.add(node, f"uses `{node.id}` as a value (passed on or renamed, it hides what it reaches)")
            elif node.id == "__builtins__":
                self.add(node, "uses `__builtins__` (every builtin, by computed name)")
        if node.id in STRING_EVALUATORS:
            self.add(node, f"uses `{node.id}` (evaluating strings as code)")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, (ast.Name, ast.Attribute)):
            self.called_names.add(id(func))  # a direct call is judged here, not as a value
        if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
            self.add(node, f"calls `{func.id}()` ({FORBIDDEN_CALLS[func.id]})")
        if isinstance(func, ast.Attribute) and func.attr in HOST_METHODS:
            self.add(node, f"calls `.{func.attr}()` ({HOST_METHODS[func.attr]} instead of a kernel)")
        if (
            isinstance(func, ast.Name)
            and func.id == "getattr"
            and len(node.args) >= 2
            and not (isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str))
        ):
            self.add(node, "calls `getattr()` with a computed attribute name (hides what is accessed)")
        if self.in_handler:
            dotted = dotted_name(func)
            if dotted is not None:
                resolved = self._resolve(dotted)
                leaf = resolved.rsplit(".", 1)[-1]
                if resolved.startswith("torch.") and leaf not in ALLOCATION_CALLS:
                    self.add(
                        node,
                        f"calls `{resolved}` inside an exception handler (a torch fallback for when the kernel fails)",
                    )
        self.generic_visit(node)

    def _check_targets(self, node: ast.AST, targets: list[ast.expr]) -> None:
        """Flag assignments into imported modules/library objects (``torch.x = ...``, ``F.__dict__[k] = ...``)."""
        for target in targets:
            if isinstance(target, (ast.Tuple, ast.List)):
                self._check_targets(node, list(target.elts))
                continue
            base = target.value if isinstance(target, ast.Subscript) else target
            if not isinstance(base, ast.Attribute) and not isinstance(target, ast.Subscript):
                continue
            dotted = dotted_name(base)
            if dotted is None:
                continue
            resolved = self._resolve(dotted)
            if resolved == "os.environ":
                continue
            if dotted.split(".")[0] in self.module_aliases or dotted.split(".")[0] in LIBRARY_NAMES:
                self.add(node, f"assigns `{resolved}` (patching a library attribute)")

    def visit_Assign(self, node: ast.Assign) -> None:
        self._check_targets(node, node.targets)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._check_targets(node, [node.target])
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._check_targets(node, [node.target])
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        self._check_targets(node, node.targets)
        self.generic_visit(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        self.in_handler += 1
        self.generic_visit(node)
        self.in_handler -= 1

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        kernel = any(_is_jit(d) for d in node.decorator_list)
        self.in_kernel += kernel
        self.generic_visit(node)
        self.in_kernel -= kernel

    def visit_Global(self, node: ast.Global) -> None:
        for name in node.names:
            if name in self.module_aliases:
                self.add(node, f"rebinds the imported name `{name}` globally")
        self.generic_visit(node)


def screen(source: str) -> list[Finding]:
    """Findings for ``source`` (empty when the screen passes). A syntax error is a finding too."""
    try:
        tree = parse_source(source)
    except SyntaxError as e:
        return [Finding(e.lineno or 0, f"syntax error: {e.msg}")]
    visitor = _Screen()
    visitor.visit(tree)
    for node in ast.walk(tree):
        text = (
            node.id
            if isinstance(node, ast.Name)
            else node.attr
            if isinstance(node, ast.Attribute)
            else node.value
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            else ""
        )
        if text in CODEGEN_INPUTS:
            visitor.findings.append(
                Finding(getattr(node, "lineno", 0), f"names `{text}` (the input of dataclasses' code generation)")
            )
        lowered = text.lower()
        tell = next((t for t in RECORDING_TELLS if t in lowered), None)
        if tell is not None:
            visitor.findings.append(
                Finding(
                    getattr(node, "lineno", 0),
                    f"names `{text[:60]}`: telling a forward recorded on data-free tensors from a real one",
                )
            )
    unique = {(f.line, f.message): f for f in visitor.findings}
    return sorted(unique.values(), key=lambda f: f.line)
