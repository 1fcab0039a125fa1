"""Static checks of submitted sources. Request content is parsed (ast), never executed here.

Parsing goes through ``service.astlock.parse`` (one parse at a time in this process: gh-106905).
"""

from __future__ import annotations

import ast

from fastapi import HTTPException

from service.astlock import parse


def _reject(message: str) -> HTTPException:
    return HTTPException(422, message)


def _parse(source: str, what: str, max_bytes: int) -> ast.Module:
    size = len(source.encode("utf-8"))
    if size > max_bytes:
        raise HTTPException(
            413,
            f"{what} is {size} bytes; the limit is {max_bytes} (KILN_MAX_SOURCE_BYTES)",
        )
    if not source.strip():
        raise _reject(f"{what} is empty")
    if "\x00" in source:
        at = source.index("\x00")
        line = source.count("\n", 0, at) + 1
        column = at - (source.rfind("\n", 0, at) + 1) + 1
        raise _reject(f"{what} contains a NUL character at line {line}, column {column}; Python source cannot")
    try:
        return parse(source)
    except SyntaxError as e:
        where = f"at line {e.lineno}" if e.lineno else "(no line reported)"
        raise _reject(f"{what} has a syntax error {where}: {e.msg}") from None
    except (ValueError, RecursionError, MemoryError) as e:  # nesting too deep for the parser, ...
        raise _reject(f"{what} cannot be parsed: {type(e).__name__}: {e}") from None


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def check_reference(source: str, max_bytes: int, what: str = "reference_source") -> set[str]:
    """A KernelBench-format reference: ``Model``, ``get_inputs`` and ``get_init_inputs`` at top level.
    Returns the names it assigns or defines at top level."""
    names = _top_level_names(_parse(source, what, max_bytes))
    missing = [n for n in ("Model", "get_inputs", "get_init_inputs") if n not in names]
    if missing:
        raise _reject(f"{what} is not in KernelBench format: it defines no " + ", ".join(missing))
    return names


def check_candidate(source: str, max_bytes: int) -> None:
    names = _top_level_names(_parse(source, "candidate_source", max_bytes))
    if "ModelNew" not in names:
        raise _reject("candidate_source defines no ModelNew class")
