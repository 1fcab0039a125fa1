"""Pagination for every page that lists: page numbers from query parameters, a page's offset, the
number of pages, fetching a page (a page past the end is the last page), and the links of a pager."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlencode

_NUMBER = re.compile(r"[+-]?[0-9]+", re.ASCII)

ACCEPTED_PAGE_SIZE = 10
"""Accepted kernels per page: each shows its highlighted source and full report."""
REJECTED_PAGE_SIZE = 25
"""Rejected candidates per page: reasons, failed checks, and the source folded away."""


MAX_PAGE = 10**9
"""Highest page number a query may ask for (its offset must fit a 64-bit database integer)."""


class PageOutOfRange(ValueError):
    """A page number above ``MAX_PAGE``: answered with 400 before any query."""


def page_number(raw: str | None) -> int:
    """A 1-based page number from a query parameter; anything not a number is page 1, a number
    above ``MAX_PAGE`` raises ``PageOutOfRange`` (pages past the end show the last page)."""
    text = (raw or "").strip()
    if not _NUMBER.fullmatch(text):
        return 1
    digits = text.lstrip("+-").lstrip("0")
    if not text.startswith("-") and (len(digits) > len(str(MAX_PAGE)) or int(digits or 0) > MAX_PAGE):
        shown = text if len(text) <= 40 else f"{text[:40]}… ({len(text)} digits)"
        raise PageOutOfRange(f"page {shown} is out of range: pages are numbered 1 to {MAX_PAGE}")
    return max(int(text), 1) if len(digits) <= 12 else 1


def href(path: str, params: Mapping[str, object], anchor: str = "") -> str:
    """``path`` with the parameters that have a value as its query string (empty ones are left out)."""
    query = urlencode({k: v for k, v in params.items() if v})
    return f"{path}{'?' + query if query else ''}{anchor}"


def page_count(total: int, size: int) -> int:
    """How many pages ``total`` items fill (at least one: an empty list is one empty page)."""
    return max((total + size - 1) // size, 1)


def page_offset(page: int, size: int) -> int:
    """The offset of 1-based ``page``'s first item."""
    return (page - 1) * size


def clamp_page(page: int, total: int, size: int) -> int:
    """``page`` within 1 .. the last page of ``total`` items."""
    return min(max(page, 1), page_count(total, size))


Listed = TypeVar("Listed")


def fetch_page(fetch: Callable[[int, int], Listed], total: Callable[[Listed], int], page: int, size: int) -> Listed:
    """``fetch(limit, offset)`` for ``page``; a page past the end is answered with the last page (one more
    query). ``total`` reads the item count from what ``fetch`` returned. Use ``page_of`` for its number."""
    found = fetch(size, page_offset(page, size))
    last = clamp_page(page, total(found), size)
    return fetch(size, page_offset(last, size)) if last != page else found


def page_of(offset: int, size: int) -> int:
    """The 1-based page that starts at ``offset``."""
    return offset // size + 1


@dataclass(frozen=True)
class PageLink:
    label: str
    href: str | None
    """None: a gap (…) or the current page."""
    current: bool = False
    rel: str = ""


@dataclass(frozen=True)
class Pager:
    page: int
    pages: int
    total: int
    size: int
    links: list[PageLink]

    @property
    def offset(self) -> int:
        return page_offset(self.page, self.size)

    @property
    def first_item(self) -> int:
        return min(self.offset + 1, self.total)

    @property
    def last_item(self) -> int:
        return min(self.offset + self.size, self.total)


def pager(
    *, page: int, total: int, size: int, param: str, params: Mapping[str, str | None], path: str, anchor: str = ""
) -> Pager:
    """Links to pages around ``page`` (first, last, two either side, previous, next), keeping ``params``."""
    pages = page_count(total, size)
    page = clamp_page(page, total, size)

    def link(number: int) -> str:
        return href(path, {**{k: v for k, v in params.items() if k != param}, param: number > 1 and number}, anchor)

    links: list[PageLink] = []
    if pages > 1:
        links.append(PageLink("← previous", link(page - 1) if page > 1 else None, rel="prev"))
        shown = sorted({1, pages, *range(max(page - 2, 1), min(page + 2, pages) + 1)})
        previous = 0
        for number in shown:
            if number - previous > 1:
                links.append(PageLink("…", None))
            links.append(PageLink(str(number), None if number == page else link(number), current=number == page))
            previous = number
        links.append(PageLink("next →", link(page + 1) if page < pages else None, rel="next"))
    return Pager(page=page, pages=pages, total=total, size=size, links=links)
