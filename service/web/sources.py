"""How much of a source a page shows: folded to its beginning, within a per-page budget of HTML.

A page's cost must not grow with what writers stored. Each source is cut to at most ``max_lines``
lines and ``max_chars`` characters before it is highlighted (the store hands over only that
beginning: ``Store.ranked_verifications(source_chars=...)``), and each list on a page shows
highlighted sources only while its budget of HTML lasts; the others get a link to the raw text
(``/v1/candidates/{id}/source``, ``/v1/tasks/{id}/source``), as does every folded source.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from service.web.highlight import highlight_python


@dataclass(frozen=True)
class Fold:
    max_chars: int
    max_lines: int
    page_html_budget: int
    """Characters of highlighted HTML one list may show per page."""


REFERENCE = Fold(max_chars=20_000, max_lines=400, page_html_budget=400_000)
ACCEPTED = Fold(max_chars=20_000, max_lines=400, page_html_budget=400_000)
REJECTED = Fold(max_chars=6_000, max_lines=150, page_html_budget=200_000)


@dataclass(frozen=True)
class SourceView:
    html: Markup | None
    """The highlighted beginning; None when the page's budget was spent before this source."""
    shown_lines: int
    shown_chars: int
    total_chars: int
    raw_href: str

    @property
    def folded(self) -> bool:
        return self.shown_chars < self.total_chars

    @property
    def kib(self) -> str:
        return f"{self.total_chars / 1024:.0f} KiB" if self.total_chars >= 1024 else f"{self.total_chars} characters"


def beginning(text: str, fold: Fold) -> str:
    """At most ``fold.max_lines`` lines and ``fold.max_chars`` characters of ``text``."""
    head = text[: fold.max_chars]
    cut = -1
    for _ in range(fold.max_lines):
        cut = head.find("\n", cut + 1)
        if cut < 0:
            return head
    return head[: cut + 1]


class Budget:
    """What is left of one list's HTML budget on the page being rendered."""

    def __init__(self, chars: int) -> None:
        self.left = chars

    def view(self, text: str, total_chars: int, fold: Fold, raw_href: str) -> SourceView:
        """The view of a source whose first characters are ``text`` (``total_chars`` long in all)."""
        shown = beginning(text, fold)
        html: Markup | None = None
        if self.left > 0:
            html = highlight_python(shown)
            if len(html) > self.left:
                html = None
                self.left = 0  # later (possibly smaller) sources would show out of order: stop here
            else:
                self.left -= len(html)
        lines = shown.count("\n") + (0 if shown.endswith("\n") or not shown else 1)
        return SourceView(html, lines, len(shown), max(total_chars, len(shown)), raw_href)
