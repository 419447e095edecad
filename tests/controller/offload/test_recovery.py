"""Prompt recovery after a CD outage (issue 18, item 8).

A fault window on the recordings' path (503, then 507, then 500, then cleared) while the
deliver loop runs on the injected clock, a pass every `interval_s` as the real loop
does (plus the real time each pass took). Measured: how long after the CD is fine again
the first recording is delivered. Before the probe and the reset, a window this long
left every recording's back-off at its 600 s cap and the first delivery came minutes
after the recovery.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

from bodyworn.cdclient.client import CDClient
from bodyworn.cdclient.config import CDConnection
from bodyworn.controller.events import CdHealthChanged, CdState, RecordingDelivered
from bodyworn.controller.offload import service
from bodyworn.controller.offload.engine import OffloadEngine
from bodyworn.controller.offload.models import OffloadRecording
from bodyworn.controller.users import service as users
from bodyworn.destination.swift import FaultRule
from tests.controller.offload.conftest import BOTH_CDS, FAST, Rig, camera_clips
from tests.swift_saio import SwiftInstance

PUT = frozenset({"PUT"})
# The fault window: each phase this long, in this order, then cleared.
PHASE = timedelta(minutes=6)
PHASES: list[tuple[int, frozenset[str] | None]] = [
    (503, None),  # busy on every request of the recordings' path, HEAD included
    (507, PUT),  # full: reads answer, writes do not
    (500, PUT),
]
GOAL = timedelta(seconds=30)
CAMERAS = ("B8A44F000031", "B8A44F000032", "B8A44F000033")


def user_uuid(rig: Rig) -> str:
    """The rig's one user's uuid: recording containers start with it."""
    with rig.ctx.factory() as session:
        return users.list_users(session)[0][0].uuid


@dataclass
class Window:
    """What the deliver loop did through a fault window, on the injected clock."""

    cleared_at: datetime
    delivered_at: list[datetime] = field(default_factory=list)
    changes: list[CdState] = field(default_factory=list)
    # Per phase (its status): requests the faults answered.
    hits: Counter[int] = field(default_factory=Counter)
    # At the end of the window: the most back-off failures any recording counted, and
    # the delivery attempts of all of them.
    failures: int = 0
    attempts: int = 0

    @property
    def first_after_recovery(self) -> timedelta:
        """From the CD being fine again to the first delivery."""
        after = [t for t in self.delivered_at if t >= self.cleared_at]
        assert after, "nothing was delivered after the window"
        return after[0] - self.cleared_at


Inject = Callable[[int | None, frozenset[str] | None], None]


def run_window(rig: Rig, engine: OffloadEngine, inject: Inject, *,
               hits: Callable[[], Counter[int]], after: timedelta) -> Window:
    """Run the deliver loop through the phases, then `after` more, and say what it did."""
    start = rig.clock.now()
    window = Window(cleared_at=start + PHASE * len(PHASES))
    rig.ctx.events.subscribe(RecordingDelivered,
                             lambda e: window.delivered_at.append(rig.clock.now()))
    rig.ctx.events.subscribe(CdHealthChanged, lambda e: window.changes.append(e.state))

    def phase_now() -> tuple[int, frozenset[str] | None] | None:
        index = int((rig.clock.now() - start) / PHASE)
        return PHASES[index] if index < len(PHASES) else None

    async def loop() -> None:
        current: object = "none yet"
        try:
            while rig.clock.now() < window.cleared_at + after:
                phase = phase_now()
                if phase != current:
                    if phase is None:
                        window.failures, window.attempts = _worst(rig)
                    inject(*(phase or (None, None)))
                    current = phase
                began = time.monotonic()
                await engine.run_once()
                took = time.monotonic() - began
                rig.clock.advance(timedelta(seconds=engine.config.interval_s + took))
        finally:
            await engine.aclose()

    asyncio.run(loop())
    window.hits = hits()
    return window


def _worst(rig: Rig) -> tuple[int, int]:
    with rig.ctx.factory() as session:
        rows = list(session.query(OffloadRecording))
        return max(r.failures for r in rows), sum(r.attempts for r in rows)


def offload_three_cameras(rig: Rig) -> dict[str, str]:
    """Three cameras, two recordings each, docked and whole in the spool."""
    cams = [rig.camera(serial) for serial in CAMERAS]
    for cam in cams:
        rig.record(cam, seconds=30)
        rig.record(cam, seconds=20)
    originals = {n: s for cam in cams for n, s in camera_clips(cam).items()}
    for cam in cams:
        rig.dock(cam)
    assert all(not camera_clips(c) for c in cams)
    return originals


def check_window(rig: Rig, window: Window, originals: dict[str, str]) -> None:
    """The goal, and what leads to it."""
    report = {"first delivery after recovery": window.first_after_recovery,
              "changes": window.changes, "hits": dict(window.hits),
              "failures": window.failures, "attempts": window.attempts}
    print(report)
    assert not [t for t in window.delivered_at if t < window.cleared_at], report
    assert window.first_after_recovery <= GOAL, report
    # The outage was no failure of each recording: no back-off grew. Each was tried in
    # the first pass; after that one recording per probe the CD answered (the 507 and 500
    # phases answer HEAD), not every recording in every pass.
    assert window.failures == 0, report
    answered_probes = 2 * PHASE / timedelta(seconds=10)
    assert window.attempts <= 2 * len(CAMERAS) + answered_probes + 2, report
    # Health said what each phase was, each once: no flapping, no stale "out of storage".
    assert window.changes == [CdState.LOST, CdState.OUT_OF_STORAGE, CdState.LOST,
                              CdState.OK], report
    # After the first 507 the others paused: one full-CD answer per probe, not one per
    # recording per pass.
    assert window.hits[507] <= PHASE / timedelta(seconds=10) + 2, report
    # Then everything, exactly once, Complete.
    with rig.ctx.factory() as session:
        assert service.any_pending(session) == []
    rows = rig.clip_rows()
    assert len(rows) == len(originals) and all(r.spool_removed_at for r in rows)
    assert len({r.recording_pk for r in rows}) == 2 * len(CAMERAS)


@BOTH_CDS
def test_the_first_delivery_comes_within_30_s_of_the_cd_recovering(rig: Rig) -> None:
    originals = offload_three_cameras(rig)
    # The controller's own timing: a pass every 2 s, a probe every 10 s, back-off from
    # 5 s to 600 s; only the client's retries are short (real seconds in a test).
    engine = rig.new_engine(interval_s=2.0, probe_interval_s=10.0, backoff_initial_s=5.0)
    prefix = user_uuid(rig)
    rules: list[FaultRule] = []

    def inject(status: int | None, methods: frozenset[str] | None) -> None:
        rig.cd.faults[:] = []
        if status is not None:
            rules.append(FaultRule(status, prefix, methods=methods))
            rig.cd.faults.append(rules[-1])

    def hits() -> Counter[int]:
        return Counter({r.status: r.hits for r in rules})

    window = run_window(rig, engine, inject, hits=hits, after=timedelta(minutes=3))
    check_window(rig, window, originals)
    at_cd = rig.at_cd()
    assert sorted(sha for _, sha in at_cd.values()) == sorted(originals.values())
    for container in {c for c, _ in at_cd.values()}:
        assert rig.container_meta(container)["Status"] == "Complete"


class FaultyFront:
    """What a broken proxy in front of a CD does: `status` to requests on the
    recordings' path (`methods`, or all), everything else passed on to the CD."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.rule: tuple[int, frozenset[str] | None] | None = None
        self.hits: Counter[int] = Counter()

    def transport(self) -> httpx.AsyncBaseTransport:
        """A transport for one client."""
        front = self

        class Transport(httpx.AsyncBaseTransport):
            def __init__(self) -> None:
                self.inner = httpx.AsyncHTTPTransport()

            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                rule = front.rule
                if (rule is not None and f"/{front.prefix}_" in request.url.path
                        and (rule[1] is None or request.method in rule[1])):
                    front.hits[rule[0]] += 1
                    return httpx.Response(rule[0], text="injected by the front",
                                          request=request)
                return await self.inner.handle_async_request(request)

            async def aclose(self) -> None:
                await self.inner.aclose()

        return Transport()


def test_after_a_fault_window_in_front_of_real_swift_delivery_resumes_within_30_s(
        rig: Rig, offload_swift: SwiftInstance) -> None:
    user, key = offload_swift.account("bwrecovery")
    conn = CDConnection(uris=(offload_swift.auth_url,), user=user, key=key)
    front = FaultyFront(user_uuid(rig))
    originals = offload_three_cameras(rig)
    engine = rig.new_engine(
        cd_factory=lambda: CDClient(conn, retry=FAST, clock=rig.clock,
                                    transport=front.transport()),
        interval_s=2.0, probe_interval_s=10.0, backoff_initial_s=5.0)

    def inject(status: int | None, methods: frozenset[str] | None) -> None:
        front.rule = None if status is None else (status, methods)

    window = run_window(rig, engine, inject, hits=lambda: front.hits,
                        after=timedelta(minutes=3))
    check_window(rig, window, originals)
    assert all(r.cd_verified is True for r in rig.clip_rows())  # Swift's ETags


def test_after_the_first_507_one_recording_a_probe_meets_the_full_cd(rig: Rig) -> None:
    cams = [rig.camera(serial) for serial in CAMERAS]
    for cam in cams:
        rig.record(cam, seconds=70)  # two clips each
        rig.record(cam, seconds=70)
        rig.dock(cam)
    engine = rig.new_engine(max_deliveries=4, probe_interval_s=10.0)
    rule = FaultRule(507, user_uuid(rig), methods=PUT)  # recordings only
    rig.cd.faults.append(rule)
    per_pass: list[int] = []

    async def passes() -> None:
        try:
            for _ in range(6):
                before = rule.hits
                await engine.run_once()
                per_pass.append(rule.hits - before)
                rig.clock.advance(timedelta(seconds=10))
        finally:
            await engine.aclose()

    asyncio.run(passes())
    # Six recordings due, four at a time: the first 507 stops those under way and the
    # two not started. Then each probe lets one recording go first, and only that one
    # meets the full CD; the others wait instead of each running into it.
    assert 1 <= per_pass[0] <= 4 and per_pass[1:] == [1] * 5, per_pass
    with rig.ctx.factory() as session:
        rows = list(session.query(OffloadRecording))
    assert len(rows) == 6
    assert sum(r.attempts for r in rows) <= 4 + 5
    assert all(r.failures == 0 for r in rows), "a full CD is no failure of each recording"
    retry = engine.tracker.retry_at
    assert retry is not None and all(r.next_attempt_at == retry for r in rows)
    assert rig.ctx.health.cd.state is CdState.OUT_OF_STORAGE
    assert rig.at_cd() == {}


def test_a_canary_the_cd_refuses_keeps_the_probes_apart_and_backs_off_alone(
        rig: Rig) -> None:
    cams = [rig.camera(serial) for serial in CAMERAS[:2]]
    for cam in cams:
        rig.record(cam, seconds=30)
        rig.dock(cam)
    engine = rig.new_engine(probe_interval_s=10.0, backoff_initial_s=5.0)
    prefix = user_uuid(rig)
    rig.cd.faults[:] = [FaultRule(503, prefix)]
    tried: list[int] = []

    async def passes(n: int) -> None:
        try:
            for _ in range(n):
                before = rig.cd.requests.snapshot()
                await engine.run_once()
                tried.append(rig.cd.requests.snapshot().since(before).by_method.get("PUT", 0))
                rig.clock.advance(timedelta(seconds=2))
        finally:
            await engine.aclose()

    asyncio.run(passes(1))
    assert engine.tracker.down
    # The CD comes back but refuses recordings (403: our account may not write them).
    rig.cd.faults[:] = [FaultRule(403, prefix, methods=PUT)]
    tried.clear()
    asyncio.run(passes(15))  # 30 s
    # A canary every probe (10 s), not one every pass. A refusal is the recording's own
    # failure (the CD answered), not the CD's: the canary counts it, until the next
    # probe's answer starts every back-off from zero again.
    assert 2 <= sum(1 for n in tried if n) <= 3, tried
    with rig.ctx.factory() as session:
        rows = list(session.query(OffloadRecording))
    assert sorted(r.failures for r in rows) == [0, 1]
    assert rig.ctx.health.cd.state is CdState.LOST and "HTTP 403" in rig.ctx.health.cd.detail
    assert engine.tracker.down and rig.ctx.health.cd.retry_at is not None
