"""Server-side syntax highlighting of kernel and reference sources (pygments), and its stylesheet."""

from __future__ import annotations

import functools

from markupsafe import Markup, escape
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

CSS_CLASS = "hl"
STYLE = "default"
MAX_HIGHLIGHTED_CHARS = 200_000
"""Longer sources are shown as plain (escaped) text: highlighting them would slow the page down."""

_formatter = HtmlFormatter(cssclass=CSS_CLASS, style=STYLE, wrapcode=True)


def highlight_python(source: str) -> Markup:
    """``source`` as highlighted HTML (``<div class="hl"><pre>...``); pygments escapes every token."""
    if len(source) > MAX_HIGHLIGHTED_CHARS:
        return Markup('<div class="{}"><pre><code>{}</code></pre></div>').format(CSS_CLASS, escape(source))
    return Markup(highlight(source, PythonLexer(), _formatter))


@functools.cache
def stylesheet() -> str:
    """The CSS rules of the highlighting style, scoped to ``.hl``."""
    return _formatter.get_style_defs(f".{CSS_CLASS}")
