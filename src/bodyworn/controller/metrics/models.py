"""Totals kept for metrics beyond the rows they were counted from (pruned transfer history)."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from bodyworn.store.db import Base


class MetricTotal(Base):
    """A running total: what pruned rows had added to a counter, so it never goes down."""

    __tablename__ = "metric_total"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
