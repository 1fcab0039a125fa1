"""Static (ast) extraction of what a candidate needs from the reference: ``Model`` without its forward.

The candidate subclasses the reference's ``Model`` so that its constructor signature and parameter
names are the reference's own (the verifier loads parameters by state-dict name). The class is
copied with the imports and top-level helpers/constants it uses, minus ``forward`` (the candidate
replaces it, and the reference's forward code has no business in a candidate). Nothing is executed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from verifier.parsing import parse as parse_source


class ModelSourceError(ValueError):
    """The reference has no usable ``class Model``."""


@dataclass(frozen=True)
class ModelSource:
    support: str
    """Imports, helpers and the ``Model`` class (without forward), as source text."""
    forward_args: list[str]
    """Names of forward's positional parameters (after self)."""
    class_def: ast.ClassDef


_COPYABLE = (ast.Assign, ast.AnnAssign, ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)


def _names_used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _bound_names(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {stmt.name}
    if isinstance(stmt, ast.Assign):
        return {n.id for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return {stmt.target.id}
    return set()


def extract_model(source: str) -> ModelSource:
    try:
        tree = parse_source(source)
    except SyntaxError as e:
        raise ModelSourceError(f"the reference does not parse: {e.msg} (line {e.lineno})") from None
    model = next((s for s in tree.body if isinstance(s, ast.ClassDef) and s.name == "Model"), None)
    if model is None:
        raise ModelSourceError("the reference defines no top-level `class Model`")
    forward = next((s for s in model.body if isinstance(s, ast.FunctionDef) and s.name == "forward"), None)
    if forward is None:
        raise ModelSourceError("`Model` defines no forward()")
    if forward.args.vararg is not None or forward.args.kwonlyargs:
        args: list[str] = []
    else:
        args = [a.arg for a in [*forward.args.posonlyargs, *forward.args.args][1:]]

    body = [s for s in model.body if s is not forward]
    if not any(not isinstance(s, ast.Expr) for s in body):
        body.append(ast.Pass())
    stripped = ast.ClassDef(
        name=model.name,
        bases=model.bases,
        keywords=model.keywords,
        body=body,
        decorator_list=model.decorator_list,
        type_params=getattr(model, "type_params", []),
    )
    ast.copy_location(stripped, model)

    needed = _names_used(stripped)
    kept: list[ast.stmt] = []
    others = [s for s in tree.body if s is not model and not isinstance(s, ast.Expr)]
    changed = True
    while changed:  # pull in the top-level statements the kept code refers to, transitively
        changed = False
        for stmt in others:
            if stmt in kept or not (_bound_names(stmt) & needed):
                continue
            if isinstance(stmt, _COPYABLE):
                kept.append(stmt)
                needed |= _names_used(stmt)
                changed = True
    ordered = [s for s in tree.body if s in kept]
    imports = [s for s in ordered if isinstance(s, ast.Import | ast.ImportFrom)]
    rest = [s for s in ordered if s not in imports]
    parts = [ast.unparse(s) for s in imports] + [""] + [ast.unparse(s) for s in rest] + [ast.unparse(stripped)]
    return ModelSource(support="\n".join(p for p in parts).strip() + "\n", forward_args=args, class_def=stripped)
