"""What the verifier's readers of source text share (the static screen, the kernel extractor): a
finding at a line, and the dotted name an expression spells. Standard library only."""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """Something a reader refuses, at a line of the source."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def dotted_name(node: ast.AST) -> str | None:
    """``a.b.c`` for an attribute chain on a plain name (``torch.nn.functional``), else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None
