"""A recording as the CD API describes it, from its manifest entry and its spooled clips."""

from __future__ import annotations

import json
import uuid

from sqlalchemy.orm import Session

from bodyworn.cdclient.capabilities import Category
from bodyworn.cdclient.records import Bookmark, ClipFile, GnssPoint, RecordingUpload
from bodyworn.controller.identity import service as identity
from bodyworn.controller.offload import service, states
from bodyworn.controller.offload.models import OffloadRecording
from bodyworn.controller.users import service as users
from bodyworn.docklink.messages import Position, RecordingEntry
from bodyworn.evidence.metadata import Location
from bodyworn.store.spool import Spool


def build_upload(session: Session, spool: Spool, categories: tuple[Category, ...],
                 rec_pk: int, *, held_only: bool = False) -> RecordingUpload:
    """The CD upload of a recording; bookmarks name categories by the CD's IDs.

    `held_only`: just the clips in the spool so far (a recording still arriving).
    """
    rec = session.get(OffloadRecording, rec_pk)
    assert rec is not None
    doc = json.loads(rec.manifest_json)
    entry = RecordingEntry.from_json(doc, clips=False)
    serial = rec.camera_serial
    signatures = doc.get("clip_signatures") or {}
    clips = tuple(
        ClipFile(spool.path(serial, c.name), c.start, c.end, md5=c.md5,
                 signature=signatures.get(c.name))
        for c in service.clips_of(session, rec.id)
        if not held_only or c.state == states.IN_SPOOL
    )
    if not clips:
        raise LookupError(f"recording {rec.recording_id} has no clip in the spool")
    stopped = entry.stopped_at or clips[-1].stop
    user = users.find(session, entry.user_id)
    return RecordingUpload(
        recording_id=rec.recording_id,
        user_uuid=user.uuid if user is not None else (entry.user_id or ""),
        bwc_serial=serial,
        scu_serial=_scu_serial(session),
        bwc_model=str(doc.get("bwc_model") or ""),
        firmware_version=entry.firmware,
        trigger_on=entry.trigger,
        trigger_off=entry.stop_reason or "",
        trigger_on_time=entry.trigger_on,
        trigger_off_time=entry.trigger_off or stopped,
        start_time=entry.started_at,
        stop_time=stopped,
        clips=clips,
        time_zone=entry.timezone or "UTC",
        trigger_on_location=_location(entry.trigger_on_location),
        trigger_off_location=_location(entry.trigger_off_location),
        gnss_track=tuple(GnssPoint(p.latitude, p.longitude, p.at) for p in entry.gnss_track),
        bookmarks=_bookmarks(rec.recording_id, entry, categories),
        # The camera's signed statement of the recording (None: it signed none).
        signature=entry.signature,
    )


def _bookmarks(recording_id: str, entry: RecordingEntry,
               categories: tuple[Category, ...]) -> tuple[Bookmark, ...]:
    by_name = {c.name: c for c in categories}
    found: list[Bookmark] = []
    for i, name in enumerate(entry.categories):
        category = by_name.get(name) or Category(id=name[:32], name=name)
        found.append(Bookmark(_bookmark_id(recording_id, "c", i), entry.trigger_on,
                              category=category))
    for i, note in enumerate(entry.notes):
        found.append(Bookmark(_bookmark_id(recording_id, "n", i), entry.trigger_on, note=note))
    return tuple(found)


def _bookmark_id(recording_id: str, kind: str, index: int) -> str:
    # Derived, not random: a repeated delivery overwrites the same bookmark object.
    return uuid.uuid5(uuid.NAMESPACE_URL, f"bodyworn:{recording_id}:{kind}{index}").hex


def _scu_serial(session: Session) -> str:
    try:
        return identity.signing_identity(session).system_id[:32]
    except LookupError:
        return ""


def _location(fix: Position | None) -> Location | None:
    if fix is None:
        return None
    # The camera reports no accuracy with a fix; 0 says "not given" in the CD's string.
    return Location(fix.latitude, fix.longitude, 0.0, fix.at)
