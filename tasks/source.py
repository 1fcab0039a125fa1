"""Reference sources as text: read them from the package, list and rewrite their top-level constants.

A task's reference is a KernelBench-format module whose sizes and dtype are top-level constants
(``BATCH = 2``, ``DTYPE = "float32"``) read at call time by ``get_inputs``/``get_init_inputs``.
Shape configurations override those constants; the task's source *as written* is its family's
template with the constants of its first small shape written in and a docstring of its own.
Sources are only ever read and parsed here, never imported.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

from verifier.parsing import parse as parse_source

_SOURCES_PACKAGE = "tasks.sources"


class SourceError(ValueError):
    """A reference source is malformed for the task suite (missing constant, bad literal...)."""


_INCLUDE = re.compile(r"^# include: (\w+\.py): (\w+)\n", re.MULTILINE)
"""A line ``# include: FILE.py: NAME`` in a reference template: the top-level function or class NAME of
``tasks/sources/FILE.py`` stands there (code several references share, written once)."""


def read_packaged_source(filename: str) -> str:
    """Text of ``tasks/sources/<filename>`` (package data; read as text, never imported), each
    ``# include:`` line replaced by the part it names: a reference is still one standalone module."""
    return _INCLUDE.sub(lambda m: _top_level_part(_packaged_text(m.group(1)), m.group(2)), _packaged_text(filename))


def _packaged_text(filename: str) -> str:
    path = resources.files(_SOURCES_PACKAGE).joinpath(filename)
    if not path.is_file():
        raise SourceError(f"no packaged reference source named {filename!r}")
    return path.read_text(encoding="utf-8")


def _top_level_part(text: str, name: str) -> str:
    """The lines of the top-level function or class ``name`` in ``text``."""
    for node in parse_source(text).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name:
            return "".join(text.splitlines(keepends=True)[node.lineno - 1 : node.end_lineno])
    raise SourceError(f"no top-level function or class {name!r} to include")


def _is_json_like(value: Any) -> bool:
    if isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list | tuple):
        return all(_is_json_like(v) for v in value)
    return False


def python_literal(value: Any) -> str:
    """Source text of a JSON-like value, strings double-quoted (``"float32"``, ``[5, 7]``, ``True``)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    if isinstance(value, bool | int | float):
        return repr(value)
    raise SourceError(f"{value!r} is not JSON-like (int, float, str, bool, list)")


def module_constants(source: str) -> dict[str, Any]:
    """Top-level ``NAME = <literal>`` assignments whose value is JSON-like (int, float, str, bool, lists).

    These are what a shape configuration may override.
    """
    tree = parse_source(source)
    out: dict[str, Any] = {}
    for node in tree.body:
        target, value = _simple_assignment(node)
        if target is None or value is None:
            continue
        try:
            literal = ast.literal_eval(value)
        except ValueError:
            continue
        if _is_json_like(literal):
            out[target] = list(literal) if isinstance(literal, tuple) else literal
    return out


def _simple_assignment(node: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id, node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        return node.target.id, node.value
    return None, None


def _line_offsets(source: str) -> list[int]:
    offsets = [0]
    for line in source.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    return offsets


def _span(offsets: list[int], source: str, node: ast.AST) -> tuple[int, int]:
    # ast column offsets count UTF-8 bytes; the sources are ASCII, checked in render_source.
    start = offsets[node.lineno - 1] + node.col_offset  # type: ignore[attr-defined]
    end = offsets[node.end_lineno - 1] + node.end_col_offset  # type: ignore[attr-defined]
    return start, end


def render_source(template: str, constants: Mapping[str, Any], docstring: str | None = None) -> str:
    """``template`` with the given top-level constants rewritten and, optionally, a new module docstring.

    Every name in ``constants`` must already be a top-level JSON-like constant of ``template``.
    """
    if not template.isascii():
        raise SourceError("reference templates must be ASCII (column offsets are byte offsets)")
    known = module_constants(template)
    unknown = sorted(set(constants) - set(known))
    if unknown:
        raise SourceError(f"not top-level constants of the template: {', '.join(unknown)}")
    for name, value in constants.items():
        if not _is_json_like(value):
            raise SourceError(f"constant {name} = {value!r} is not JSON-like (int, float, str, bool, list)")

    tree = parse_source(template)
    offsets = _line_offsets(template)
    edits: list[tuple[int, int, str]] = []
    for node in tree.body:
        target, value = _simple_assignment(node)
        if target in constants and value is not None:
            start, end = _span(offsets, template, value)
            edits.append((start, end, python_literal(constants[target])))
    if docstring is not None:
        if '"""' in docstring or "\\" in docstring or not docstring.isascii():
            raise SourceError("task docstrings must be ASCII without backslashes or triple quotes")
        first = tree.body[0] if tree.body else None
        text = f'"""{docstring.strip()}\n"""'
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            start, end = _span(offsets, template, first)
            edits.append((start, end, text))
        else:
            edits.append((0, 0, text + "\n\n"))
    out = template
    for start, end, text in sorted(edits, reverse=True):
        out = out[:start] + text + out[end:]
    parse_source(out)  # the result must still be a valid module
    return out
