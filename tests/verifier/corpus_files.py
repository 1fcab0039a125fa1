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
statements), a top-level function, class or single-name assignment by name, or ``Class.method``
(the class statement through that method). Each part keeps the blank lines that follow it in the
included file, except the last: the entry's own text goes on from the line after the directive. An
included file is expanded first, so a variant of another cheat can take that cheat's parts (see
``tamper_reenable_gc.py``). A cheat whose point is how it defines or launches its kernel writes that
code itself.

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
INCLUDE = re.compile(r"^#include (\S+\.py): (.+)$", re.M)


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


def expand(text: str, directory: Path, within: tuple[Path, ...] = ()) -> str:
    """``text`` with each ``#include FILE: PART, ...`` line replaced by those parts of ``directory/FILE``
    (itself expanded first; ``within`` are the files being expanded, which it may not include)."""

    def include(match: re.Match[str]) -> str:
        path = (directory / match.group(1)).resolve()
        if path in within:
            raise ValueError(f"{match.group(1)} includes itself")
        parts = _parts(path, (*within, path))
        names = [name.strip() for name in match.group(2).split(",")]
        if unknown := [n for n in names if n not in parts]:
            raise ValueError(f"{match.group(1)} has no part {unknown[0]!r}; it has {', '.join(parts)}")
        pieces = [parts[n][0] + parts[n][1] for n in names[:-1]] + [parts[names[-1]][0]]
        return "".join(pieces).removesuffix("\n")

    return INCLUDE.sub(include, text)


@functools.cache
def _parts(path: Path, within: tuple[Path, ...]) -> dict[str, tuple[str, str]]:
    """The parts of a file, as expanded: name -> (its lines, the blank lines after it)."""
    text = expand(path.read_text(), path.parent, within)
    lines = text.splitlines(keepends=True)

    def first_line(node: ast.stmt) -> int:
        return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])

    def part(first: int, last: int, following: ast.stmt | None) -> tuple[str, str]:
        gap = "".join(lines[last : first_line(following) - 1]) if following else ""
        if gap.strip():
            raise ValueError(f"{path.name}: only blank lines may follow a part (line {last + 1})")
        return "".join(lines[first - 1 : last]), gap

    body = ast.parse(text).body
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
            parts[node.name] = part(first_line(node), node.end_lineno, following[node])
        if isinstance(node, ast.ClassDef):
            methods = node.body
            for method, after in zip(methods, [*methods[1:], following[node]], strict=True):
                if isinstance(method, ast.FunctionDef):
                    parts[f"{node.name}.{method.name}"] = part(first_line(node), method.end_lineno, after)
    return parts
