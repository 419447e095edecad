"""Transfer state per recording and per clip: the one source of truth of where evidence is."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bodyworn.store.db import Base
from bodyworn.store.types import UTCDateTime


class OffloadRecording(Base):
    """One recording seen in a camera's manifest, and how far it got towards the CD."""

    __tablename__ = "offload_recording"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The camera's recording id (it includes the camera serial, so it is unique system wide).
    recording_id: Mapped[str] = mapped_column(String(128), unique=True)
    camera_serial: Mapped[str] = mapped_column(String(64), index=True)
    # The manifest entry without its clips, as the camera described it (for the CD metadata).
    manifest_json: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(24), index=True)
    # Where the CD holds it (recording or rejected-content container), once known.
    container: Mapped[str | None] = mapped_column(String(256))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Failed deliveries in a row that were this recording's own (the CD answered others, or
    # the spool failed): the exponent of its back-off. A failure of the whole CD (down, out
    # of storage) does not count, and the CD answering again after one sets it back to 0.
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # Once the CD refused it and rejected content takes it: when that was decided and the
    # upload's ID, which name its RejectedContent container (a restart finishes that one).
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rejected_id: Mapped[str | None] = mapped_column(String(36))


class OffloadClip(Base):
    """One clip of a recording: on the camera, in the spool, at the CD; released by the camera."""

    __tablename__ = "offload_clip"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_pk: Mapped[int] = mapped_column(
        ForeignKey("offload_recording.id", ondelete="CASCADE"), index=True
    )
    camera_serial: Mapped[str] = mapped_column(String(64), index=True)
    # The camera's clip name: unique on the camera, the key of every dock link clip call.
    name: Mapped[str] = mapped_column(String(255), unique=True)
    index: Mapped[int] = mapped_column(Integer)
    # Bytes; a clip may pass 2 GiB (long clips at high bit rates).
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    md5: Mapped[str | None] = mapped_column(String(32))
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(24), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    in_spool_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The camera accepted our signed deletion confirmation (or no longer had the clip).
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    at_cd_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # True: the CD's ETag confirmed every object of the clip (our md5). False: the CD
    # stored it without an ETag, trusted on its 201 ("unverified by the CD"). None: not
    # at the CD, or not known (a delivery found already Complete, rows older than this).
    cd_verified: Mapped[bool | None] = mapped_column(Boolean)
    spool_removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
