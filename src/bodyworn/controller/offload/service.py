"""The offload tables' rules: what is where, what comes next, what may be pruned.

Every function works in the caller's transaction; each transition is written so that
doing it twice is the same as doing it once (a restart repeats the step it crashed in).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bodyworn.controller.offload import states
from bodyworn.controller.offload.models import OffloadClip, OffloadRecording
from bodyworn.controller.system import service as system
from bodyworn.controller.users import service as users
from bodyworn.docklink.messages import RecordingEntry
from bodyworn.docklink.wire import parse_time
from bodyworn.domain.clock import Clock

HISTORY = timedelta(days=3)


def _recording_doc(recording: RecordingEntry, extra: Mapping[str, Any]) -> str:
    doc = recording.to_json(clips=False)
    doc.update(extra)
    return json.dumps(doc, sort_keys=True, ensure_ascii=False)


def record_manifest(
    session: Session,
    clock: Clock,
    serial: str,
    recording: RecordingEntry,
    extra: Mapping[str, Any] | None = None,
) -> OffloadRecording | None:
    """Note a recording and its clips from a camera's manifest (known ones are left as they are).

    A recording listed without clips (a camera never lists one) is not noted: None.
    """
    if not recording.clips:
        return None
    now = clock.now()
    row = session.scalar(
        select(OffloadRecording).where(OffloadRecording.recording_id == recording.id)
    )
    if row is None:
        row = OffloadRecording(
            recording_id=recording.id, camera_serial=serial,
            manifest_json=_recording_doc(recording, extra or {}), state=states.ON_CAMERA,
            attempts=0, created_at=now, updated_at=now,
        )
        session.add(row)
        session.flush()
    known = set(session.scalars(select(OffloadClip.name).where(
        OffloadClip.recording_pk == row.id)))
    added = False
    for clip in recording.clips:
        if clip.name in known:
            continue
        session.add(OffloadClip(
            recording_pk=row.id, camera_serial=serial, name=clip.name,
            index=clip.index, size=clip.size, sha256=clip.sha256,
            start=clip.start, end=clip.end,
            state=states.ON_CAMERA, attempts=0, created_at=now, updated_at=now,
        ))
        added = True
    if added and row.state not in (states.ON_CAMERA,):
        # A clip we had not seen (a camera cannot add one to a finished recording, but a
        # restored database might lack it): the recording must be delivered again whole.
        row.state, row.updated_at = states.ON_CAMERA, now
    session.flush()
    return row


def clip(session: Session, name: str) -> OffloadClip | None:
    """A clip's row by its camera name."""
    return session.scalar(select(OffloadClip).where(OffloadClip.name == name))


def clips_of(session: Session, recording_pk: int) -> list[OffloadClip]:
    """A recording's clips in order."""
    return list(session.scalars(
        select(OffloadClip).where(OffloadClip.recording_pk == recording_pk)
        .order_by(OffloadClip.index)))


def mark_in_spool(session: Session, clock: Clock, name: str, md5: str) -> tuple[int, bool]:
    """Record that a clip is durably in the spool (and its recording, once all clips are).

    The recording's key, and True when this made it whole in the spool (deliverable).
    """
    row = clip(session, name)
    if row is None:
        raise LookupError(f"unknown clip {name}")
    now = clock.now()
    if row.state == states.ON_CAMERA:
        row.state, row.md5, row.in_spool_at, row.updated_at = states.IN_SPOOL, md5, now, now
        row.last_error = None
    rec = session.get(OffloadRecording, row.recording_pk)
    assert rec is not None
    whole = rec.state == states.ON_CAMERA and all(
        c.state in states.HELD for c in clips_of(session, rec.id)
    )
    if whole:
        rec.state, rec.updated_at = states.IN_SPOOL, now
    session.flush()
    return rec.id, whole


def note_ingest_error(session: Session, clock: Clock, name: str, error: str) -> None:
    """Count a failed ingest attempt of a clip (it stays on the camera)."""
    row = clip(session, name)
    if row is not None:
        row.attempts += 1
        row.last_error, row.updated_at = error[:2000], clock.now()


def mark_released(session: Session, clock: Clock, name: str) -> None:
    """Record that the camera deleted a clip we hold."""
    row = clip(session, name)
    if row is not None and row.released_at is None:
        row.released_at = row.updated_at = clock.now()


def note_gone(session: Session, clock: Clock, serial: str, listed: set[str]) -> None:
    """Mark held clips the camera no longer lists as released (our confirmation landed)."""
    # A camera deletes a clip only on our signed confirmation, which is sent only for held
    # clips; a lost reply (or a crash right after it) leaves released_at unset until now.
    rows = session.scalars(select(OffloadClip).where(
        OffloadClip.camera_serial == serial, OffloadClip.released_at.is_(None),
        OffloadClip.state.in_(states.HELD))).all()
    for row in rows:
        if row.name not in listed:
            row.released_at = row.updated_at = clock.now()


def deliverable(session: Session, now: datetime, limit: int) -> list[OffloadRecording]:
    """Recordings due for delivery, taken in turn from each camera (oldest first per camera)."""
    rows = session.scalars(
        select(OffloadRecording)
        .where(OffloadRecording.state.in_(states.DELIVERABLE))
        .order_by(OffloadRecording.created_at, OffloadRecording.id)
    ).all()
    per_camera: dict[str, list[OffloadRecording]] = defaultdict(list)
    for row in rows:
        if row.next_attempt_at is None or row.next_attempt_at <= now:
            per_camera[row.camera_serial].append(row)
    # Round robin: one camera with a long backlog does not starve the others.
    picked: list[OffloadRecording] = []
    queues = list(per_camera.values())
    while queues and len(picked) < limit:
        for queue in list(queues):
            if len(picked) >= limit:
                break
            picked.append(queue.pop(0))
            if not queue:
                queues.remove(queue)
    return picked


def mark_delivering(session: Session, clock: Clock, recording_pk: int) -> None:
    """Count a delivery attempt (the state says the CD may hold part of it)."""
    rec = session.get(OffloadRecording, recording_pk)
    assert rec is not None
    rec.state, rec.attempts, rec.updated_at = states.DELIVERING, rec.attempts + 1, clock.now()


def rejected_as(session: Session, recording_pk: int) -> tuple[datetime, str] | None:
    """The rejected-content decision an earlier delivery of the recording made, if any."""
    rec = session.get(OffloadRecording, recording_pk)
    assert rec is not None
    if rec.rejected_at is None or rec.rejected_id is None:
        return None
    return rec.rejected_at, rec.rejected_id


def note_rejected_as(session: Session, recording_pk: int, when: datetime, unique: str) -> None:
    """Keep the decision to store the recording as rejected content (before it is stored)."""
    rec = session.get(OffloadRecording, recording_pk)
    assert rec is not None
    rec.rejected_at, rec.rejected_id = when, unique


def mark_outcome(
    session: Session, clock: Clock, recording_pk: int, state: str, container: str | None,
    reason: str | None = None, verified: Mapping[str, bool] | None = None,
) -> None:
    """Record where the CD put a recording (at_cd, rejected) or that it never will.

    `verified`: per clip name, whether the CD confirmed the clip by its ETag (False: it
    stored it without saying, trusted on its 201); clips not named stay as they were.
    """
    rec = session.get(OffloadRecording, recording_pk)
    assert rec is not None
    now = clock.now()
    rec.state, rec.container, rec.updated_at = state, container, now
    rec.completed_at, rec.next_attempt_at, rec.last_error = now, None, reason
    rec.failures = 0
    for row in clips_of(session, rec.id):
        row.state, row.updated_at = state, now
        if state in states.DONE:
            row.at_cd_at = now
            if verified is not None and row.name in verified:
                row.cd_verified = verified[row.name]


def mark_failed(
    session: Session, clock: Clock, recording_pk: int, error: str,
    backoff: Callable[[int], timedelta],
) -> None:
    """Record a failure of the recording's own; it waits `backoff(failures in a row)`."""
    rec = session.get(OffloadRecording, recording_pk)
    assert rec is not None
    now = clock.now()
    rec.failures += 1
    rec.last_error, rec.next_attempt_at = error[:2000], now + backoff(rec.failures)
    rec.updated_at = now


def mark_waiting(session: Session, clock: Clock, recording_pk: int, error: str,
                 until: datetime) -> None:
    """A delivery the CD's outage stopped: not the recording's failure, it waits for the
    CD (`until`: the next probe); its back-off does not grow."""
    rec = session.get(OffloadRecording, recording_pk)
    if rec is None or rec.state not in states.DELIVERABLE:
        return  # its outcome was committed meanwhile
    rec.last_error, rec.next_attempt_at, rec.updated_at = error[:2000], until, clock.now()


def hold_waiting(session: Session, until: datetime) -> None:
    """The CD is down: every recording waiting for it is due at the next probe, not
    before (those with a later back-off of their own keep it)."""
    session.execute(update(OffloadRecording).where(
        OffloadRecording.state.in_(states.DELIVERABLE),
        OffloadRecording.next_attempt_at.is_(None) | (OffloadRecording.next_attempt_at < until)
    ).values(next_attempt_at=until))


def reset_backoff(session: Session) -> int:
    """The CD answers again: every waiting recording is due now, its back-off from zero."""
    result = session.execute(update(OffloadRecording).where(
        OffloadRecording.state.in_(states.DELIVERABLE),
        (OffloadRecording.next_attempt_at.is_not(None)) | (OffloadRecording.failures > 0)
    ).values(next_attempt_at=None, failures=0))
    return int(getattr(result, "rowcount", 0) or 0)


def first_waiting(session: Session) -> OffloadRecording | None:
    """The recording waiting for delivery (due or not) that was tried least recently."""
    return session.scalars(
        select(OffloadRecording).where(OffloadRecording.state.in_(states.DELIVERABLE))
        .order_by(OffloadRecording.updated_at, OffloadRecording.id).limit(1)).first()


def spool_to_remove(session: Session) -> list[OffloadClip]:
    """Clips the CD holds whose spool file is still to be removed."""
    return list(session.scalars(select(OffloadClip).where(
        OffloadClip.state.in_(states.DONE), OffloadClip.spool_removed_at.is_(None))))


def mark_spool_removed(session: Session, clock: Clock, clip_ids: Sequence[int]) -> None:
    """Record that these clips left the spool."""
    now = clock.now()
    for row in session.scalars(select(OffloadClip).where(OffloadClip.id.in_(clip_ids))):
        row.spool_removed_at = now


def prune(session: Session, now: datetime,
          before_delete: Callable[[Session, Sequence[int]], None] | None = None) -> int:
    """Forget recordings finished more than three days ago whose clips all left the camera.

    `before_delete(session, recording keys)` runs in the same transaction first (metrics/
    keeps what the rows counted; app.py wires it).
    """
    old = session.scalars(select(OffloadRecording).where(
        OffloadRecording.state.in_(states.DONE), OffloadRecording.completed_at < now - HISTORY
    )).all()
    gone = [
        r.id for r in old
        if all(c.released_at is not None and c.spool_removed_at is not None
               for c in clips_of(session, r.id))
    ]
    if gone:
        if before_delete is not None:
            before_delete(session, gone)
        session.execute(delete(OffloadClip).where(OffloadClip.recording_pk.in_(gone)))
        session.execute(delete(OffloadRecording).where(OffloadRecording.id.in_(gone)))
    return len(gone)


def retry_at(rec: OffloadRecording, now: datetime | None = None) -> datetime | None:
    """When a recording whose delivery failed is tried again, while it waits for that
    (None: it is not waiting for a retry; with `now`, not when that time has come)."""
    if rec.state != states.DELIVERING or rec.next_attempt_at is None or not rec.last_error:
        return None
    if now is not None and rec.next_attempt_at <= now:
        return None
    return rec.next_attempt_at


def local_time(session: Session, moment: datetime) -> str:
    """A moment as the system's clock shows it: HH:MM and the zone's abbreviation."""
    return f"{moment.astimezone(ZoneInfo(system.current(session).timezone)):%H:%M %Z}"


def pending_for_camera(session: Session, serial: str, now: datetime | None = None
                       ) -> list[str]:
    """What of a camera's evidence is not at the CD yet, one line each (empty: nothing)."""
    lines: list[str] = []
    recs = session.scalars(select(OffloadRecording).where(
        OffloadRecording.camera_serial == serial,
        OffloadRecording.state.not_in(states.DONE)).order_by(OffloadRecording.id)).all()
    for rec in recs:
        clips = clips_of(session, rec.id)
        on_camera = sum(1 for c in clips if c.state == states.ON_CAMERA)
        label = states.LABELS[rec.state].lower()
        waiting = retry_at(rec, now)
        if waiting is not None:
            label = f"{states.WAITING_TO_RETRY.lower()} at {local_time(session, waiting)}"
        line = f"Recording {rec.recording_id}: {label}"
        if on_camera:
            line += f" ({on_camera} of {len(clips)} clips still on the camera)"
        if rec.state == states.NOT_TRANSFERRED:
            line += "; download it from the transfer page"
        elif rec.last_error:
            line += f"; last error: {rec.last_error[:120]}"
        lines.append(line)
    # A clip at the CD that the camera has not deleted yet is safe: it does not block.
    return lines


def any_pending(session: Session) -> list[str]:
    """Pending lines for every camera (resetting the system is refused while any exist)."""
    serials = session.scalars(select(OffloadRecording.camera_serial).distinct()).all()
    return [line for s in sorted(serials) for line in pending_for_camera(session, s)]


@dataclass
class ClipView:
    """One clip's transfer state for the manager."""

    id: int
    name: str
    size: int
    state: str
    label: str
    on_camera: bool
    in_controller: bool
    at_cd: bool
    downloadable: bool
    # At the CD: True when the CD confirmed the clip's md5 (its ETag), False when it
    # stored it without saying ("unverified by the CD"), None when not known.
    cd_verified: bool | None = None


@dataclass
class RecordingView:
    """One recording's transfer state for the manager: whose, when, how big, how far."""

    recording_id: str
    state: str
    label: str
    container: str | None
    attempts: int
    last_error: str | None
    updated_at: datetime
    completed_at: datetime | None
    camera_serial: str = ""
    # The camera's user as the recording names it, and that user's name here ("" if gone).
    user_ref: str | None = None
    user_name: str = ""
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    clips: list[ClipView] = field(default_factory=list)
    # While its last try failed and it waits for the next: when that is (UTC), and the
    # same as the system's clock shows it ("14:05 CET").
    retry_at: datetime | None = None
    retry_at_local: str | None = None

    @property
    def size(self) -> int:
        """Bytes of all its clips."""
        return sum(c.size for c in self.clips)

    @property
    def clips_at_cd(self) -> int:
        """Clips the content destination holds."""
        return sum(1 for c in self.clips if c.at_cd)

    @property
    def clips_copied(self) -> int:
        """Clips copied off the camera (in the controller or beyond)."""
        return sum(1 for c in self.clips if c.state != states.ON_CAMERA)

    @property
    def progress(self) -> int:
        """How far it got, 0..100: copying off the camera is the first half, delivery to
        the content destination the second (by bytes)."""
        total = self.size or 1
        copied = sum(c.size for c in self.clips if c.state != states.ON_CAMERA)
        delivered = sum(c.size for c in self.clips if c.at_cd)
        if self.state in states.DONE or self.state == states.NOT_TRANSFERRED:
            return 100
        return round(50 * copied / total + 50 * delivered / total)


@dataclass
class CameraTransfers:
    """One camera's recordings, newest first."""

    serial: str
    recordings: list[RecordingView] = field(default_factory=list)


def transfers(session: Session, serial: str | None = None, now: datetime | None = None
              ) -> list[CameraTransfers]:
    """Transfer state per camera, recording and clip (the page and the API show this)."""
    stmt = select(OffloadRecording).order_by(OffloadRecording.camera_serial,
                                             OffloadRecording.id.desc())
    if serial is not None:
        stmt = stmt.where(OffloadRecording.camera_serial == serial)
    cameras: dict[str, CameraTransfers] = {}
    names: dict[str | None, str] = {}
    for rec in session.scalars(stmt):
        doc = json.loads(rec.manifest_json)
        ref = doc.get("user_id")
        if ref not in names:
            user = users.find(session, ref)
            names[ref] = user.name if user is not None else ""
        view = RecordingView(
            rec.recording_id, rec.state, states.LABELS[rec.state], rec.container, rec.attempts,
            rec.last_error, rec.updated_at, rec.completed_at, rec.camera_serial, ref,
            names[ref], _time(doc.get("started_at")), _time(doc.get("stopped_at")),
        )
        waiting = retry_at(rec, now)
        if waiting is not None:
            view.label, view.retry_at = states.WAITING_TO_RETRY, waiting
            view.retry_at_local = local_time(session, waiting)
        for c in clips_of(session, rec.id):
            view.clips.append(ClipView(
                c.id, c.name, c.size, c.state, states.LABELS[c.state],
                on_camera=c.released_at is None,
                in_controller=c.state != states.ON_CAMERA and c.spool_removed_at is None,
                at_cd=c.state in states.DONE,
                downloadable=c.state == states.NOT_TRANSFERRED and c.spool_removed_at is None,
                cd_verified=c.cd_verified if c.state in states.DONE else None,
            ))
        cameras.setdefault(rec.camera_serial, CameraTransfers(rec.camera_serial)).recordings.append(
            view)
    return list(cameras.values())


def _time(text: Any) -> datetime | None:
    try:
        return parse_time(text) if isinstance(text, str) else None
    except ValueError:
        return None


def downloadable_clip(session: Session, clip_id: int) -> OffloadClip | None:
    """A not-transferred clip still in the spool, for download from the manager."""
    row = session.get(OffloadClip, clip_id)
    if row is None or row.state != states.NOT_TRANSFERRED or row.spool_removed_at is not None:
        return None
    return row
