"""What the controller keeps for evidence integrity (docs/integrity.md)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bodyworn.store.db import Base
from bodyworn.store.types import UTCDateTime


class IntegrityState(Base):
    """The system's ConnectionId at its CD and its identity as a certificate (one row)."""

    __tablename__ = "integrity_state"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Written to System/<SystemID> (StoreReadSystemID); made once, never changed.
    connection_id: Mapped[str] = mapped_column(String(100))
    # The system identity key as a self-signed CA certificate (PEM): the root of the
    # cameras' certificates and the signer of the audit anchors.
    certificate_pem: Mapped[bytes] = mapped_column(LargeBinary)
    # When a CD first confirmed the binding (None: never bound yet).
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CameraCertificate(Base):
    """The device certificate issued to a camera (the newest one per camera)."""

    __tablename__ = "camera_certificate"

    serial: Mapped[str] = mapped_column(String(64), primary_key=True)
    certificate_pem: Mapped[bytes] = mapped_column(LargeBinary)
    # sha256 of the camera's device public key (raw bytes), hex.
    key_sha256: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditAnchor(Base):
    """One audit anchor: the signed hashes of audit entries from_id..to_id.

    The object sent to the CD is rebuilt from this JWS and those (immutable) entries, so
    a retry sends the same bytes.
    """

    __tablename__ = "audit_anchor"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    from_id: Mapped[int] = mapped_column(Integer)
    to_id: Mapped[int] = mapped_column(Integer)
    head_hash: Mapped[str] = mapped_column(String(64))
    jws: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When the CD confirmed it holds the anchor (None: still to send).
    stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
