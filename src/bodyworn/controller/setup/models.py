"""The system's own settings, written once by the setup wizard (one row)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bodyworn.store.db import Base
from bodyworn.store.types import UTCDateTime


class SystemSettings(Base):
    """The one row that exists once setup has finished."""

    __tablename__ = "system_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("power_line_frequency IN (50, 60)", name="power_line_frequency"),
        CheckConstraint("camera_assignment IN ('fixed', 'self-assign')", name="camera_assignment"),
        CheckConstraint("time_mode IN ('ntp', 'manual')", name="time_mode"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    system_id: Mapped[str] = mapped_column(String(36), unique=True)
    system_name: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16))
    timezone: Mapped[str] = mapped_column(String(64))
    time_mode: Mapped[str] = mapped_column(String(8))
    ntp_server: Mapped[str | None] = mapped_column(String(255))
    ntp_fallback_server: Mapped[str | None] = mapped_column(String(255))
    manual_offset_seconds: Mapped[float] = mapped_column(default=0.0)
    listen_host: Mapped[str] = mapped_column(String(255))
    listen_port: Mapped[int] = mapped_column(Integer)
    cloud_extensions: Mapped[bool] = mapped_column(Boolean)
    cloud_location: Mapped[str | None] = mapped_column(String(32))
    power_line_frequency: Mapped[int] = mapped_column(Integer)
    camera_assignment: Mapped[str] = mapped_column(String(16))
    usage_data_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
