"""Bounds for numbers taken from requests, so no input reaches the database out of range."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import Field

# The largest integer every backend stores (SQLite and PostgreSQL BIGINT: signed 64 bit).
MAX_ROW_ID = 2**63 - 1
MAX_OFFSET = 2**31

RowIdPath = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
RowIdField = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
