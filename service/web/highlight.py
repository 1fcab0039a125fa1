"""Server-side syntax highlighting of kernel and reference sources (pygments), and its stylesheet.

Highlighted HTML is cached by the sha256 of the highlighted text in a cache bounded in bytes, so a
page shown again costs no highlighting; pages only ever highlight the folded beginning of a source
(``service.web.sources``), so one highlighting is bounded too.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict

from markupsafe import Markup, escape
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

CSS_CLASS = "hl"
STYLE = "default"
MAX_HIGHLIGHTED_CHARS = 200_000
"""Longer texts are shown as plain (escaped) text: highlighting them would slow the page down."""
CACHE_BYTES = 32 * 1024 * 1024
"""Most highlighted HTML kept (in characters of HTML); least recently used entries go first."""

_formatter = HtmlFormatter(cssclass=CSS_CLASS, style=STYLE, wrapcode=True)


class HtmlCache:
    """Least-recently-used HTML by content hash, bounded by the total size of the HTML it holds."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self._items: OrderedDict[str, Markup] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Markup | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: str, html: Markup) -> None:
        if len(html) > self.max_chars:
            return
        with self._lock:
            previous = self._items.pop(key, None)
            if previous is not None:
                self._size -= len(previous)
            self._items[key] = html
            self._size += len(html)
            while self._size > self.max_chars:
                _, dropped = self._items.popitem(last=False)
                self._size -= len(dropped)

    @property
    def size(self) -> int:
        return self._size

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._size = 0


cache = HtmlCache(CACHE_BYTES)


def highlight_python(source: str) -> Markup:
    """``source`` as highlighted HTML (``<div class="hl"><pre>...``); pygments escapes every token."""
    if len(source) > MAX_HIGHLIGHTED_CHARS:
        return Markup('<div class="{}"><pre><code>{}</code></pre></div>').format(CSS_CLASS, escape(source))
    key = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
    found = cache.get(key)
    if found is None:
        found = Markup(highlight(source, PythonLexer(), _formatter))
        cache.put(key, found)
    return found


@functools.cache
def stylesheet() -> str:
    """The CSS rules of the highlighting style, scoped to ``.hl``."""
    return _formatter.get_style_defs(f".{CSS_CLASS}")
