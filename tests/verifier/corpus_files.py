"""The adversarial corpus as files: each entry's header, and its source as the verifier receives it.

An entry is one candidate file under ``corpus/``. Its docstring says what it tries and carries two
headers: ``expect:`` (``accepted``, or the check that must fail at run time) and ``static:``
(``none``, or a substring of the static screen's finding); an entry that an older verifier judged
otherwise also says ``before this round:`` what it did. A cheat the runtime checks accept on a CPU
by the design's known limits carries ``limit:`` (why, and what stands in its way instead); docs/verifier.md's
list of known limits names each such entry.

Most entries are the honest kernel of ``corpus/honest_dwconv.py`` plus one cheat. They hold only
their header and their cheat, and name the honest parts they take in a directive line::

    #include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

``CorpusEntry.source`` replaces the line with those parts of ``honest_dwconv.py``, so the verifier
still receives one standalone file per candidate. A part is ``imports`` (the leading import
statements), a top-level function, class or single-name assignment by name, ``Class.method`` (the
class statement through that method), or ``function[a:b]`` or ``Class.method[a:b]``: statements
``a`` to ``b`` of that function's body, as a Python slice (``dwconv_kernel[:6]``), or of a nested
block's body, each ``[i]`` before the slice stepping into statement ``i``'s body
(``dwconv_kernel[5][1][:2]``: the first two statements of the inner loop of the kernel's sixth
statement). Each part keeps the blank lines that follow it in the included file, except the last:
the entry's own text goes on from the line after the directive. A directive at the start of its
line takes the parts as written; an indented one moves them to its own indentation (a slice of a
kernel as the body of a nested block). An included file is expanded first, so a variant of another
cheat can take that cheat's parts (see ``tamper_reenable_gc.py``). A cheat whose point is how it
defines or launches its kernel writes that code itself: its ``def`` line and the statements it
changes, taking the unchanged runs of the honest kernel's statements by slice.

The standard library and the verifier only: ``benchmarks/verifier_corpus.py`` loads the corpus on a
GPU host without pytest.
"""

from __future__ import annotations

import ast
import functools
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

from verifier import Candidate

CORPUS = Path(__file__).parent / "corpus"
INCLUDE = re.compile(r"^( *)#include (\S+\.py): (.+)$", re.M)
SLICE = re.compile(r"^(\w+(?:\.\w+)?)((?:\[\d+\])*)\[(-?\d*):(-?\d*)\]$")


@dataclass(frozen=True)
class CorpusEntry:
    name: str
    path: Path
    expect: str
    """``accepted`` or the check that must fail at run time."""
    static: str
    """``none`` or a substring of the static screen's finding."""
    limit: str | None = None
    """Why a cheat is accepted at run time on a CPU (a documented limit of the design), or None."""

    def source(self, **substitutions: str) -> str:
        """The candidate's source: the file with its directives expanded and each ``@KEY@`` replaced."""
        text = expand(self.path.read_text(), self.path.parent, (self.path.resolve(),))
        for key, value in substitutions.items():
            text = text.replace(f"@{key}@", value)
        return text

    def candidate(self, **substitutions: str) -> Candidate:
        return Candidate(source=self.source(**substitutions), name=self.name)


def load_corpus(directory: Path = CORPUS) -> list[CorpusEntry]:
    """Every entry in ``directory`` (the ``reference*`` files are the task, not candidates)."""
    entries = []
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("reference"):
            continue
        text = path.read_text()
        expect = re.search(r"^expect: (\S+)$", text, re.M)
        static = re.search(r"^static: (.+)$", text, re.M)
        limit = re.search(r"^limit: (.+)$", text, re.M)
        if not (expect and static):
            raise ValueError(f"{path} lacks its expect:/static: header")
        entries.append(
            CorpusEntry(path.stem, path, expect.group(1), static.group(1).strip(), limit.group(1) if limit else None)
        )
    return entries


def corpus_entry(name: str, directory: Path = CORPUS) -> CorpusEntry:
    """The entry named ``name`` (its file's stem); read its source through ``source()``, never raw."""
    path = directory / f"{name}.py"
    if not path.is_file():
        raise KeyError(f"no corpus entry {name!r} in {directory}")
    return next(e for e in load_corpus(directory) if e.name == name)


def expand(text: str, directory: Path, within: tuple[Path, ...] = ()) -> str:
    """``text`` with each ``#include FILE: PART, ...`` line replaced by those parts of ``directory/FILE``
    (itself expanded first; ``within`` are the files being expanded, which it may not include)."""

    def include(match: re.Match[str]) -> str:
        indent, file, names = match.group(1), match.group(2), [n.strip() for n in match.group(3).split(",")]
        path = (directory / file).resolve()
        if path in within:
            raise ValueError(f"{file} includes itself")
        slices = {n: _statements(path, (*within, path), n) for n in names if SLICE.match(n)}
        parts = _parts(path, (*within, path)) | slices
        if unknown := [n for n in names if n not in parts]:
            raise ValueError(f"{file} has no part {unknown[0]!r}; it has {', '.join(parts)}")
        pieces = [parts[n][0] + parts[n][1] for n in names[:-1]] + [parts[names[-1]][0]]
        taken = "".join(pieces).removesuffix("\n")
        if not indent:
            return taken
        shift = len(indent) - (len(taken) - len(taken.lstrip(" ")))
        if shift < 0:
            raise ValueError(f"{file}: the directive is indented less than the part it takes")
        return "\n".join(" " * shift + line if line.strip() else line for line in taken.split("\n"))

    return INCLUDE.sub(include, text)


def _first_line(node: ast.stmt) -> int:
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])


@functools.cache
def _module(path: Path, within: tuple[Path, ...]) -> tuple[list[str], list[ast.stmt]]:
    """A file, as expanded: its lines and its top-level statements."""
    text = expand(path.read_text(), path.parent, within)
    return text.splitlines(keepends=True), ast.parse(text).body


def _part(path: Path, lines: list[str], first: int, last: int, following: ast.stmt | None) -> tuple[str, str]:
    """Lines ``first`` to ``last`` of a file and the blank lines after them, up to ``following``."""
    gap = "".join(lines[last : _first_line(following) - 1]) if following else ""
    if gap.strip():
        raise ValueError(f"{path.name}: only blank lines may follow a part (line {last + 1})")
    return "".join(lines[first - 1 : last]), gap


def _statements(path: Path, within: tuple[Path, ...], name: str) -> tuple[str, str]:
    """The part ``function[a:b]`` or ``Class.method[a:b]``: those statements of the function's body."""
    function, steps, start, stop = SLICE.match(name).groups()  # type: ignore[union-attr]
    lines, body = _module(path, within)
    following: ast.stmt | None = None
    *classes, last = function.split(".")
    for step, kind in [*((c, ast.ClassDef) for c in classes), (last, ast.FunctionDef)]:
        nodes = [n for n in body if isinstance(n, kind) and n.name == step]
        if not nodes:
            raise ValueError(f"{path.name} has no function {function!r}")
        following = dict(zip(body, [*body[1:], following], strict=True))[nodes[-1]]
        body = nodes[-1].body
    for step in map(int, re.findall(r"\[(\d+)\]", steps)):  # into the body of statement ``step``
        if step >= len(body) or not isinstance(getattr(body[step], "body", None), list):
            raise ValueError(f"{path.name}: {name}: statement {step} has no body")
        following = dict(zip(body, [*body[1:], following], strict=True))[body[step]]
        body = body[step].body
    after = dict(zip(body, [*body[1:], following], strict=True))
    chosen = body[slice(int(start) if start else None, int(stop) if stop else None)]
    if not chosen:
        raise ValueError(f"{path.name}: {name} takes no statement")
    return _part(path, lines, _first_line(chosen[0]), chosen[-1].end_lineno, after[chosen[-1]])


@functools.cache
def _parts(path: Path, within: tuple[Path, ...]) -> dict[str, tuple[str, str]]:
    """The parts of a file, as expanded: name -> (its lines, the blank lines after it)."""
    lines, body = _module(path, within)

    def part(first: int, last: int, following: ast.stmt | None) -> tuple[str, str]:
        return _part(path, lines, first, last, following)

    parts: dict[str, tuple[str, str]] = {}
    following = dict(zip(body, [*body[1:], None], strict=True))

    def is_import(node: ast.stmt) -> bool:
        return isinstance(node, ast.Import | ast.ImportFrom)

    if imports := list(itertools.takewhile(is_import, itertools.dropwhile(lambda n: not is_import(n), body))):
        parts["imports"] = part(imports[0].lineno, imports[-1].end_lineno, following[imports[-1]])
    for node in body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            parts[node.targets[0].id] = part(node.lineno, node.end_lineno, following[node])
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            parts[node.name] = part(_first_line(node), node.end_lineno, following[node])
        if isinstance(node, ast.ClassDef):
            methods = node.body
            for method, after in zip(methods, [*methods[1:], following[node]], strict=True):
                if isinstance(method, ast.FunctionDef):
                    parts[f"{node.name}.{method.name}"] = part(_first_line(node), method.end_lineno, after)
    return parts
