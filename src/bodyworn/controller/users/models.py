"""Body worn users as stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, validates

from bodyworn.domain.text import fold
from bodyworn.store.db import Base
from bodyworn.store.types import UTCDateTime


class BodyWornUser(Base):
    """A person who wears a camera; uuid names the user's object at the content destination."""

    __tablename__ = "body_worn_user"
    # The list's order, and its keyset pages (users/service.py page_users). The search's
    # trigram index is made by migration 0011p, outside the models (store/db.py).
    __table_args__ = (Index("ix_body_worn_user_name_key_id", "name_key", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    # fold(name) and fold(user_id), kept by the model when they are set (bulk writes set
    # them themselves): searches match whatever the case or Unicode form.
    name_key: Mapped[str] = mapped_column(String(256))
    # Empty or unique (several NULLs are allowed by a unique constraint on every backend).
    user_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    user_id_key: Mapped[str | None] = mapped_column(String(128), index=True)
    cd_username: Mapped[str | None] = mapped_column(String(256))
    profile_id: Mapped[int] = mapped_column(
        ForeignKey("camera_profile.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @validates("name")
    def _keep_name_key(self, _key: str, name: str) -> str:
        self.name_key = fold(name)
        return name

    @validates("user_id")
    def _keep_user_id_key(self, _key: str, user_id: str | None) -> str | None:
        self.user_id_key = None if user_id is None else fold(user_id)
        return user_id
