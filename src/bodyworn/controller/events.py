"""Named domain events and the small bus that carries them inside one controller process.

A service raises an event; features that care (notifications, the cluster, metrics, the
dashboard) subscribe to its type instead of being called by the service. Two ways in:

- `bus.publish(event)`: now, on the caller's thread (for facts that are not in the
  database, such as the content destination's health as the deliver loop found it);
- `emit(session, event)`: once the session's transaction commits, and never if it rolls
  back, so a subscriber never hears of a change that did not happen.

Subscribers run on the publisher's thread, one after the other in the order they
subscribed. They must be quick (queue work, do not do it) and they cannot stop the
publisher: an exception is logged and the next subscriber runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

import structlog
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

log = structlog.get_logger(__name__)

_PENDING_KEY = "bodyworn.pending_events"


class Event:
    """Base of every domain event (frozen dataclasses below)."""


@dataclass(frozen=True)
class CameraDocked(Event):
    """An added camera sits in a bay of one of this controller's docking stations.

    Published by docking/ once the camera is read, settled and its user pushed (also for
    a camera a restart's resync finds in its bay); its sync and ingest follow.
    """

    serial: str
    station: str
    bay: int


@dataclass(frozen=True)
class CameraUndocked(Event):
    """A camera left its bay (any camera, added or not): emitted by docking/."""

    serial: str
    station: str
    bay: int


@dataclass(frozen=True)
class RecordingDelivered(Event):
    """A recording is whole and Complete at the content destination (offload/deliver.py)."""

    recording_id: str
    camera_serial: str
    container: str


@dataclass(frozen=True)
class RecordingRejected(Event):
    """A recording the content destination refused (offload/deliver.py).

    `container`: the RejectedContent container it went to; None when it is kept here as
    not transferred (the CD takes no rejected content, or the API cannot describe it).
    """

    recording_id: str
    camera_serial: str
    reason: str
    container: str | None = None


class CdState(StrEnum):
    """What the content destination's connection is, as the delivery last found it."""

    OK = "ok"
    LOST = "lost"
    OUT_OF_STORAGE = "out_of_storage"


@dataclass(frozen=True)
class CdHealthChanged(Event):
    """The content destination's state changed (health_state.py, on a change only)."""

    state: CdState
    detail: str
    at: datetime

    @property
    def ok(self) -> bool:
        """Whether recordings can be delivered."""
        return self.state is CdState.OK


@dataclass(frozen=True)
class StationHealthChanged(Event):
    """A docking station stopped answering the controller, or answers again.

    Published by health_state.py on a change only, from docks/' check of every known
    station (its listing read over the dock link).
    """

    serial: str
    answering: bool
    detail: str
    at: datetime


@dataclass(frozen=True)
class StorageLow(Event):
    """This controller's storage crossed the low mark (low=False when it recovered).

    Published by the dashboard's storage check (health/) through health_state.py.
    """

    low: bool
    free_fraction: float
    at: datetime


@dataclass(frozen=True)
class ExtensionLost(Event):
    """An extension system controller stopped answering (lost=False: it is back)."""

    controller: str
    lost: bool


@dataclass(frozen=True)
class BackupFailed(Event):
    """The system backup failed to synchronize (failed=False: it succeeded again)."""

    detail: str
    failed: bool


@dataclass(frozen=True)
class ResetAsked(Event):
    """A system reset is asked for: whoever holds it up says so by adding to the lists.

    Published by reset/ before it decides (and again when Support → System reset shows
    what is pending). The cluster adds the extension controllers not removed yet, and a
    reason when this controller is the backup extension (which cannot be reset). The
    subscribers run on the publisher's thread, so the lists are whole when publish returns.
    """

    extensions: list[str] = field(default_factory=list)
    backup_holder: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CdRequestFailed(Event):
    """A request to the content destination failed: its HTTP status, or None when no answer
    came (network, TLS); counted by metrics/ (the CD client reports every failed attempt)."""

    status: int | None


@dataclass(frozen=True)
class MailQueued(Event):
    """A mail was committed to the outbox (notifications/ wakes its sender)."""

    mail_id: int


@dataclass(frozen=True)
class UserChanged(Event):
    """A body worn user was created, changed or removed (users/, the CSV import too)."""

    uuid: str
    action: str  # "created" | "updated" | "removed"


@dataclass(frozen=True)
class SettingsChanged(Event):
    """System settings changed; `keys` names which (e.g. {"timezone"}).

    Emitted by setup (every key), system/ (name, time, language, privacy, cloud), destinations/
    ("connection_file") and assignment/ ("self_assign_readiness").
    """

    keys: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class FirmwareInstalled(Event):
    """A signed firmware bundle was verified and installed on this controller (firmware/).

    Emitted in the install's transaction, so subscribers hear of it once it is recorded.
    `bundle_path` is the bundle as verified, kept in the data directory: what a cluster
    replicates to its extension controllers, which verify its signature and version
    themselves and install it the same way. `during_setup`: installed by the setup
    wizard (a new system, where an older version is allowed).
    """

    version: str
    bundle_sha256: str
    bundle_path: str
    camera_models: tuple[str, ...]
    at: datetime
    during_setup: bool = False


E = TypeVar("E", bound=Event)
Handler = Callable[[Any], None]


class EventBus:
    """Subscribers by event type; publish calls each in turn (see the module's note)."""

    def __init__(self) -> None:
        self._handlers: dict[type[Event], list[Handler]] = {}
        self._lock = threading.Lock()

    def subscribe(self, kind: type[E], handler: Callable[[E], None]) -> Callable[[], None]:
        """Call `handler` with every event of `kind` (or a subclass); returns an unsubscribe."""
        with self._lock:
            self._handlers.setdefault(kind, []).append(handler)

        def unsubscribe() -> None:
            with self._lock:
                handlers = self._handlers.get(kind, [])
                if handler in handlers:
                    handlers.remove(handler)

        return unsubscribe

    def handlers_for(self, kind: type[Event]) -> list[Handler]:
        """The handlers an event of this type reaches, in subscription order."""
        with self._lock:
            return [h for k in kind.__mro__ if isinstance(k, type) and issubclass(k, Event)
                    for h in self._handlers.get(k, [])]

    def publish(self, event: Event) -> None:
        """Hand `event` to its subscribers now; a failing subscriber is logged and skipped."""
        for handler in self.handlers_for(type(event)):
            try:
                handler(event)
            except Exception:
                log.exception("events.subscriber_failed", kind=type(event).__name__,
                              handler=getattr(handler, "__qualname__", repr(handler)))

    def bind(self, factory: Any) -> None:
        """Publish the events `emit`ted in sessions of this sessionmaker after they commit."""
        sa_event.listen(factory, "after_commit", self._after_commit)
        sa_event.listen(factory, "after_soft_rollback", _after_rollback)

    def _after_commit(self, session: Session) -> None:
        pending: list[Event] = session.info.pop(_PENDING_KEY, [])
        for event in pending:
            self.publish(event)


def _after_rollback(session: Session, previous_transaction: Any) -> None:
    if not session.in_transaction():
        session.info.pop(_PENDING_KEY, None)


def emit(session: Session, event: Event) -> None:
    """Publish `event` when this session's transaction commits (dropped on rollback)."""
    session.info.setdefault(_PENDING_KEY, []).append(event)
