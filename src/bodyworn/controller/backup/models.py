"""Where the system backup goes, how often, its key, and how the last one went (one row)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Float, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bodyworn.store.db import Base
from bodyworn.store.types import UTCDateTime

# What the sealed backup key is, bound into its seal.
BACKUP_KEY_PURPOSE = "backup_settings.key"


class BackupSettings(Base):
    """Settings → System backup; made when the backup is first configured."""

    __tablename__ = "backup_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("interval_hours >= 1 AND interval_hours <= 168", name="interval"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The chosen target's key (targets.py): "folder:<path>" or one the cluster lists.
    target: Mapped[str] = mapped_column(String(1024))
    interval_hours: Mapped[float] = mapped_column(Float, default=24.0)
    # Argon2id of the super admin passphrase (format.py), sealed with the secrets key; the
    # salt and costs that derive it again are written into every backup.
    key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    salt: Mapped[bytes] = mapped_column(LargeBinary)
    kdf_iterations: Mapped[int] = mapped_column(Integer)
    kdf_lanes: Mapped[int] = mapped_column(Integer)
    kdf_memory_kib: Mapped[int] = mapped_column(Integer)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_size: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    # The last attempt failed (the dashboard's issue; BackupFailed on each change).
    failing: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
