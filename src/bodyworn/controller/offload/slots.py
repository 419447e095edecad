"""Fair ingest slots: at most N clips received at once, cameras served in turn.

A plain semaphore lets whichever thread wakes first take a freed slot, so one camera can
wait while others take slot after slot. Here each waiting camera has a place in a round:
the camera at the front takes the next free slot and, if it wants more, goes to the back.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class SlotStats:
    """What a camera asked for and how long it waited (for benchmarks and the tests)."""

    granted: int = 0
    waited_s: float = 0.0
    longest_wait_s: float = 0.0
    # The most slots given to others while one request of this key waited.
    most_passed_over: int = 0


@dataclass
class _Waiting:
    tickets: deque[object] = field(default_factory=deque)


class FairSlots:
    """Up to `limit` holders at a time; waiting keys take free slots in turn."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("at least one slot")
        self.limit = limit
        self._free = limit
        self._cond = threading.Condition()
        self._waiting: dict[str, _Waiting] = {}
        self._round: deque[str] = deque()
        self.stats: dict[str, SlotStats] = {}
        self._granted_total = 0
        # Every grant in order (key), for tests that check no key was passed over.
        self.grants: list[str] = []

    def queued(self, key: str) -> int:
        """How many requests of `key` wait for a slot now."""
        with self._cond:
            waiting = self._waiting.get(key)
            return len(waiting.tickets) if waiting is not None else 0

    def _my_turn(self, key: str, ticket: object) -> bool:
        return (self._free > 0 and bool(self._round) and self._round[0] == key
                and self._waiting[key].tickets[0] is ticket)

    @contextmanager
    def slot(self, key: str) -> Iterator[None]:
        """Hold one slot for `key` while the block runs."""
        ticket = object()
        asked = time.monotonic()
        with self._cond:
            granted_before = self._granted_total
            waiting = self._waiting.setdefault(key, _Waiting())
            waiting.tickets.append(ticket)
            if key not in self._round:
                self._round.append(key)
            while not self._my_turn(key, ticket):
                self._cond.wait()
            waiting.tickets.popleft()
            self._round.popleft()
            if waiting.tickets:
                self._round.append(key)  # more wanted: to the back of the round
            else:
                del self._waiting[key]
            self._free -= 1
            stats = self.stats.setdefault(key, SlotStats())
            wait = time.monotonic() - asked
            stats.granted += 1
            stats.waited_s += wait
            stats.longest_wait_s = max(stats.longest_wait_s, wait)
            stats.most_passed_over = max(stats.most_passed_over,
                                         self._granted_total - granted_before)
            self._granted_total += 1
            self.grants.append(key)
            if len(self.grants) > 10_000:
                del self.grants[:5_000]
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._free += 1
                self._cond.notify_all()
