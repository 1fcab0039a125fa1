"""Strict JSON at about the cost of ``json.loads``: parse first, then check only what can be wrong.

Refused: ``NaN``/``Infinity``, a number that overflows a float (``1e400``), an integer outside 64
bits, a lone surrogate (``"\\ud800"``) and a NUL character in any string or key; each ``BadJSON``
says what and where (``body.a[2].b``, and the line of a NUL in a multi-line source).

The standard parser (C) does the work; the checks after it run at C speed unless the raw bytes say
a value may be wrong. ``NaN`` and ``Infinity`` reach a hook only when present. A float overflows only
with an exponent or 309 digits, an integer leaves 64 bits only with 19 digits or more, and a NUL or a
lone surrogate arrives only as a ``\\u0000``/``\\uD800``-``\\uDFFF`` escape (raw control characters are
not JSON). So: the body's digits are mapped to ``0`` (``bytes.translate``) and searched for ``0e`` (then
``json.dumps(allow_nan=False)`` finds an infinity in C) and nineteen ``0`` (then the numbers are walked
in Python), and a regular expression anchored on the backslash finds the escapes (then the strings are
walked). A 1 MB body costs ``json.loads`` plus a few scans of its bytes; one that needs a walk, one
pass in Python; only a refused body pays for the walk that names the place.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

INT64 = 2**63
ECHO_CHARS = 120
"""Longest input a message repeats back; longer ones are described by size."""
_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789E", b"0000000000e")
_LONG_NUMBER = b"0" * 19
_NUMBER_TOKEN = re.compile(rb"(?:^|[:,\[])\s*(-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)")
_STRINGS_TO_CHECK = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")

Path = tuple[Any, ...] | None
"""Where a value is: ``(parent path, key or index)``, ``None`` for the body itself (built only on error)."""


class BadJSON(ValueError):
    """A body that is not strict JSON; the message says what and where."""


def shorten(text: str, limit: int = ECHO_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"


def _reject_constant(name: str) -> Any:
    raise BadJSON(f"{name} is not a JSON number (non-finite numbers are refused)")


def strict_json(body: bytes) -> Any:
    """``body`` decoded as strict JSON (see the module doc); raises ``BadJSON`` with the reason."""
    try:
        value = json.loads(body, parse_constant=_reject_constant)
    except BadJSON:
        raise
    except json.JSONDecodeError as e:
        raise BadJSON(f"the body is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    except UnicodeDecodeError as e:
        raise BadJSON(f"the body is not valid UTF-8 at byte {e.start}") from None
    except RecursionError:
        raise BadJSON("the body nests too deeply") from None
    except ValueError as e:  # an integer with more digits than int() converts
        if "integer string conversion" in str(e):
            raise BadJSON(
                "the body holds an integer of thousands of digits: out of range (64-bit integers only)"
            ) from None
        raise BadJSON(f"the body is not valid JSON: {shorten(str(e), 200)}") from None
    shape = body.translate(_DIGITS_AS_ZERO)
    numbers = _LONG_NUMBER in shape
    if not numbers and b"0e" in shape:
        try:
            json.dumps(value, allow_nan=False)
        except ValueError:  # an infinity: the walk says where
            numbers = True
    strings = _STRINGS_TO_CHECK.search(body) is not None
    if numbers or strings:
        try:
            _walk(value, numbers=numbers, strings=strings)
        except _Overflow as e:
            number = shorten(_overflowing_literal(body), 40)
            raise BadJSON(f"{_where(e.path)}: the number {number} is out of range for a 64-bit float") from None
    return value


class _Overflow(Exception):
    """A float that decoded to an infinity, at ``path`` (its text is looked up only then)."""

    def __init__(self, path: Path) -> None:
        self.path = path


def _overflowing_literal(body: bytes) -> str:
    """The first number in ``body`` that overflows a float, as written."""
    for match in _NUMBER_TOKEN.finditer(body):
        if not math.isfinite(float(match.group(1))):
            return match.group(1).decode()
    return "?"


def _walk(value: Any, *, numbers: bool, strings: bool) -> None:
    """Check every number (``numbers``) and string and key (``strings``) in ``value``, iteratively."""
    stack: list[tuple[Any, Path]] = [(value, None)]
    while stack:
        node, path = stack.pop()
        if type(node) is dict:
            items: Any = node.items()
        elif type(node) is list:
            if _plain_numbers(node) or (not strings and _plain_strings(node)):
                continue
            items = enumerate(node)
        else:
            _check_leaf(node, path, numbers=numbers, strings=strings)
            continue
        for key, item in items:
            if strings and type(key) is str:
                _check_text(key, path, " key")
            kind = type(item)
            if kind is dict or kind is list:
                stack.append((item, (path, key)))
            elif kind is str:
                if strings:
                    _check_text(item, (path, key))
            elif numbers and (kind is int or kind is float):
                _check_number(item, (path, key))


def _plain_numbers(items: list[Any]) -> bool:
    """True when ``items`` holds only numbers and every one is finite and within 64-bit integers' range:
    one ``min`` and one ``max`` in C decide it, every item lying between them. False when it holds
    anything else, or a bound is beyond that range (the walk then looks at each item)."""
    try:
        low, high = min(items), max(items)
    except (TypeError, ValueError):  # mixed types, containers, or empty
        return not items
    numeric = (int, float, bool)
    return type(low) in numeric and type(high) in numeric and low >= -INT64 and high < INT64


def _plain_strings(items: list[Any]) -> bool:
    """True when ``items`` holds only strings (``min`` in C refuses anything else)."""
    try:
        return isinstance(min(items), str) and isinstance(max(items), str)
    except (TypeError, ValueError):
        return not items


def _check_leaf(node: Any, path: Path, *, numbers: bool, strings: bool) -> None:
    if type(node) is str and strings:
        _check_text(node, path)
    elif numbers and type(node) in (int, float):
        _check_number(node, path)


def _check_number(value: float, path: Path) -> None:
    if type(value) is int:
        if not -INT64 <= value < INT64:
            raise BadJSON(
                f"{_where(path)}: the integer {shorten(str(value), 40)} is out of range (64-bit integers only)"
            )
    elif not math.isfinite(value):
        raise _Overflow(path)


def _check_text(text: str, path: Path, what: str = "") -> None:
    if "\x00" in text:
        raise BadJSON(f"{_where(path)}{what} contains a NUL character{_line_of(text, text.index(chr(0)))}")
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise BadJSON(
            f"{_where(path)}{what} contains a lone surrogate (U+{ord(text[e.start]):04X}){_line_of(text, e.start)}; "
            "send valid UTF-8 text"
        ) from None


def _where(path: Path) -> str:
    """``body.a[2].b`` for a path."""
    parts: list[str] = []
    while path is not None:
        path, key = path
        parts.append(f"[{key}]" if isinstance(key, int) else f".{shorten(str(key), 40)}")
    return "body" + "".join(reversed(parts))


def _line_of(text: str, index: int) -> str:
    if "\n" not in text:
        return ""
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f" at line {line}, column {column}"
