"""Searching folded text columns with LIKE, the query's own % and _ matched as themselves."""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlalchemy.orm import InstrumentedAttribute

from bodyworn.domain.text import fold

LIKE_ESCAPE = "\\"


def like_literal(text: str) -> str:
    """`text` with LIKE's wildcards and the escape character escaped."""
    return (text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
            .replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_"))


def contains_folded(column: InstrumentedAttribute[str] | InstrumentedAttribute[str | None],
                    query: str) -> ColumnElement[bool]:
    """A condition: the folded `column` holds the folded `query` anywhere."""
    return column.like(f"%{like_literal(fold(query))}%", escape=LIKE_ESCAPE)
