"""Paginated, sortable lists in the console (history, callbacks): query-string parsing and links.

Query values come from people editing URLs: anything unusable falls back to a sensible default
(page 1, the default sort) instead of an error page. Every link keeps the list's filters.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from callbot.store.paging import Page

PAGE_SIZE = 50
MAX_PAGE = 1_000_000  # beyond any real list; keeps OFFSET arithmetic small
PAGE_WINDOW = 2  # page links shown on each side of the current one


def page_number(raw: str | None) -> int:
    """The requested page: "3" → 3; "-3", "abc", "" or nothing → 1 (the store clamps the top)."""
    try:
        number = int((raw or "").strip())
    except ValueError:
        return 1
    return min(max(number, 1), MAX_PAGE)


def url(path: str, params: dict[str, str], **changes: str | int | None) -> str:
    """`path` with the list's `params`, some changed; empty values are left out."""
    merged = {**params, **{k: ("" if v is None else str(v)) for k, v in changes.items()}}
    query = urlencode([(k, v) for k, v in merged.items() if v])
    return f"{path}?{query}" if query else path


@dataclass
class PageLink:
    label: str
    href: str | None  # None: the current page, or no such page
    current: bool = False


def page_links(path: str, params: dict[str, str], page: Page) -> list[PageLink]:
    """« Précédente », a window of numbered pages (with the first and last), « Suivante »."""
    if page.pages <= 1:
        return []

    def to(number: int) -> str:
        return url(path, params, page=number if number > 1 else None)

    links = [PageLink("« Précédente", to(page.number - 1) if page.number > 1 else None)]
    shown = sorted({1, page.pages, *range(max(1, page.number - PAGE_WINDOW),
                                          min(page.pages, page.number + PAGE_WINDOW) + 1)})
    previous = 0
    for number in shown:
        if number - previous > 1:
            links.append(PageLink("…", None))
        links.append(PageLink(str(number), None if number == page.number else to(number),
                              current=number == page.number))
        previous = number
    links.append(PageLink("Suivante »", to(page.number + 1) if page.number < page.pages else None))
    return links


@dataclass
class SortHeader:
    key: str
    label: str
    href: str
    aria_sort: str | None  # "ascending" / "descending" on the sorted column


def sort_headers(path: str, params: dict[str, str], columns: dict[str, str], sort: str,
                 descending: bool) -> list[SortHeader]:
    """Column headers whose links sort by that column; clicking the sorted one reverses it."""
    headers = []
    for key, label in columns.items():
        active = key == sort
        next_desc = not descending if active else False
        href = url(path, params, tri=key, ordre="desc" if next_desc else "asc", page=None)
        aria = ("descending" if descending else "ascending") if active else None
        headers.append(SortHeader(key, label, href, aria))
    return headers
