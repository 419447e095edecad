"""The typed interfaces the controller context holds.

The folders implement them, `app.py` wires them together, and everything else sees only
these shapes: the context sits below every folder and imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from sqlalchemy.orm import Session

from bodyworn.cdclient.client import CDClient, RetryPolicy
from bodyworn.docklink.client import DockLinkClient
from bodyworn.docklink.messages import CameraInfo, StationEvent
from bodyworn.domain.clock import Clock
from bodyworn.firmware.bundle import Bundle

# Measures the host clock's offset (seconds) against an NTP server and its fallback.
NtpMeasurer = Callable[[str, str | None], float]


class CdClientFactory(Protocol):
    """Clients of the content destination the system is locked to."""

    def key(self) -> str:
        """What a client would be made from now: a new key means a new client.

        LookupError while no content destination is set (before setup).
        """
        ...

    def make(self, retry: RetryPolicy) -> CDClient:
        """A new client (the caller closes it)."""
        ...


class DockLinkFactory(Protocol):
    """Dock link clients that sign as this system."""

    def __call__(self, camera_url: str) -> DockLinkClient:
        """A client of the camera at `camera_url` (the caller closes it)."""
        ...


class Mailer(Protocol):
    """Sends e-mail (notifications, to come); the context holds None until there is one."""

    async def send(self, to: Sequence[str], subject: str, body: str) -> None:
        """Send one message."""
        ...


class FirmwareInstaller(Protocol):
    """What setup needs of firmware/ (which sits above it): check a file, install it with
    the new system."""

    def verify(self, data: bytes) -> Bundle:
        """The bundle verified whole; a Refused says what is wrong with the file."""
        ...

    def install_in_setup(self, session: Session, clock: Clock, bundle: Bundle, *,
                         actor: str, source: str) -> None:
        """Keep the bundle and record its install in the setup's transaction."""
        ...


class Services(Protocol):
    """The controller's background services as one (app.py's Workers)."""

    async def restart(self, reason: str) -> None:
        """Stop every background service and start it again (after a firmware install)."""
        ...


class WizardDraft(Protocol):
    """What the gate needs of a setup wizard draft."""

    @property
    def csrf_token(self) -> str:
        """The draft's CSRF token (the wizard has no login yet)."""
        ...

    @property
    def language(self) -> str:
        """The language the wizard speaks."""
        ...


class WizardDrafts(Protocol):
    """The setup wizard's drafts by cookie value (setup/wizard.py DraftStore)."""

    def get(self, token: str | None) -> WizardDraft | None:
        """The draft of a cookie value, if there is one."""
        ...


class CameraOffload(Protocol):
    """The offload engine as docking and the app's lifespan use it (offload/engine.py)."""

    @property
    def autostart(self) -> bool:
        """Whether its loops start with the app (tests drive them by hand)."""
        ...

    @property
    def stores_bookmarks(self) -> bool:
        """Whether the content destination stores bookmarks (as last read with categories)."""
        ...

    def category_names(self) -> list[str]:
        """The content destination's category names for a camera (may wait for a read)."""
        ...

    def ingest(self, serial: str, camera: DockLinkClient, info: CameraInfo | None) -> None:
        """Offload every clip the camera lists: spool, record, confirm its deletion."""
        ...

    def start(self) -> None:
        """Start the deliver loop on the running event loop."""
        ...

    async def stop(self) -> None:
        """Stop the deliver loop and wait for it."""
        ...


class DockEvents(Protocol):
    """What runs when a station reports a dock or an undock (docking/)."""

    def handle(self, event: StationEvent) -> None:
        """Record the event and do the camera's on-dock or undock work."""
        ...

    def resync(self) -> list[str]:
        """After a restart: handle what each known station's bays hold as docked."""
        ...

    def wait(self, timeout: float = 10.0) -> None:
        """Wait for on-dock work started so far."""
        ...
