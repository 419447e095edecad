"""Docking stations as the controller knows them from their events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bodyworn.store.db import Base
from bodyworn.store.types import UTCDateTime


class DockingStationRow(Base):
    """A docking station that has reported to this controller."""

    __tablename__ = "docking_station"

    serial: Mapped[str] = mapped_column(String(32), primary_key=True)
    model: Mapped[str] = mapped_column(String(64))
    bays: Mapped[int] = mapped_column(Integer)
    # Where the station serves the dock link of its cameras (its /docklink/v1 base).
    station_url: Mapped[str] = mapped_column(String(512))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_event_at: Mapped[datetime] = mapped_column(UTCDateTime())
