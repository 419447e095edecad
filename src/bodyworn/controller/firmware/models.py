"""System firmware installed on this controller: one row per install, the newest in force."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bodyworn.store.db import Base
from bodyworn.store.types import UTCDateTime


class FirmwareInstall(Base):
    """A firmware bundle that was verified and installed (kept as a file in the data dir)."""

    __tablename__ = "firmware_install"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(32))
    # The bundle file as verified: <data>/firmware/<file_name>, sha256 over its bytes.
    file_name: Mapped[str] = mapped_column(String(128))
    bundle_sha256: Mapped[str] = mapped_column(String(64))
    # The signed manifest (JSON) and which release key signed it.
    manifest_json: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(16))
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    installed_by: Mapped[str] = mapped_column(String(64))
    # Installed by the setup wizard (a new system may take any version, an older one too).
    during_setup: Mapped[bool] = mapped_column(Boolean, default=False)
