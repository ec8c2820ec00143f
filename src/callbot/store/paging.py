"""One page of a long list (call history, callbacks): a bounded count, then one LIMIT/OFFSET read.

The count stops at `cap` rows so that a page over a million calls costs the same as over ten
thousand; the page number is clamped to the pages that exist, so page=999999 shows the last one.
"""

from __future__ import annotations

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


def read_page(session: Session, query: Select, key: Any, number: int, size: int,  # noqa: ANN401
              cap: int | None = None) -> tuple[list[Any], int, int, bool]:
    """(rows, clamped page number, total up to `cap`, capped?) for the ordered `query`.

    `key` is a column of the queried table: the count selects it alone (cheap, index-only)."""
    counted = query.order_by(None).with_only_columns(key, maintain_column_froms=True)
    if cap is not None:
        counted = counted.limit(cap + 1)
    total = session.scalar(select(func.count()).select_from(counted.subquery())) or 0
    more = cap is not None and total > cap
    if more:
        total = cap
    last = max(1, -(-total // size))
    number = min(max(1, number), last)
    rows = list(session.execute(query.offset((number - 1) * size).limit(size)).all())
    return rows, number, total, more
