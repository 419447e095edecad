"""The notifier: critical events become problem states (and mail), and the mail is sent.

Subscribers only put the event in an in-memory inbox and wake the loop (they run on the
publisher's thread, which may be the event loop). The loop records each event in a
transaction of its own (`service.record_problem`: the state change and its mail commit
together), then sends what is due, one mail at a time:

1. read the due mail (committed; it carries its Message-ID);
2. hand it to the SMTP server;
3. mark it sent in a commit of its own, or record the failure and the next attempt
   (back-off doubling from `initial` up to `maximum`).

So an SMTP outage or a restart loses nothing (the queue is in the database) and a mail is
marked sent only after the server accepted it. The one gap is a crash between the server's
acceptance and our commit: the mail is sent again after the restart, with the same
Message-ID (at least once; SMTP has no way to ask whether a mail was taken).

An event is in memory until recorded; one lost to a crash in that instant is published
again by its source, which reports what it finds after a start, and the recorded state
makes a repeat harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import structlog
from starlette.concurrency import run_in_threadpool

from bodyworn.controller.context import ControllerContext
from bodyworn.controller.events import (
    BackupFailed,
    CdHealthChanged,
    CdState,
    Event,
    ExtensionLost,
    MailQueued,
    StorageLow,
)
from bodyworn.controller.notifications import service, texts
from bodyworn.controller.notifications.mailer import Mailer, MailNotSent, SmtpConfig, SmtpMailer

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SenderConfig:
    """How often to look and how to back off."""

    interval_s: float = 30.0
    initial_s: float = 30.0
    maximum_s: float = 1800.0
    batch: int = 20


def backoff(cfg: SenderConfig, attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: doubling, capped."""
    return timedelta(seconds=min(cfg.initial_s * 2 ** max(0, min(attempts - 1, 20)),
                                 cfg.maximum_s))


def problem_of(event: Event) -> tuple[str, bool, str] | None:
    """(problem key, active, detail) of a critical event; None for any other event."""
    if isinstance(event, CdHealthChanged):
        # The manual's critical event is the lost connection; an answer of any kind
        # (a CD out of storage answers) means the connection is there.
        return texts.CONTENT_DESTINATION, event.state is CdState.LOST, event.detail
    if isinstance(event, StorageLow):
        return texts.STORAGE, event.low, f"{event.free_fraction:.0%} free"
    if isinstance(event, ExtensionLost):
        return texts.EXTENSION + event.controller, event.lost, ""
    if isinstance(event, BackupFailed):
        return texts.BACKUP, event.failed, event.detail
    return None


class Notifier:
    """Records critical events as problems and sends the mail queue (see the module's doc)."""

    CRITICAL: tuple[type[Event], ...] = (CdHealthChanged, StorageLow, ExtensionLost,
                                         BackupFailed)

    def __init__(self, ctx: ControllerContext, *, config: SenderConfig | None = None,
                 mailer_for: Callable[[SmtpConfig], Mailer] = SmtpMailer) -> None:
        self.ctx = ctx
        self.config = config or SenderConfig()
        self.mailer_for = mailer_for
        self._inbox: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._send_lock = asyncio.Lock()

    # ---- the subscriber side (quick: queue and wake) --------------------------------

    def subscribe(self) -> None:
        """Listen to the critical events and to mail queued by anyone."""
        if self._unsubscribe:
            return
        for kind in (*self.CRITICAL, MailQueued):
            self._unsubscribe.append(self.ctx.events.subscribe(kind, self.on_event))

    def unsubscribe(self) -> None:
        """Stop listening."""
        for undo in self._unsubscribe:
            undo()
        self._unsubscribe.clear()

    def on_event(self, event: Event) -> None:
        """Keep the event for the loop and wake it (any thread)."""
        if not isinstance(event, MailQueued):
            self._inbox.put(event)
        self._poke()

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(wake.set)

    # ---- the loop ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the loop on the running event loop."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self.subscribe()
        self._task = asyncio.create_task(self._run(), name="notifications")

    async def stop(self, *, keep_listening: bool = False) -> None:
        """Stop the loop (a mail being handed over finishes or fails first).

        `keep_listening`: events keep being kept for the next start (a restart).
        """
        if not keep_listening:
            self.unsubscribe()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loop = self._wake = None

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("notifications.loop_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=await self._sleep_s())
            self._wake.clear()

    async def _sleep_s(self) -> float:
        def next_due() -> datetime | None:
            with self.ctx.factory() as session:
                return service.next_due_at(session)

        due_at = await run_in_threadpool(next_due)
        if due_at is None:
            return self.config.interval_s
        wait = (due_at - self.ctx.clock.now()).total_seconds()
        return max(0.05, min(wait, self.config.interval_s))

    async def run_once(self) -> int:
        """Record the events received, then send what is due; the number of mails sent."""
        await run_in_threadpool(self.record_events)
        return await self.send_due()

    def record_events(self) -> int:
        """Record each critical event received (one transaction each); how many."""
        done = 0
        while True:
            try:
                event = self._inbox.get_nowait()
            except queue.Empty:
                return done
            found = problem_of(event)
            if found is None:
                continue
            key, active, detail = found
            with self.ctx.factory() as session, session.begin():
                service.record_problem(session, self.ctx.clock, key, active, detail)
            done += 1

    async def send_due(self) -> int:
        """Send every mail that is due now, in order; stops at the first failure of the
        server itself (the rest wait for the same back-off)."""
        async with self._send_lock:
            return await self._send_due()

    async def _send_due(self) -> int:
        def load() -> tuple[SmtpConfig | None, list[tuple[int, EmailMessage]]]:
            with self.ctx.factory() as session:
                config = service.smtp_config(session)
                if config is None:
                    return None, []
                mails = service.due(session, self.ctx.clock.now(), self.config.batch)
                return config, [(m.id, self._message(m, config, service.content_of(session, m)))
                                for m in mails]

        config, mails = await run_in_threadpool(load)
        if config is None:
            return 0
        mailer = self.mailer_for(config)
        sent = 0
        for mail_id, message in mails:
            try:
                await mailer.send(message)
            except MailNotSent as exc:
                await run_in_threadpool(self._failed, mail_id, str(exc))
                log.warning("notifications.not_sent", mail_id=mail_id, error=str(exc))
                break
            await run_in_threadpool(self._sent, mail_id)
            log.info("notifications.sent", mail_id=mail_id,
                     message_id=message["Message-ID"])
            sent += 1
        return sent

    def _message(self, mail: Any, config: SmtpConfig,
                 content: service.MailContent) -> EmailMessage:
        message = EmailMessage()
        message["From"] = config.from_address
        message["To"] = mail.to_address
        message["Subject"] = mail.subject
        message["Date"] = format_datetime(mail.created_at)
        message["Message-ID"] = mail.message_id
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(content.body)
        for part in content.attachments:
            main, _, sub = part.content_type.partition("/")
            message.add_attachment(part.data, maintype=main, subtype=sub,
                                   filename=part.filename)
        return message

    def _sent(self, mail_id: int) -> None:
        with self.ctx.factory() as session, session.begin():
            service.mark_sent(session, self.ctx.clock, mail_id)

    def _failed(self, mail_id: int, error: str) -> None:
        with self.ctx.factory() as session, session.begin():
            service.mark_failed(session, self.ctx.clock, mail_id, error,
                                lambda attempts: backoff(self.config, attempts))
