"""Page numbers from query parameters, and the links of a pager."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

ACCEPTED_PAGE_SIZE = 10
"""Accepted kernels per page: each shows its highlighted source and full report."""
REJECTED_PAGE_SIZE = 25
"""Rejected candidates per page: reasons, failed checks, and the source folded away."""


def page_number(raw: str | None) -> int:
    """A 1-based page number from a query parameter; anything unusable is page 1."""
    try:
        return max(int(raw or 1), 1)
    except ValueError:
        return 1


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
        return (self.page - 1) * self.size

    @property
    def first_item(self) -> int:
        return min(self.offset + 1, self.total)

    @property
    def last_item(self) -> int:
        return min(self.offset + self.size, self.total)


def clamp_page(page: int, total: int, size: int) -> int:
    """``page`` within 1 .. the last page of ``total`` items."""
    return min(max(page, 1), max((total + size - 1) // size, 1))


def pager(
    *, page: int, total: int, size: int, param: str, params: Mapping[str, str | None], path: str, anchor: str = ""
) -> Pager:
    """Links to pages around ``page`` (first, last, two either side, previous, next), keeping ``params``."""
    pages = max((total + size - 1) // size, 1)
    page = clamp_page(page, total, size)

    def href(number: int) -> str:
        query = {k: v for k, v in params.items() if v and k != param}
        if number > 1:
            query[param] = str(number)
        encoded = urlencode(query)
        return f"{path}{'?' + encoded if encoded else ''}{anchor}"

    links: list[PageLink] = []
    if pages > 1:
        links.append(PageLink("← previous", href(page - 1) if page > 1 else None, rel="prev"))
        shown = sorted({1, pages, *range(max(page - 2, 1), min(page + 2, pages) + 1)})
        previous = 0
        for number in shown:
            if number - previous > 1:
                links.append(PageLink("…", None))
            links.append(PageLink(str(number), None if number == page else href(number), current=number == page))
            previous = number
        links.append(PageLink("next →", href(page + 1) if page < pages else None, rel="next"))
    return Pager(page=page, pages=pages, total=total, size=size, links=links)
