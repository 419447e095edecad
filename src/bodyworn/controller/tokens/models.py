"""REST API tokens: named, read-only or read-write, stored as a hash only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, validates

from bodyworn.domain.text import fold
from bodyworn.store.db import Base
from bodyworn.store.types import UTCDateTime


class ApiToken(Base):
    """A token an administrator made for an integration (revoking deletes the row)."""

    __tablename__ = "api_token"
    __table_args__ = (CheckConstraint("access IN ('read', 'read-write')", name="access"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    name_key: Mapped[str] = mapped_column(String(256), unique=True)
    # sha256 of the token: it is 256 random bits, so a fast hash cannot be guessed back.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The token's first characters, so a person can tell which one a script holds.
    hint: Mapped[str] = mapped_column(String(16))
    access: Mapped[str] = mapped_column(String(12))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @validates("name")
    def _keep_name_key(self, _key: str, name: str) -> str:
        self.name_key = fold(name)
        return name
