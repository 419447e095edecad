"""Assistant pairings: what a camera needs to check the QR code and PIN, and the device."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bodyworn.controller.assistant_pairing.states import BlockedReason, PairingMode, PairingState
from bodyworn.store.db import Base
from bodyworn.store.types import UTCDateTime, one_of

# What the sealed secret and PIN are, bound into their seals.
SECRET_PURPOSE = "assistant_pairing.secret"  # noqa: S105 - a seal label, not a secret
PIN_PURPOSE = "assistant_pairing.pin"


class AssistantPairingRow(Base):
    """One pairing of a body worn user with a mobile device running the Assistant.

    The secret and PIN are kept sealed (store/secrets.py) only while the pairing is
    pending, so the administrator can show the code again within its 24 hours; cameras
    get only their verifiers. Once a device completed the pairing (or it was blocked)
    both are scrubbed.
    """

    __tablename__ = "assistant_pairing"
    __table_args__ = (
        CheckConstraint(one_of("state", PairingState), name="state"),
        CheckConstraint(one_of("mode", PairingMode), name="mode"),
        CheckConstraint(f"blocked_reason IS NULL OR {one_of('blocked_reason', BlockedReason)}",
                        name="blocked_reason"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pairing_id: Mapped[str] = mapped_column(String(32), unique=True)
    user_uuid: Mapped[str] = mapped_column(
        ForeignKey("body_worn_user.uuid", ondelete="CASCADE"), index=True
    )
    mode: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16), index=True)
    blocked_reason: Mapped[str | None] = mapped_column(String(16))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    pin_verifier: Mapped[str] = mapped_column(String(64))
    secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    pin_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    device_key: Mapped[str | None] = mapped_column(Text)
    # One device pairs with one user: a fingerprint appears on one pairing at most.
    device_fingerprint: Mapped[str | None] = mapped_column(String(64), unique=True)
    paired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paired_camera: Mapped[str | None] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(64))
    # A Remote pairing sent by mail: the address it went to.
    mailed_to: Mapped[str | None] = mapped_column(String(254))
