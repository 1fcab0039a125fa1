"""Text from the store or a server, made safe to print on a terminal.

Task ids, model names, reasons and event payloads are other people's strings: an escape sequence in
one (``\\x1b]...``) would drive the reader's terminal. ``printable`` shows every control or format
character (C0, DEL, C1, bidirectional overrides...) as its escape instead.
"""

from __future__ import annotations

_ESCAPE = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _shown(char: str) -> str:
    if char in _ESCAPE:
        return _ESCAPE[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: object, keep: str = "") -> str:
    """``str(text)`` with control and format characters escaped (``\\x1b``, ``\\u202e``, ``\\n``), but for
    those in ``keep`` (``"\\n\\t"`` for a source printed as lines)."""
    value = str(text)
    if value.isprintable():  # the common case: nothing to escape
        return value
    return "".join(c if c.isprintable() or c in keep else _shown(c) for c in value)


def markup_safe(text: object) -> str:
    """``printable(text)`` with rich's markup escaped too (for a cell or a line printed by rich)."""
    from rich.markup import escape

    return escape(printable(text))
