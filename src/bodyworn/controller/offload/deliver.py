"""Deliver: a recording whole to the CD, its outcome recorded, then its spool files removed.

Per recording: the recording through `CDClient` (idempotent: objects overwrite themselves
and a `Complete` container is left alone) → record the outcome (and publish it) → only
then remove the spool files. Each arrow is a commit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import structlog
from sqlalchemy.orm import Session

from bodyworn.cdclient.client import CDClient, RejectedAs
from bodyworn.cdclient.records import RecordingUpload
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.events import RecordingDelivered, RecordingRejected, emit
from bodyworn.controller.integrity import service as integrity
from bodyworn.controller.offload import service, states
from bodyworn.controller.offload.base import OffloadConfig, backoff, in_transaction
from bodyworn.controller.offload.early import EarlyUploads
from bodyworn.controller.offload.models import OffloadRecording
from bodyworn.evidence.metadata import MetadataError
from bodyworn.store.spool import Spool

log = structlog.get_logger(__name__)
_STATES = {"delivered": states.AT_CD, "rejected_content": states.REJECTED,
           "not_transferred": states.NOT_TRANSFERRED}
_OUTCOMES = {state: outcome for outcome, state in _STATES.items()}
UploadOf = Callable[[Session, int], RecordingUpload]


def record_outcome(session: Session, ctx: ControllerContext, rec_pk: int, state: str,
                   container: str | None, reason: str | None = None,
                   verified: dict[str, bool] | None = None) -> None:
    """Write where the CD put a recording (and, for custody, in the audit log), and
    publish it once that is committed."""
    service.mark_outcome(session, ctx.clock, rec_pk, state, container, reason, verified)
    rec = session.get(OffloadRecording, rec_pk)
    assert rec is not None
    integrity.audit_delivered(session, ctx.clock, rec.recording_id, rec.camera_serial,
                              _OUTCOMES[state], container, reason)
    if state == states.AT_CD:
        emit(session, RecordingDelivered(rec.recording_id, rec.camera_serial, container or ""))
    else:
        emit(session, RecordingRejected(
            rec.recording_id, rec.camera_serial, reason or "",
            container if state == states.REJECTED else None))


class Deliverer:
    """Delivers recordings whole in the spool (the loop picks which and how many)."""

    def __init__(self, ctx: ControllerContext, config: OffloadConfig, spool: Spool,
                 early: EarlyUploads, upload_of: UploadOf) -> None:
        self.ctx = ctx
        self.config = config
        self.spool = spool
        self.early = early
        self._upload_of = upload_of

    async def deliver_recording(self, cd: CDClient, rec_pk: int) -> None:
        """Deliver one recording and record the outcome; the spool is cleaned afterwards."""
        ctx = self.ctx

        def start(session: Session) -> tuple[RecordingUpload | str, RejectedAs | None]:
            service.mark_delivering(session, ctx.clock, rec_pk)
            decided = service.rejected_as(session, rec_pk)
            return self._safe_upload(session, rec_pk), RejectedAs(*decided) if decided else None

        async def keep_rejected_as(decided: RejectedAs) -> None:
            await in_transaction(ctx.factory, lambda s: service.note_rejected_as(
                s, rec_pk, decided.when, decided.unique))

        upload, rejected = await in_transaction(ctx.factory, start)
        if isinstance(upload, str):
            await self._outcome(rec_pk, states.NOT_TRANSFERRED, None, upload)
            return
        early = await self.early.settle(rec_pk)
        try:
            result = await cd.deliver_recording(upload, early=early, rejected=rejected,
                                                on_reject=keep_rejected_as)
        except (MetadataError, ValueError) as exc:
            # What the CD API cannot express (a name or value out of its rules) will never
            # be storable: kept here, downloadable, like a 400 without rejected content.
            await self._outcome(rec_pk, states.NOT_TRANSFERRED, None,
                                f"not describable to the CD: {exc}")
            return
        await self._outcome(rec_pk, _STATES[result.outcome], result.container, result.reason,
                            dict(result.verified))
        self.early.forget(rec_pk)
        log.info("offload.delivered", recording=upload.recording_id, outcome=result.outcome,
                 container=result.container)

    async def _outcome(self, rec_pk: int, state: str, container: str | None,
                       reason: str | None, verified: dict[str, bool] | None = None) -> None:
        await in_transaction(self.ctx.factory, lambda s: record_outcome(
            s, self.ctx, rec_pk, state, container, reason, verified))

    def _safe_upload(self, session: Session, rec_pk: int) -> RecordingUpload | str:
        try:
            return self._upload_of(session, rec_pk)
        except (MetadataError, ValueError, KeyError) as exc:
            # Metadata the CD API cannot carry: it will never be storable as it is.
            return f"cannot describe the recording to the CD: {exc}"

    async def failed(self, rec_pk: int, error: str, *, retry: bool) -> None:
        """Note a failed delivery; it waits its back-off (a full CD: the loop's pause)."""

        def note(session: Session) -> None:
            rec = session.get(OffloadRecording, rec_pk)
            attempts = rec.attempts if rec is not None else 1
            wait = backoff(self.config, attempts) if retry else timedelta(0)
            service.mark_failed(session, self.ctx.clock, rec_pk, error, wait)

        await in_transaction(self.ctx.factory, note)

    async def remove_delivered_spool(self) -> None:
        """Remove spool files of clips the CD holds (after the outcome was committed)."""
        rows = await in_transaction(self.ctx.factory, lambda s: [
            (c.id, c.camera_serial, c.name) for c in service.spool_to_remove(s)])
        for _, serial, name in rows:
            self.spool.remove(serial, name)
        if rows:
            await in_transaction(self.ctx.factory, lambda s: service.mark_spool_removed(
                s, self.ctx.clock, [r[0] for r in rows]))
