"""Cameras as the controller knows them: registry state, where docked, last known info."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bodyworn.controller.cameras.states import CameraState
from bodyworn.store.db import Base
from bodyworn.store.types import UTCDateTime, one_of


class CameraRow(Base):
    """One camera: new (seen docked, not added), added, or removing (waits for a docking)."""

    __tablename__ = "camera"
    __table_args__ = (CheckConstraint(one_of("state", CameraState), name="state"),)

    serial: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    model: Mapped[str] = mapped_column(String(64))
    firmware: Mapped[str] = mapped_column(String(32))
    user_uuid: Mapped[str | None] = mapped_column(
        ForeignKey("body_worn_user.uuid", ondelete="SET NULL"), index=True
    )
    docked: Mapped[bool] = mapped_column(Boolean)
    station_serial: Mapped[str | None] = mapped_column(String(32))
    bay: Mapped[int | None] = mapped_column(Integer)
    camera_url: Mapped[str | None] = mapped_column(String(512))
    locked: Mapped[bool] = mapped_column(Boolean)
    # The camera's last device info (docs/dock-link.md), shown while it is undocked.
    info_json: Mapped[str] = mapped_column(Text)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    added_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
