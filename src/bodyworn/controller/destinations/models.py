"""The content destination connection file the system is locked to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bodyworn.store.db import Base
from bodyworn.store.types import UTCDateTime


class ContentDestination(Base):
    """The current connection file (raw JSON as uploaded) and what it fixed."""

    __tablename__ = "content_destination"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    raw_json: Mapped[str] = mapped_column(Text)
    site_name: Mapped[str] = mapped_column(String(64))
    application_name: Mapped[str] = mapped_column(String(256))
    full_store_and_read: Mapped[bool] = mapped_column(Boolean)
    want_encryption: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
