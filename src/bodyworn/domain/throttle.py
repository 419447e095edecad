"""Failed guesses of a secret: a lockout that doubles, and a guess charged before it is checked.

A guess counts as a failure from the moment it is let through, before the (slow) password
hash says whether it was right; a right one clears the count afterwards. So many guesses
arriving at once cannot all slip in while the first ones are still being checked: at most
`threshold` are ever checked before the lock, however many arrive together.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

BASE_LOCKOUT = timedelta(seconds=30)
MAX_LOCKOUT = timedelta(minutes=15)
DEFAULT_THRESHOLD = 5


def lockout_for(failures: int, threshold: int) -> timedelta:
    """How long a secret stays locked after `failures` consecutive failed guesses."""
    if failures < threshold:
        return timedelta(0)
    # The exponent is capped so that a long run of failures cannot overflow.
    wait: timedelta = BASE_LOCKOUT * (2 ** min(failures - threshold, 16))
    return min(wait, MAX_LOCKOUT)


def lockout_steps(threshold: int) -> list[tuple[int, timedelta]]:
    """(failures, lock) for every count whose lock is shorter than the longest one."""
    steps: list[tuple[int, timedelta]] = []
    failures = threshold
    while (wait := lockout_for(failures, threshold)) < MAX_LOCKOUT:
        steps.append((failures, wait))
        failures += 1
    return steps


@dataclass
class _Guesses:
    failures: int = 0
    locked_until: datetime | None = None


class GuessThrottle:
    """Failed guesses per key (a user name, a password), in memory, safe across threads.

    Keys are forgotten oldest first beyond `max_keys`, so guessing many keys cannot use up
    memory; a forgotten key starts again from no failures.
    """

    def __init__(self, max_keys: int = 10_000) -> None:
        self._max_keys = max_keys
        self._guesses: OrderedDict[str, _Guesses] = OrderedDict()
        self._lock = threading.Lock()

    def charge(self, key: str, now: datetime, threshold: int) -> timedelta | None:
        """Let one guess through, counted as failed (None), or say how long it stays locked."""
        with self._lock:
            guesses = self._guesses.pop(key, None) or _Guesses()
            self._guesses[key] = guesses
            while len(self._guesses) > self._max_keys:
                self._guesses.popitem(last=False)
            if guesses.locked_until is not None and guesses.locked_until > now:
                return guesses.locked_until - now
            guesses.failures += 1
            wait = lockout_for(guesses.failures, threshold)
            guesses.locked_until = now + wait if wait else None
            return None

    def clear(self, key: str) -> None:
        """A guess was right: its key starts again from no failures."""
        with self._lock:
            self._guesses.pop(key, None)

    def failures(self, key: str) -> int:
        """Failed guesses counted for a key."""
        with self._lock:
            guesses = self._guesses.get(key)
            return guesses.failures if guesses else 0
