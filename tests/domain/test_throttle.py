"""Guesses are charged before they are checked; the lock doubles up to its cap."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from bodyworn.domain.throttle import (
    MAX_LOCKOUT,
    GuessThrottle,
    lockout_for,
    lockout_steps,
)

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def test_lock_after_threshold_doubles_and_ends() -> None:
    throttle = GuessThrottle()
    assert [throttle.charge("k", T0, 3) for _ in range(3)] == [None, None, None]
    assert throttle.charge("k", T0, 3) == timedelta(seconds=30)
    assert throttle.charge("k", T0 + timedelta(seconds=10), 3) == timedelta(seconds=20)
    assert throttle.charge("k", T0 + timedelta(seconds=30), 3) is None  # a 4th guess: 60 s
    assert throttle.charge("k", T0 + timedelta(seconds=31), 3) == timedelta(seconds=59)
    assert throttle.failures("k") == 4
    throttle.clear("k")
    assert throttle.failures("k") == 0 and throttle.charge("k", T0, 3) is None


def test_concurrent_guesses_get_at_most_the_threshold_through() -> None:
    throttle = GuessThrottle()
    start = threading.Barrier(40)
    through: list[bool] = []

    def guess() -> None:
        start.wait()
        through.append(throttle.charge("root", T0, 5) is None)

    threads = [threading.Thread(target=guess) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert through.count(True) == 5 and throttle.failures("root") == 5


def test_keys_are_bounded_oldest_forgotten_first() -> None:
    throttle = GuessThrottle(max_keys=3)
    for key in "abcd":
        throttle.charge(key, T0, 5)
    assert [throttle.failures(k) for k in "abcd"] == [0, 1, 1, 1]


def test_steps_list_every_lock_below_the_cap() -> None:
    steps = lockout_steps(5)
    assert [n for n, _ in steps] == [5, 6, 7, 8, 9]
    assert all(lockout_for(n, 5) == wait < MAX_LOCKOUT for n, wait in steps)
    assert lockout_for(10, 5) == MAX_LOCKOUT
