"""The setup wizard's steps and its drafts: answers held in memory until the last step."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bodyworn.controller.setup.service import Identity, SetupAnswers
from bodyworn.domain.clock import Clock
from bodyworn.firmware.bundle import Bundle

# The manual's order. Each step: (slug, title).
STEPS: tuple[tuple[str, str], ...] = (
    ("start", "Create or extend"),
    ("admin", "Administrator account"),
    ("passphrase", "Super admin passphrase"),
    ("restore-key", "System restore key"),
    ("name", "System name"),
    ("network", "Network"),
    ("time", "Date and time"),
    ("cloud", "Cloud extensions"),
    ("destination", "Content destination"),
    ("power", "Power line frequency"),
    ("assignment", "Camera assignment"),
    ("summary", "Summary"),
)
SLUGS = tuple(slug for slug, _ in STEPS)
DRAFT_LIFETIME = timedelta(hours=4)
MAX_DRAFTS = 64


@dataclass
class Draft:
    """One browser's way through the wizard; nothing of it is in the database."""

    token: str
    csrf_token: str
    created_at: datetime
    answers: SetupAnswers = field(default_factory=SetupAnswers)
    mode: str = ""  # create (a new system) or extend (an existing one)
    done: set[str] = field(default_factory=set)
    identity: Identity | None = None
    restore_key_downloaded: bool = False
    offset_seconds: float = 0.0
    connection_file_name: str = ""
    # The connection file's warnings were shown once (the next Next goes on).
    connection_file_warned: bool = False
    # Where the identity came from when it was restored ("" for a new one), and what a
    # restore writes beside setup in its one transaction (a system backup's data).
    restored_from: str = ""
    then: Callable[[Session, Clock], None] | None = None
    # Firmware to install with the new system (checked whole on the first step).
    firmware: Bundle | None = None
    firmware_name: str = ""
    firmware_upload: bytes = b""

    def restore(self, identity: Identity, passphrase: str, source: str) -> None:
        """Take a restored identity, with the passphrase that opened it."""
        self.identity = identity
        self.answers.super_admin_passphrase = passphrase
        self.answers.super_admin_passphrase_confirm = passphrase
        self.restore_key_downloaded = True  # its owner holds the System restore key
        self.restored_from = source
        self.then = None
        self.done.add("restore-key")

    @property
    def language(self) -> str:
        """The language the wizard speaks (chosen on its first step)."""
        return self.answers.language

    def first_open_step(self) -> str:
        """The first step not yet completed."""
        for slug in SLUGS:
            if slug not in self.done:
                return slug
        return SLUGS[-1]

    def may_open(self, slug: str) -> bool:
        """A step opens only after every step before it is done."""
        index = SLUGS.index(slug)
        return all(s in self.done for s in SLUGS[:index])


class DraftStore:
    """Drafts by cookie token, expiring, bounded in number."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._drafts: dict[str, Draft] = {}
        self._lock = threading.Lock()

    def get(self, token: str | None) -> Draft | None:
        """The draft for a cookie value, if it exists and has not expired."""
        if not token:
            return None
        with self._lock:
            draft = self._drafts.get(token)
            if draft and self._clock.now() - draft.created_at > DRAFT_LIFETIME:
                del self._drafts[token]
                return None
            return draft

    def new(self) -> Draft:
        """Start a draft (the oldest goes when there are too many)."""
        now = self._clock.now()
        draft = Draft(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now)
        with self._lock:
            expired = [t for t, d in self._drafts.items() if now - d.created_at > DRAFT_LIFETIME]
            for t in expired:
                del self._drafts[t]
            while len(self._drafts) >= MAX_DRAFTS:
                oldest = min(self._drafts.values(), key=lambda d: d.created_at)
                del self._drafts[oldest.token]
            self._drafts[draft.token] = draft
        return draft

    def clear(self) -> None:
        """Forget every draft (after setup has committed)."""
        with self._lock:
            self._drafts.clear()
