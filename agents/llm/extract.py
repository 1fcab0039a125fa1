"""Pull the candidate module out of a model's answer: a small line parser, not a regex.

1. Reasoning sections (``<think>``/``<thinking>``/``<reasoning>``, and everything before a lone
   closing tag, which chat templates that open the tag in the prompt produce) are dropped.
2. Fences are paired per line, as Markdown does: an opening line of three or more backticks or
   tildes (any info string, indented or not) is closed only by a line holding the same character
   at least as many times and nothing else; a fence-like line with an info string inside a block
   is content. The opening line's indentation is removed from the block, then the common one.
3. Of the blocks (and of the whole answer when it has no fence), the last *complete module* is
   taken: it parses, defines ``class ModelNew`` at the top level and binds every name it uses
   (an excerpt after the full module uses ``nn`` without importing it). Python-tagged blocks win.
4. When no block is complete, one that defines ``ModelNew`` goes to the verifier when its fault is
   the model's to fix (a syntax error, a name bound nowhere: the verifier's report is the feedback);
   an excerpt (``nn``, ``torch``, ``tl``... never imported), prose or a block without ``ModelNew``
   is refused with a ``problem`` saying why, and nothing is verified.
"""

from __future__ import annotations

import ast
import builtins
import re
import textwrap
from dataclasses import dataclass

_REASONING = re.compile(r"<(think|thinking|reasoning)>.*?(</\1>|\Z)", re.DOTALL | re.IGNORECASE)
_LONE_CLOSE = re.compile(r"</(think|thinking|reasoning)>", re.IGNORECASE)
_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")
_MODEL_NEW = re.compile(r"^\s*class\s+ModelNew\b", re.MULTILINE)
_PYTHON_TAGS = frozenset({"", "python", "py", "python3", "py3"})
_BUILTINS = frozenset(dir(builtins)) | {"__name__", "__file__", "__doc__"}
_LIBRARY_ALIASES = frozenset({"torch", "nn", "F", "triton", "tl", "math", "load_inline"})
"""Unbound, these mark an excerpt (the imports are in another block), not a bug to verify."""


@dataclass(frozen=True)
class Block:
    body: str
    info: str
    closed: bool

    @property
    def python(self) -> bool:
        return self.info.split()[0].lower() in _PYTHON_TAGS if self.info.split() else True


@dataclass(frozen=True)
class Extraction:
    code: str | None
    """The module to verify, or None."""
    problem: str = ""
    """Why nothing is verified (for the model's next prompt); '' when ``code`` is set."""
    complete: bool = False
    """``code`` is a complete module (parses, defines ModelNew, binds every name it uses)."""


def strip_reasoning(answer: str) -> str:
    """The answer without its reasoning sections."""
    text = _REASONING.sub("", answer)
    closes = list(_LONE_CLOSE.finditer(text))
    return text[closes[-1].end() :] if closes else text


def fenced_blocks(text: str) -> list[Block]:
    """Every fenced block of ``text`` in order; an unclosed last block runs to the end."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _OPEN.match(lines[i])
        if m is None:
            i += 1
            continue
        indent, fence, info = len(m["indent"].expandtabs(4)), m["fence"], m["info"].strip()
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body: list[str] = []
        i += 1
        closed = False
        while i < len(lines):
            if close.match(lines[i]):
                closed = True
                i += 1
                break
            body.append(_unindent(lines[i], indent))
            i += 1
        blocks.append(Block(textwrap.dedent("\n".join(body)).strip("\n") + "\n", info, closed))
    return blocks


def _unindent(line: str, width: int) -> str:
    expanded = line.expandtabs(4)
    strip = min(width, len(expanded) - len(expanded.lstrip(" ")))
    return expanded[strip:]


def unbound_names(tree: ast.Module) -> set[str]:
    """Names the module loads but never binds (imports, definitions, assignments, parameters...)."""
    bound: set[str] = set()
    loaded: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            bound.update(node.names)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            bound.add(node.name)
    return loaded - bound - _BUILTINS


def judge(source: str) -> tuple[int, str]:
    """How usable ``source`` is, and what it lacks ('' when nothing): 3 a complete module; 2 it parses and
    defines ModelNew but loads names it never binds (a bug for the verifier to report, ``w_undefined``);
    1 it defines ModelNew but does not parse (the verifier reports the syntax error); 0 unusable (no
    ModelNew, or an excerpt that uses a library it does not import)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        why = f"does not parse (line {e.lineno}: {e.msg})"
        return (1 if _MODEL_NEW.search(source) else 0), why
    if not any(isinstance(n, ast.ClassDef) and n.name == "ModelNew" for n in tree.body):
        return 0, "defines no top-level `class ModelNew`"
    missing = sorted(unbound_names(tree))
    if not missing:
        return 3, ""
    why = "uses " + ", ".join(f"`{n}`" for n in missing[:5]) + " without importing or defining it"
    return (0 if _LIBRARY_ALIASES & set(missing) else 2), why


def extract(answer: str) -> Extraction:
    """The module to verify from ``answer``, or the reason there is none."""
    text = strip_reasoning(answer)
    blocks = fenced_blocks(text)
    if not blocks:
        if not text.strip():
            return Extraction(None, "the answer is empty (after its reasoning section)")
        bare = textwrap.dedent(text).strip("\n") + "\n"
        if judge(bare)[0] == 3:
            return Extraction(bare, complete=True)
        return Extraction(None, "the answer holds no fenced code block (```python ... ```) with the module")
    judged = [(b, *judge(b.body)) for b in blocks]
    best = max(score for _, score, _ in judged)
    if best > 0:
        chosen = [b for b, score, _ in judged if score == best]
        preferred = [b for b in chosen if b.python] or chosen
        return Extraction(preferred[-1].body, complete=best == 3)
    described = "; ".join(f"block {k + 1} {why}" for k, (_, _, why) in enumerate(judged))
    if len(described) > 600:
        described = described[:599] + "…"
    return Extraction(None, f"no code block is a complete module ({described})")


def extract_code(answer: str) -> str | None:
    """The module to verify from ``answer`` (see :func:`extract`), or None."""
    return extract(answer).code
