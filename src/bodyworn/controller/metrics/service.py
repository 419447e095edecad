"""What /metrics counts, read from the database so the numbers are right after a restart.

Counters of transfers come from the offload tables plus what pruned rows had counted
(`retire`, called by the prune in the same transaction), so they never go down. Failed
logins come from the audit log, which is never pruned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bodyworn.controller.audit.models import AuditEntry
from bodyworn.controller.metrics.models import MetricTotal
from bodyworn.controller.offload import states
from bodyworn.controller.offload.models import OffloadClip, OffloadRecording
from bodyworn.controller.outbox.models import CdPendingObject

INGESTED_CLIPS, INGESTED_BYTES = "clips_ingested", "bytes_ingested"
# + ":" + the outcome (at_cd, rejected)
DELIVERED_CLIPS, DELIVERED_BYTES = "clips_delivered", "bytes_delivered"
OUTCOMES = tuple(sorted(states.DONE))


@dataclass(frozen=True)
class Snapshot:
    """Everything /metrics reads from the database in one transaction."""

    ingested_clips: int
    ingested_bytes: int
    delivered_clips: dict[str, int]
    delivered_bytes: dict[str, int]
    queue_recordings: int
    queue_clips: int
    queue_bytes: int
    oldest_pending_s: float
    outbox_pending: int
    logins_failed: int


def _live(session: Session, recording_pks: Sequence[int] | None = None) -> dict[str, int]:
    """What the clip rows (all, or of these recordings) count towards each total."""
    where = [] if recording_pks is None else [OffloadClip.recording_pk.in_(recording_pks)]
    found: dict[str, int] = {}
    count, size = session.execute(
        select(func.count(), func.coalesce(func.sum(OffloadClip.size), 0))
        .where(OffloadClip.in_spool_at.is_not(None), *where)).one()
    found[INGESTED_CLIPS], found[INGESTED_BYTES] = int(count), int(size)
    for state, count, size in session.execute(
            select(OffloadClip.state, func.count(), func.coalesce(func.sum(OffloadClip.size), 0))
            .where(OffloadClip.at_cd_at.is_not(None), *where).group_by(OffloadClip.state)):
        found[f"{DELIVERED_CLIPS}:{state}"] = int(count)
        found[f"{DELIVERED_BYTES}:{state}"] = int(size)
    return found


def retire(session: Session, recording_pks: Sequence[int]) -> None:
    """Keep what these recordings' clips counted before they are deleted (same transaction)."""
    if not recording_pks:
        return
    for name, value in _live(session, recording_pks).items():
        if not value:
            continue
        row = session.get(MetricTotal, name)
        if row is None:
            session.add(MetricTotal(name=name, value=value))
        else:
            row.value += value
    session.flush()


def delivered_clips(session: Session) -> int:
    """Clips ever delivered to the content destination (rows kept and rows pruned)."""
    key = f"{DELIVERED_CLIPS}:{states.AT_CD}"
    kept = session.get(MetricTotal, key)
    return (kept.value if kept else 0) + _live(session).get(key, 0)


def snapshot(session: Session, now: datetime) -> Snapshot:
    """The numbers of one scrape."""
    totals = {r.name: r.value for r in session.scalars(select(MetricTotal))}
    live = _live(session)

    def total(name: str) -> int:
        return totals.get(name, 0) + live.get(name, 0)

    queue_recordings = session.scalar(select(func.count()).select_from(OffloadRecording).where(
        OffloadRecording.state.in_(states.DELIVERABLE))) or 0
    queue_clips, queue_bytes, oldest = session.execute(
        select(func.count(), func.coalesce(func.sum(OffloadClip.size), 0),
               func.min(OffloadClip.in_spool_at))
        .where(OffloadClip.state == states.IN_SPOOL)).one()
    outbox = session.scalar(select(func.count()).select_from(CdPendingObject)
                            .where(CdPendingObject.delivered_at.is_(None))) or 0
    logins_failed = session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "login", AuditEntry.outcome.in_(("failure", "denied")))) or 0
    oldest_at: datetime | None = oldest  # min() keeps the column's type: aware UTC
    return Snapshot(
        ingested_clips=total(INGESTED_CLIPS), ingested_bytes=total(INGESTED_BYTES),
        delivered_clips={o: total(f"{DELIVERED_CLIPS}:{o}") for o in OUTCOMES},
        delivered_bytes={o: total(f"{DELIVERED_BYTES}:{o}") for o in OUTCOMES},
        queue_recordings=int(queue_recordings), queue_clips=int(queue_clips),
        queue_bytes=int(queue_bytes),
        oldest_pending_s=max(0.0, (now - oldest_at).total_seconds()) if oldest_at else 0.0,
        outbox_pending=int(outbox), logins_failed=int(logins_failed),
    )

