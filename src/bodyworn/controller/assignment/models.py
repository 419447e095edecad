"""Self-assign tags, self-assignments in their window, holster sensors, readiness settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bodyworn.controller.assignment.states import HolsterState, SelfAssignState
from bodyworn.store.db import Base
from bodyworn.store.types import UTCDateTime, one_of


class SelfAssignTag(Base):
    """A user's self-assign tag (one per user), by frequency and id ("125kHz:01A2...")."""

    __tablename__ = "self_assign_tag"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), unique=True)
    user_uuid: Mapped[str] = mapped_column(
        ForeignKey("body_worn_user.uuid", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SelfAssignment(Base):
    """A camera handed out by a tap: pending for 15 s, then taken (undocked) or lapsed."""

    __tablename__ = "self_assignment"
    __table_args__ = (
        CheckConstraint(one_of("state", SelfAssignState), name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_serial: Mapped[str] = mapped_column(String(32), index=True)
    user_uuid: Mapped[str] = mapped_column(
        ForeignKey("body_worn_user.uuid", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(16), index=True)
    tapped_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class HolsterPairing(Base):
    """A holster sensor paired (or being paired) with a user's camera."""

    __tablename__ = "holster_pairing"
    __table_args__ = (CheckConstraint(one_of("state", HolsterState), name="state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_uuid: Mapped[str] = mapped_column(
        ForeignKey("body_worn_user.uuid", ondelete="CASCADE"), index=True
    )
    sensor_serial: Mapped[str] = mapped_column(String(6), unique=True)
    camera_serial: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AssignmentSettings(Base):
    """Self-assign readiness: hours of battery and storage a shift needs, required firmware."""

    __tablename__ = "assignment_settings"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shift_hours: Mapped[float] = mapped_column(Float)
    # None: the system's firmware once one is installed (firmware/), before that the
    # newest among the system's cameras.
    firmware: Mapped[str | None] = mapped_column(String(32))
