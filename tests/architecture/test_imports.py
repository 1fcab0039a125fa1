"""The import graph of the project's packages, read with ``ast`` (nothing is imported): no cycles, and
the layers hold (docs/architecture.md: the verifier imports only the standard library, torch and
triton; the verifier and the task suite import neither the service nor the store; the generators
never touch the store)."""

from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = tuple(
    sorted(d.name for d in ROOT.iterdir() if (d / "__init__.py").exists() and d.name not in ("tests", "benchmarks"))
)
"""The project's packages: every top-level folder with an ``__init__.py`` (the tests and benchmarks aside)."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def _type_checking_only(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and ast.unparse(test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")


@functools.cache
def imported_names(path: Path, module: str) -> frozenset[str]:
    """Every module name ``path`` imports, at any depth (functions included: a lazy import still runs),
    except under ``if TYPE_CHECKING:``; relative imports made absolute."""
    names: set[str] = set()
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    stack: list[ast.AST] = [ast.parse(path.read_text())]
    while stack:
        node = stack.pop()
        if _type_checking_only(node):
            stack.extend(getattr(node, "orelse", []))
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            names.update(f"{base}.{alias.name}" for alias in node.names)
            names.add(base)
        stack.extend(ast.iter_child_nodes(node))
    return frozenset(names)


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports. ``from pkg import name`` counts as importing
    ``pkg.name`` when that is a module, else ``pkg``; a module's own parent packages are left out
    (Python imports them first whatever the module says)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        edges = set()
        for name in imported_names(path, module):
            if name not in modules and name.rpartition(".")[0] in modules and name.count("."):
                name = name.rpartition(".")[0]
            if name in modules and name != module and not module.startswith(name + "."):
                edges.add(name)
        graph[module] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_cycles() -> None:
    """A guard on the finder itself: a two-module and a three-module cycle beside an acyclic part."""
    graph = {"a": {"b"}, "b": {"a", "c"}, "c": set(), "x": {"y"}, "y": {"z"}, "z": {"x"}, "w": {"x"}}
    assert sorted(cycles(graph)) == [["a", "b"], ["x", "y", "z"]]


def test_the_graph_sees_lazy_and_relative_imports() -> None:
    graph = import_graph()
    assert "verifier.worker.zygote" in graph["verifier.worker.__main__"]  # imported inside main()
    assert "service.executors.base" in graph["service.executors.ray_executor"]
    assert len(graph) > 150
    assert {"service", "agents", "verifier", "tasks", "kernels_store"} <= set(PACKAGES)


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles (each a group of modules that import one another):\n" + "\n".join(
        " <-> ".join(group) for group in found
    )


def _outside_imports(package: str) -> dict[str, set[str]]:
    modules = _modules()
    return {
        module: {name.split(".")[0] for name in imported_names(path, module)}
        for module, path in modules.items()
        if module == package or module.startswith(package + ".")
    }


def test_the_verifier_imports_only_the_standard_library_torch_and_triton() -> None:
    # numpy: what Triton's interpreter itself imports (the CPU path), in every worker image too
    allowed = set(sys.stdlib_module_names) | {"torch", "triton", "numpy", "verifier", ""}
    wrong = {m: sorted(n - allowed) for m, n in _outside_imports("verifier").items() if n - allowed}
    assert not wrong, f"the verifier must run on a GPU host with only torch and triton: {wrong}"


def test_layers() -> None:
    rules = {"verifier": {"service", "kernels_store", "agents", "tasks"}, "tasks": {"service", "kernels_store"}}
    rules["agents"] = {"service", "kernels_store"}
    wrong = {
        module: sorted(names & refused)
        for package, refused in rules.items()
        for module, names in _outside_imports(package).items()
        if names & refused
    }
    assert not wrong, f"imports across the layers (docs/architecture.md): {wrong}"
