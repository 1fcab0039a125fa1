"""``ast.parse`` made safe to call from many threads at once (the verifier, the task suite, the service).

CPython up to 3.11.7 (the Python these machines run) keeps the recursion depth of its AST-to-Python
conversion in state shared by all threads (gh-106905). A thread switch in the middle of a
conversion (a garbage collection running a finalizer is enough) makes a concurrent
``ast.parse`` fail with ``SystemError: AST constructor recursion depth mismatch``. The service
parses submitted sources in request threads, and the verifier's static screen and reference
checks, the task suite and the template compiler parse in job and verification threads.

The verifier, the task suite and the template compiler call :func:`parse`; ``install()`` (called by
the service's ``create_app`` and every ``kiln`` command) also replaces ``ast.parse`` with a wrapper that serialises
every call through one re-entrant lock, so all of those callers, which look ``ast.parse`` up
on the module at call time, are covered too. Standard library only.
Parsing holds the GIL anyway, so the lock costs no parallelism. ``ast.literal_eval`` goes
through ``ast.parse`` too.
"""

from __future__ import annotations

import ast
import functools
import threading
from collections.abc import Callable
from typing import Any

PARSE_LOCK = threading.RLock()
"""Held for the whole of every ``ast.parse`` call once ``install()`` ran (re-entrant: a finalizer
run by a collection inside a parse may parse again on the same thread)."""
_original_parse = ast.parse


@functools.wraps(_original_parse)
def parse(*args: Any, **kwargs: Any) -> Any:
    """``ast.parse`` under ``PARSE_LOCK``."""
    with PARSE_LOCK:
        return _original_parse(*args, **kwargs)


parse.kiln_serialised = True  # type: ignore[attr-defined]


def parse_or_raise(source: str, error: Callable[[str], Exception], prefix: str = "") -> ast.Module:
    """:func:`parse` of a whole module; a syntax error raises ``error("<prefix>syntax error at line N: ...")``
    instead, without the parser's traceback."""
    try:
        return parse(source)
    except SyntaxError as e:
        raise error(f"{prefix}syntax error at line {e.lineno}: {e.msg}") from None


def install() -> None:
    """Make ``ast.parse`` the serialised version process-wide (idempotent)."""
    if not getattr(ast.parse, "kiln_serialised", False):
        ast.parse = parse


def installed() -> bool:
    return bool(getattr(ast.parse, "kiln_serialised", False))
