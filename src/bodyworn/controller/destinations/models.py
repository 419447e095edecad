"""The content destination connection file the system is locked to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from bodyworn.store.db import Base
from bodyworn.store.types import UTCDateTime

# What the sealed connection file is, bound into its seal.
CONNECTION_FILE_PURPOSE = "content_destination.connection_file"


class ContentDestination(Base):
    """The current connection file (sealed, as uploaded) and what it fixed."""

    __tablename__ = "content_destination"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The file as uploaded (UTF-8 JSON, holding the CD's key), sealed with the secrets key
    # kept outside the database (store/secrets.py; destinations.service opens it).
    connection_file_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    site_name: Mapped[str] = mapped_column(String(64))
    application_name: Mapped[str] = mapped_column(String(256))
    full_store_and_read: Mapped[bool] = mapped_column(Boolean)
    want_encryption: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
