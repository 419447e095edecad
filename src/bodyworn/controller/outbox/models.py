"""Objects the content destination must be told about, written with the change itself."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bodyworn.store.db import Base
from bodyworn.store.types import UTCDateTime


class CdPendingObject(Base):
    """One user or device object to write (upsert) or mark inactive (deactivate) at the CD."""

    __tablename__ = "cd_pending_object"
    __table_args__ = (
        CheckConstraint("kind IN ('user', 'device')", name="kind"),
        CheckConstraint("action IN ('upsert', 'deactivate')", name="action"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    # The object's name under Users/ or Devices/: a user's uuid, a camera's serial number.
    ref: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(16))
    # What the object carries at the moment of the change, since a removed user's row is gone.
    payload_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
