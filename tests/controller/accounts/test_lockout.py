"""The lockout holds under concurrency, and nothing about an answer tells names apart."""

from __future__ import annotations

import random
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from bodyworn.controller.accounts import service
from bodyworn.controller.accounts.models import Account
from bodyworn.controller.app import create_app
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.settings import ControllerSettings
from bodyworn.domain.clock import ManualClock
from tests.controller.conftest import ROOT_PASSWORD, set_up
from tests.store.backends import BACKENDS, backend_settings

WRONG = "not the password at all"


class CountingHasher:
    """The real hasher, counting the verifications made against one stored hash."""

    def __init__(self, inner: Any, watched: str) -> None:
        self.inner = inner
        self.watched = watched
        self.checked = 0
        self._lock = threading.Lock()

    def verify(self, hash: str, password: str) -> bool:
        if hash == self.watched:
            with self._lock:
                self.checked += 1
        return bool(self.inner.verify(hash, password))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ControllerSettings]:
    """SQLite unless a test asks for each backend (indirect parametrization)."""
    with backend_settings(getattr(request, "param", "sqlite"), tmp_path / "data") as chosen:
        yield chosen


def _root(ctx: ControllerContext) -> Account:
    with ctx.factory() as session:
        account = service.account_by_name(session, "root")
        assert account is not None
        return account


@pytest.fixture
def counting(ctx: ControllerContext, monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    set_up(ctx)
    hasher = CountingHasher(service._hasher, _root(ctx).password_hash)
    monkeypatch.setattr(service, "_hasher", hasher)
    return hasher


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """The app on a real uvicorn server on a free port, in a thread of this process."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.mark.parametrize("settings", BACKENDS, indirect=True)
def test_forty_concurrent_wrong_logins_check_only_the_limit(
    ctx: ControllerContext, counting: CountingHasher,
) -> None:
    attempts = 40
    start = threading.Barrier(attempts)
    statuses: list[int] = []

    def attempt(url: str) -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            start.wait()
            r = http.post("/api/v1/session", json={"username": "root", "password": WRONG})
            statuses.append(r.status_code)

    with serving(create_app(ctx)) as url:
        threads = [threading.Thread(target=attempt, args=(url,)) for _ in range(attempts)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    threshold = ctx.settings.lockout_threshold
    assert sorted(statuses) == [401] * threshold + [429] * (attempts - threshold)
    assert counting.checked == threshold
    root = _root(ctx)
    assert root.failed_logins == threshold and root.locked_until is not None


def test_the_lock_is_checked_before_the_password(
    ctx: ControllerContext, counting: CountingHasher, clock: ManualClock,
) -> None:
    with TestClient(create_app(ctx), base_url="https://testserver") as client:
        for _ in range(ctx.settings.lockout_threshold):
            assert client.post("/api/v1/session", json={"username": "root", "password": WRONG}
                               ).status_code == 401
        checked = counting.checked
        r = client.post("/api/v1/session", json={"username": "root", "password": ROOT_PASSWORD})
        assert r.status_code == 429 and counting.checked == checked
        clock.advance(timedelta(seconds=31))
        r = client.post("/api/v1/session", json={"username": "root", "password": ROOT_PASSWORD})
        assert r.status_code == 200
    root = _root(ctx)
    assert root.failed_logins == 0 and root.locked_until is None


def test_unknown_names_are_locked_out_like_accounts(ctx: ControllerContext,
                                                    clock: ManualClock) -> None:
    set_up(ctx)

    def answers(name: str) -> list[tuple[int, Any, str | None]]:
        out = []
        for _ in range(ctx.settings.lockout_threshold + 1):
            r = client.post("/api/v1/session", json={"username": name, "password": WRONG})
            out.append((r.status_code, r.json(), r.headers.get("retry-after")))
        return out

    with TestClient(create_app(ctx), base_url="https://testserver") as client:
        known, unknown = answers("root"), answers("nobody")
    assert known == unknown
    assert [s for s, _, _ in known] == [401] * 5 + [429]


def test_locked_unknown_and_wrong_take_the_same_time(ctx: ControllerContext) -> None:
    """Each kind of failure is timed against a wrong password to an account (which must be
    hashed) in the same round, in a shuffled order, so that the machine's load falls on
    all alike; the median ratio over the rounds is near 1, while a path that skips the
    password hash takes a small fraction of it."""
    set_up(ctx)
    with ctx.factory() as session, session.begin():
        service.create_account(session, ctx.clock, "alice", "another fine long password")
    with TestClient(create_app(ctx), base_url="https://testserver") as client:
        def post(name: str) -> int:
            r = client.post("/api/v1/session", json={"username": name, "password": WRONG})
            return r.status_code

        for _ in range(ctx.settings.lockout_threshold):
            post("root")
            post("ghost")
        kinds = {"locked account": ("root", 429), "locked unknown name": ("ghost", 429),
                 "wrong password": ("alice", 401), "unknown name": ("", 401)}
        ratios: dict[str, list[float]] = {k: [] for k in kinds}
        rng = random.Random(11)
        for round_ in range(9):
            took: dict[str, float] = {}
            for kind in rng.sample(list(kinds), len(kinds)):
                name, status = kinds[kind]
                begun = time.perf_counter()
                assert post(name or f"nobody-{round_}") == status, kind
                took[kind] = time.perf_counter() - begun
                if kind == "wrong password":  # alice never locks
                    with ctx.factory() as session, session.begin():
                        session.execute(update(Account).where(Account.username == "alice")
                                        .values(failed_logins=0, locked_until=None))
            for kind, seconds in took.items():
                ratios[kind].append(seconds / took["wrong password"])
    typical = {kind: statistics.median(r) for kind, r in ratios.items()}
    assert all(0.5 < ratio < 2.0 for ratio in typical.values()), typical
