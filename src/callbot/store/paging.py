"""One page of a long list (call history, callbacks): a bounded count, then the page's keys, then
its rows.

The count stops at `cap` rows so that a page over a million calls costs the same as over ten
thousand; the page number is clamped to the pages that exist, so page=999999 shows the last one.
Keys first: skipping to a deep page walks an index only, and the full rows (with their joins)
are read for the page's own keys.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    items: list[T]
    number: int  # 1-based, within 1..pages
    size: int
    total: int  # rows that match, at most the cap
    more: bool = False  # more rows match than were counted (the cap was reached)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first_index(self) -> int:
        """1-based position of the first item shown (0 when the page is empty)."""
        return (self.number - 1) * self.size + 1 if self.items else 0


def read_page(session: Session, keys: Select, number: int, size: int, cap: int | None = None,
              ) -> tuple[list[Any], int, int, bool]:
    """(the page's keys in order, clamped page number, total up to `cap`, capped?).

    `keys` selects one key column of the listed rows, filtered and ordered as the list is."""
    counted = keys.order_by(None)
    if cap is not None:
        counted = counted.limit(cap + 1)
    total = session.scalar(select(func.count()).select_from(counted.subquery())) or 0
    more = cap is not None and total > cap
    if more:
        total = cap
    last = max(1, -(-total // size))
    number = min(max(1, number), last)
    page_keys = list(session.scalars(keys.offset((number - 1) * size).limit(size)))
    return page_keys, number, total, more


def in_key_order(keys: Sequence[Any], rows: Sequence[T], key_of: Callable[[T], Any]) -> list[T]:
    """`rows` (read with ``WHERE key IN keys``) in the order of `keys`."""
    position = {key: i for i, key in enumerate(keys)}
    return sorted(rows, key=lambda row: position[key_of(row)])
