"""The manager's HTTPS certificates: Default, self-signed ones and installed (CA-signed) ones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, validates

from bodyworn.domain.text import fold
from bodyworn.store.db import Base
from bodyworn.store.types import UTCDateTime

# What a sealed private key is, bound into its seal.
KEY_PURPOSE = "tls_certificate.private_key"


class CertificateRow(Base):
    """A certificate with its chain and its private key (sealed); one of them is active."""

    __tablename__ = "tls_certificate"
    __table_args__ = (
        CheckConstraint("origin IN ('default', 'self-signed', 'installed')", name="origin"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    name_key: Mapped[str] = mapped_column(String(256), unique=True)
    origin: Mapped[str] = mapped_column(String(16))
    # The certificate first, then the chain that came with it (PEM).
    chain_pem: Mapped[str] = mapped_column(Text)
    # PKCS#8 PEM sealed with the secrets key (store/secrets.py).
    key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    key_type: Mapped[str] = mapped_column(String(16))
    # sha256 of the public key (SubjectPublicKeyInfo DER): finds the key a signed one matches.
    public_key_sha256: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(1024))
    issuer: Mapped[str] = mapped_column(String(1024))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    fingerprint_sha256: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @validates("name")
    def _keep_name_key(self, _key: str, name: str) -> str:
        self.name_key = fold(name)
        return name
