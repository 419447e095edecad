"""Bounds for numbers taken from requests, so no input reaches the database out of range.

Path and query parameters and JSON fields use the annotated types; HTML forms, whose
values arrive as text, use `form_int` and `form_row_id`.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path, Query
from pydantic import Field

from bodyworn.store.types import MAX_ROW_ID

__all__ = ["MAX_OFFSET", "MAX_ROW_ID", "OffsetQuery", "RowIdField", "RowIdPath", "form_int",
           "form_row_id"]

MAX_OFFSET = 2**31

RowIdPath = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
RowIdField = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_OFFSET)]

# ASCII digits only: str.isdigit() also accepts "²" and other digits int() refuses, and a
# few thousand digits make int() itself raise.
_DIGITS = re.compile(r"[0-9]{1,19}")


def form_int(raw: object, low: int, high: int) -> int | None:
    """A whole number from a form field, or None when it is not one in low..high."""
    text = str(raw if raw is not None else "").strip()
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def form_row_id(raw: object) -> int | None:
    """A row id from a form field, or None when it cannot name a row."""
    return form_int(raw, 1, MAX_ROW_ID)
