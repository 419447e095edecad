"""The system identity: the key pair cameras and extension controllers trust (one row)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from bodyworn.store.db import Base
from bodyworn.store.types import UTCDateTime

# What the sealed private key is, bound into its seal.
PRIVATE_KEY_PURPOSE = "system_identity.private_key"


class SystemIdentity(Base):
    """Identity key pair and the super admin passphrase verifier."""

    __tablename__ = "system_identity"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    system_id: Mapped[str] = mapped_column(String(36), unique=True)
    # The PKCS8 PEM, sealed with the secrets key kept outside the database
    # (store/secrets.py; identity.service opens it).
    private_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    public_key_pem: Mapped[bytes] = mapped_column(LargeBinary)
    passphrase_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
