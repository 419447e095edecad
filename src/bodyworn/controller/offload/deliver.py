"""Deliver: a recording whole to the CD, its outcome recorded, then its spool files removed.

Per recording: the recording through `CDClient` (idempotent: objects overwrite themselves
and a `Complete` container is left alone) → record the outcome (and publish it) → only
then remove the spool files. Each arrow is a commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from sqlalchemy.orm import Session

from bodyworn.cdclient.client import CDClient, RejectedAs
from bodyworn.cdclient.errors import CDError, InsufficientStorage
from bodyworn.cdclient.records import RecordingUpload
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.events import RecordingDelivered, RecordingRejected, emit
from bodyworn.controller.integrity import service as integrity
from bodyworn.controller.offload import service, states
from bodyworn.controller.offload.base import OffloadConfig, backoff, in_transaction
from bodyworn.controller.offload.cd_health import is_cd_down
from bodyworn.controller.offload.early import EarlyUploads
from bodyworn.controller.offload.models import OffloadRecording
from bodyworn.evidence.metadata import MetadataError
from bodyworn.store.spool import Spool

log = structlog.get_logger(__name__)
_STATES = {"delivered": states.AT_CD, "rejected_content": states.REJECTED,
           "not_transferred": states.NOT_TRANSFERRED}
_OUTCOMES = {state: outcome for outcome, state in _STATES.items()}
UploadOf = Callable[[Session, int], RecordingUpload]


@dataclass
class PassResult:
    """What one pass of deliveries came to."""

    delivered: int = 0
    # The CD's failures by recording (busy, out of storage, refused, …).
    failed: dict[int, CDError] = field(default_factory=dict)
    # Recordings whose spool could not be read.
    spool: dict[int, str] = field(default_factory=dict)
    # The first 507, and the deliveries it stopped (not started, or cancelled).
    full: InsufficientStorage | None = None
    stopped: list[int] = field(default_factory=list)

    def cd_trouble(self) -> CDError | None:
        """The CD's failure as a whole that this pass met, if it met one.

        A 507 always is one; a CD busy or unreachable (CD_DOWN) is one when no recording
        of the pass went through.
        """
        if self.full is not None:
            return self.full
        if self.delivered:
            return None
        return next((e for e in self.failed.values() if is_cd_down(e)), None)


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

    async def deliver_pass(self, cd: CDClient, due: list[int], slots: int) -> PassResult:
        """Deliver `due`, `slots` at a time; what became of each (nothing recorded yet of
        failures: the loop decides whether they were the recording's or the CD's).

        The first 507 stops the pass: deliveries not started yet are not started, those
        under way are cancelled (every step is repeatable: the next delivery sends what
        the CD does not hold), instead of each running into the full CD in turn.
        """
        result = PassResult()
        limit = asyncio.Semaphore(max(1, slots))
        running: dict[int, asyncio.Task[None]] = {}

        async def one(rec_pk: int) -> None:
            async with limit:
                if result.full is not None:
                    result.stopped.append(rec_pk)
                    return
                try:
                    await self.deliver_recording(cd, rec_pk)
                    result.delivered += 1
                except InsufficientStorage as exc:
                    if result.full is None:
                        result.full = exc
                        for pk, task in running.items():
                            if pk != rec_pk:
                                task.cancel()
                    result.failed[rec_pk] = exc
                except CDError as exc:
                    result.failed[rec_pk] = exc
                    log.info("offload.delivery_failed", recording=rec_pk, error=str(exc))
                except OSError as exc:
                    # The spool cannot be read (a file gone or a failing disk): this
                    # recording waits its back-off; the others go on.
                    result.spool[rec_pk] = f"spool: {exc}"
                    log.error("offload.spool_unreadable", recording=rec_pk, error=str(exc))

        running.update((pk, asyncio.ensure_future(one(pk))) for pk in due)
        ended = await asyncio.gather(*running.values(), return_exceptions=True)
        for outcome in ended:
            if isinstance(outcome, BaseException) and not isinstance(
                    outcome, asyncio.CancelledError):
                raise outcome  # not the CD's nor the spool's: the loop's own trouble
        result.stopped += [pk for pk, task in running.items() if task.cancelled()]
        return result

    async def failed(self, failures: dict[int, str]) -> None:
        """Note failures of the recordings' own: each waits its back-off, growing."""

        def note(session: Session) -> None:
            for pk, error in failures.items():
                service.mark_failed(session, self.ctx.clock, pk, error,
                                    lambda n: backoff(self.config, n))

        if failures:
            await in_transaction(self.ctx.factory, note)

    async def wait_for_cd(self, errors: dict[int, str], until: datetime) -> None:
        """Note deliveries the CD's outage stopped: they wait for it, no back-off."""

        def note(session: Session) -> None:
            for pk, error in errors.items():
                service.mark_waiting(session, self.ctx.clock, pk, error, until)

        if errors:
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
