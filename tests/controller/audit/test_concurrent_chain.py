"""Entries written by many transactions at once still form one chain."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bodyworn.controller.audit.service import record, verify_chain
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.settings import ControllerSettings
from bodyworn.domain.clock import ManualClock
from tests.store.backends import BACKENDS, backend_settings


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ControllerSettings]:
    with backend_settings(request.param, tmp_path / "data") as chosen:
        yield chosen


def test_concurrent_transactions_do_not_fork_the_chain(ctx: ControllerContext,
                                                       clock: ManualClock) -> None:
    writers, each = 12, 5
    start = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        start.wait()
        try:
            for _ in range(each):
                # Identical entries at the same instant: a fork would even share a hash.
                with ctx.factory() as session, session.begin():
                    record(session, clock, actor="root", action="login", outcome="failure")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with ctx.factory() as session:
        report = verify_chain(session)
    assert report.ok and report.entries == writers * each
