"""Column types shared by every table."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

# The largest integer every backend stores (SQLite INTEGER and PostgreSQL BIGINT: signed
# 64 bit). An id beyond it names no row; passed to the database it would overflow.
MAX_ROW_ID = 2**63 - 1


def is_row_id(value: object) -> bool:
    """True for an int that can name a row (1 to MAX_ROW_ID; bool is not an id)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ROW_ID


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always gives aware UTC datetimes back."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def one_of(column: str, values: Iterable[str]) -> str:
    """A CHECK constraint's text: `column IN ('a', 'b')` (values are our own vocabulary)."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"
