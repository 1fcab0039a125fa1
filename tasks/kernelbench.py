"""Load a directory of KernelBench problem files as tasks, unchanged and without executing them.

``load_kernelbench_dir("KernelBench/level1")`` turns ``1_Square_matrix_multiplication_.py`` into the
task ``kb.level1.1_square_matrix_multiplication`` (family ``kernelbench``) with one shape,
``as_written``. A directory holding ``level1/``, ``level2/``... subdirectories works too. Each file
is checked statically (``ast``) for ``class Model``, ``def get_inputs`` and ``def get_init_inputs``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from tasks.model import Shape, Task, TaskError
from tasks.problem_files import UnsafeProblemFile, read_problem
from tasks.source import module_constants
from verifier.parsing import parse as parse_source

FAMILY = "kernelbench"
REQUIRED = ("Model", "get_inputs", "get_init_inputs")
MAX_TASK_ID = 200
"""The longest task id the store keeps (``tasks.id``): a longer one is refused before any is stored."""


class KernelBenchFormatError(TaskError):
    """A file is not a KernelBench problem (syntax error, or a required definition is missing)."""


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if not s:
        raise KernelBenchFormatError(f"cannot make an id part from {text!r}")
    return s


def check_kernelbench_source(source: str, filename: str = "<source>") -> ast.Module:
    """Parse ``source`` and check it defines ``Model``, ``get_inputs`` and ``get_init_inputs`` at top level."""
    try:
        tree = parse_source(source, filename=filename)
    except SyntaxError as e:
        raise KernelBenchFormatError(f"{filename}: syntax error: {e.msg} (line {e.lineno})") from None
    defined: dict[str, type] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            defined[node.name] = type(node)
    problems = []
    if defined.get("Model") is not ast.ClassDef:
        problems.append("no top-level `class Model`")
    for fn in ("get_inputs", "get_init_inputs"):
        if defined.get(fn) is not ast.FunctionDef:
            problems.append(f"no top-level `def {fn}()`")
    if problems:
        raise KernelBenchFormatError(f"{filename}: not a KernelBench problem: {'; '.join(problems)}")
    return tree


def kernelbench_task_id(path: Path, root: Path, prefix: str = "kb") -> str:
    """``<prefix>.<subdirs>.<file stem>`` in lower snake case; a root named ``levelN`` is kept as a part."""
    rel = path.relative_to(root)
    parts = list(rel.parent.parts)
    if not parts and re.fullmatch(r"level\d+", root.name.lower()):
        parts = [root.name]
    task_id = ".".join([prefix, *(_slug(p) for p in parts), _slug(rel.stem)])
    if len(task_id) > MAX_TASK_ID:
        raise KernelBenchFormatError(
            f"{path}: its task id would be {len(task_id)} characters (the most is {MAX_TASK_ID})"
        )
    return task_id


def load_kernelbench_file(path: str | Path, task_id: str, root: str | Path | None = None) -> Task:
    """One KernelBench problem file as a task with id ``task_id`` (checked statically, not run); read
    by ``tasks.problem_files.read_problem`` (a regular file inside ``root``, default its directory)."""
    p = Path(path)
    source = read_problem(p, Path(root) if root is not None else p.parent)
    tree = check_kernelbench_source(source, str(p))
    doc = ast.get_docstring(tree)
    description = doc.strip() if doc else f"KernelBench problem {p.name}, as written."
    return Task(
        id=task_id,
        family=FAMILY,
        title=p.stem.replace("_", " ").strip(),
        description=description,
        source=source,
        shapes=(Shape("as_written", {}, "realistic", "the file's own constants"),),
        constants=module_constants(source),
        origin=str(p),
    )


def _problem_files(root: Path) -> list[Path]:
    return sorted(
        (f for f in root.rglob("*.py") if f.name != "__init__.py" and not f.name.startswith(".")),
        key=lambda f: [_natural_key(part) for part in f.relative_to(root).parts],
    )


def _check_prefix(prefix: str) -> str:
    prefix = prefix.strip(".")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", prefix):
        raise TaskError(f"prefix {prefix!r} must be lower snake case")
    return prefix


def scan_kernelbench_dir(path: str | Path, prefix: str = "kb") -> tuple[list[Task], list[tuple[Path, str]]]:
    """Every problem under ``path`` as a task, and ``(file, one-line reason)`` for each file that is not one.

    Like ``load_kernelbench_dir`` but a bad file (syntax error, missing ``Model``/``get_inputs``/
    ``get_init_inputs``, not UTF-8, an id clash) is reported and the others are still loaded.
    """
    found: list[Task] = []
    errors: list[tuple[Path, str]] = []
    for f, got in _each_problem(path, prefix):
        if isinstance(got, Task):
            found.append(got)
        elif isinstance(got, UnsafeProblemFile):
            errors.append((f, str(got)))
        elif isinstance(got, UnicodeDecodeError):
            errors.append((f, f"{f}: not UTF-8 text ({got.reason} at byte {got.start})"))
        elif isinstance(got, OSError):
            errors.append((f, f"{f}: cannot read: {got.strerror or got}"))
        else:
            errors.append((f, str(got)))
    return found, errors


def _each_problem(path: str | Path, prefix: str) -> Iterator[tuple[Path, Task | Exception]]:
    """Each problem file under ``path`` with its task, or why it is not one (a format error, a file
    that is not UTF-8 or cannot be read, an id another file already has)."""
    root = Path(path)
    if not root.is_dir():
        raise NotADirectoryError(f"not a directory: {root}")
    prefix = _check_prefix(prefix)
    seen: dict[str, Path] = {}
    for f in _problem_files(root):
        try:
            task_id = kernelbench_task_id(f, root, prefix)
            if task_id in seen:
                raise KernelBenchFormatError(f"{f} and {seen[task_id]} both map to task id {task_id}")
            task = load_kernelbench_file(f, task_id, root)
        except (KernelBenchFormatError, UnicodeDecodeError, OSError) as e:
            yield f, e
            continue
        seen[task_id] = f
        yield f, task


def level_of(task_id: str) -> int | None:
    """The KernelBench level in an imported task's id (``kb.level1.x`` -> 1), or None."""
    for part in task_id.split("."):
        m = re.fullmatch(r"level(\d+)", part)
        if m:
            return int(m.group(1))
    return None


def with_small_shape(task: Task, params: dict[str, Any], note: str) -> Task:
    """``task`` with a ``small`` shape (constant overrides, e.g. from ``tasks.shrink``) before ``as_written``.

    Constants the shape overrides that are not literal in the source (``N = 2048 * 2``) are added to
    the task's constants with their written values.
    """
    from tasks.shrink import constant_table

    constants = dict(task.constants)
    written = constant_table(task.source).values
    for name in params:
        if name not in constants and name in written:
            constants[name] = written[name]
    small = Shape("small", params, "small", note)
    return replace(task, shapes=(small, *(s for s in task.shapes if s.name != "small")), constants=constants)


def load_kernelbench_dir(path: str | Path, prefix: str = "kb", skip_invalid: bool = False) -> list[Task]:
    """Every ``*.py`` problem under ``path`` (recursively, sorted) as a task; none is executed.

    Shapes are "as written" only (tier ``realistic``: KernelBench sizes are GPU sizes), tolerances
    the verifier's defaults, no cost model. An invalid file raises ``KernelBenchFormatError``
    unless ``skip_invalid``. Pass the result to ``tasks.register`` to make ``tasks.get`` find them.
    """
    out: list[Task] = []
    for _, got in _each_problem(path, prefix):
        if isinstance(got, Task):
            out.append(got)
        elif isinstance(got, OSError):
            raise got
        elif not skip_invalid:
            raise KernelBenchFormatError(str(got)) from got
    return out


def _natural_key(name: str) -> tuple:
    # "2_x.py" before "10_x.py"
    return tuple(int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name))
