"""Camera profiles as stored: a name, the settings as validated JSON, a version."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, validates

from bodyworn.domain.text import fold
from bodyworn.store.db import Base
from bodyworn.store.types import UTCDateTime


class ProfileRow(Base):
    """One camera profile; settings_json always holds what CameraProfile accepted."""

    __tablename__ = "camera_profile"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # fold(name), kept by the model whenever name is set: names are unique whatever their
    # case or Unicode form (SQL's lower() knows only ASCII on SQLite). Case-folding may
    # triple a name's length (ß → ss, ﬃ → ffi).
    name_key: Mapped[str] = mapped_column(String(256), unique=True)
    settings_json: Mapped[str] = mapped_column(Text)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    # Raised on every change of what a camera does, so docking can tell a camera is behind.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # How many users have this profile, kept by database triggers on body_worn_user
    # (migration 0011p), so the profiles pages count without reading every user.
    user_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @validates("name")
    def _keep_name_key(self, _key: str, name: str) -> str:
        self.name_key = fold(name)
        return name
