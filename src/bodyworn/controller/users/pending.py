"""Uploaded user files waiting for the administrator's choices; kept in memory, never stored."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from bodyworn.controller.users.csvfile import ParsedCsv
from bodyworn.domain.clock import Clock

TTL = timedelta(minutes=30)
MAX_PENDING = 8


@dataclass(frozen=True)
class PendingImport:
    """One uploaded, parsed file and who uploaded it."""

    token: str
    parsed: ParsedCsv
    filename: str
    actor: str
    created_at: datetime


class ImportStore:
    """Pending imports keyed by an unguessable token; old ones expire."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._items: dict[str, PendingImport] = {}
        self._lock = threading.Lock()

    def _expire(self) -> None:
        cutoff = self._clock.now() - TTL
        for token in [t for t, p in self._items.items() if p.created_at < cutoff]:
            del self._items[token]

    def put(self, parsed: ParsedCsv, filename: str, actor: str) -> PendingImport:
        """Keep a parsed file until it is imported, dropped or expired."""
        with self._lock:
            self._expire()
            while len(self._items) >= MAX_PENDING:  # the oldest goes; easy to upload again
                del self._items[min(self._items, key=lambda t: self._items[t].created_at)]
            item = PendingImport(secrets.token_urlsafe(24), parsed, filename, actor,
                                 self._clock.now())
            self._items[item.token] = item
            return item

    def get(self, token: str, actor: str) -> PendingImport | None:
        """The pending file of this token, if it is still there and the actor's own."""
        with self._lock:
            self._expire()
            item = self._items.get(token)
            return item if item is not None and item.actor == actor else None

    def drop(self, token: str) -> None:
        """Forget a pending file."""
        with self._lock:
            self._items.pop(token, None)
