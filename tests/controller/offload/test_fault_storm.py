"""A CD fault storm while the deliver loop runs: back-off without a busy loop, then every
clip delivered exactly once when the faults clear.

The embedded CD is served by uvicorn on a loopback port (tests/cd_server.py), not reached
in-process: connection resets need a connection to drop, and a slow answer only times
the client out over a real socket. Everything else is the offload rig.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from bodyworn.cdclient.client import CDClient, RetryPolicy
from bodyworn.cdclient.config import CDConnection
from bodyworn.controller.offload import service, states
from bodyworn.controller.offload.models import OffloadRecording
from bodyworn.controller.outbox import service as outbox
from bodyworn.controller.users import service as users
from bodyworn.destination.swift import FaultKind, FaultRule, RequestCount
from tests.cd_server import serving, wait_idle
from tests.controller.offload.conftest import BOTH_CDS, Rig, camera_clips

# The client's side of the storm: three tries per request, short waits, a Retry-After
# honoured up to a tenth of a second, and a request timeout well under the slow answer.
ATTEMPTS = 3
STORM_RETRY = RetryPolicy(attempts=ATTEMPTS, timeout=10.0, wait_initial=0.01, wait_max=0.05,
                          wait_jitter=0.0, retry_after_max=0.1)
REQUEST_TIMEOUT_S = 0.3
SLOW_S = 1.0
# Two passes per simulated second: the engine's back-off (1 s, doubling) spans passes.
STEP = timedelta(seconds=0.5)
STORM_PASSES = 120  # a simulated minute
# While the CD is down the engine probes it this often: five passes apart, as the
# controller's defaults are (a pass every 2 s, a probe every 10 s).
PROBE_S = 5 * STEP.total_seconds()
MAX_DELIVERIES = 4
PUT, POST, HEAD = frozenset({"PUT"}), frozenset({"POST"}), frozenset({"HEAD"})
QUIET = "B8A44F000002"  # the camera whose recordings the CD refuses all storm long


@dataclass(frozen=True)
class Pass:
    """One deliver-loop pass: whether the engine was pausing, what it asked of the CD."""

    paused: bool
    due: int
    sent: RequestCount


def _user_uuid(rig: Rig) -> str:
    with rig.ctx.factory() as session:
        return users.list_users(session)[0][0].uuid


def _due(rig: Rig) -> int:
    """Recordings due now plus queued users/devices: work a pass would send to the CD."""
    with rig.ctx.factory() as session:
        due = service.deliverable(session, rig.clock.now(), 100)
        return len(due) + len(outbox.pending(session))


def _anything_left(rig: Rig) -> bool:
    with rig.ctx.factory() as session:
        return bool(service.any_pending(session) or service.spool_to_remove(session)
                    or outbox.pending(session))


def _storm(user_uuid: str) -> list[FaultRule]:
    """Every kind of fault; the first rule that matches a request answers it."""
    rec = user_uuid  # recording containers are <user uuid>_<serial>_<time>
    return [
        # A 503 burst with Retry-After on whatever comes first (the login): as many as
        # the client tries, so it gives up and the engine pauses.
        FaultRule(503, "", times=ATTEMPTS, retry_after=1),
        FaultRule.reset("auth", times=1),
        FaultRule.cut("System/", times=1),  # the capabilities answer breaks off mid-body
        FaultRule(500, "Users/", times=2),
        FaultRule.expire_tokens("Devices/", times=1),
        FaultRule(507, rec, methods=PUT, times=1),  # CD full: the engine pauses
        FaultRule.slow(rec, SLOW_S, methods=HEAD, times=2),
        FaultRule.reset(rec, methods=PUT, times=3),
        FaultRule.cut(rec, methods=PUT, times=2),  # stored, but the answer is lost
        FaultRule.cut(rec, methods=POST, times=1),  # marked Complete, answer lost
        FaultRule.expire_tokens(rec, methods=PUT, times=2),
        FaultRule(503, rec, methods=PUT, times=2 * ATTEMPTS, retry_after=1),
        FaultRule(500, rec, times=2),
        # Until the storm ends, one camera's recordings are never taken.
        FaultRule(503, f"{rec}_{QUIET}_", methods=PUT, retry_after=1),
    ]


def _request_bound(rig: Rig, storm: list[FaultRule], clients: int, pauses: int) -> int:
    """The most requests the storm may cost, from what the CD holds and the retry policy.

    A fault-free delivery costs, per client, a login and the capabilities and categories
    reads (3); per user or device a container PUT and the object's PUT (2); per
    recording a HEAD, its container PUT, one PUT per object and the POST that marks it
    Complete. On top of that: every fault that hit a request, that request once more and
    a login (2: the client forgets its token on a broken connection or a 401); every
    delivery attempt that failed (the `attempts` column), at most a whole recording's
    requests; every token expiry, a 401 and a login in each other delivery under way;
    every pause of the engine, the next pass's reads and users and devices again.
    """
    store, account = rig.cd.store, rig.cd_account
    per_recording = {c: len(store.list_objects(account, c)) + 3
                     for c in store.list_containers(account)
                     if c not in ("System", "Users", "Devices")}
    records = sum(len(store.list_objects(account, c)) for c in ("Users", "Devices"))
    with rig.ctx.factory() as session:
        attempts = sum(r.attempts for r in session.query(OffloadRecording))
    failed = attempts - len(per_recording)
    hits = sum(r.hits for r in storm)
    expiries = sum(r.hits for r in storm if r.kind is FaultKind.EXPIRE_TOKENS)
    clean = 3 * clients + 2 * records + sum(per_recording.values())
    return (clean + 2 * hits + failed * max(per_recording.values())
            + expiries * (MAX_DELIVERIES - 1) * 2 + pauses * (3 + 3 * records))


@BOTH_CDS
def test_a_fault_storm_backs_off_then_everything_is_delivered_exactly_once(
    rig: Rig, monkeypatch: pytest.MonkeyPatch,
) -> None:
    started = time.monotonic()
    cams = [rig.camera("B8A44F000001"), rig.camera(QUIET, station=1)]
    for cam in cams:
        rig.record(cam, seconds=70)  # two clips
        rig.record(cam, seconds=30)  # one clip
    rig.record(cams[0], seconds=20)
    originals = {n: s for cam in cams for n, s in camera_clips(cam).items()}
    recordings = 5
    assert len(originals) > recordings  # some recordings span clips

    with serving(rig.cd.app) as base:
        def live_client() -> CDClient:
            conn = CDConnection(uris=(f"{base}/auth/v1.0",), user="bodyworn", key=rig.cd_key)
            return CDClient(conn, retry=STORM_RETRY, timeout=REQUEST_TIMEOUT_S,
                            clock=rig.clock)

        monkeypatch.setattr(rig, "cd_client", live_client)
        engine = rig.new_engine(max_deliveries=MAX_DELIVERIES, probe_interval_s=PROBE_S)
        for cam in cams:
            rig.dock(cam)
        assert all(not camera_clips(c) for c in cams), "all held by the controller"
        wait_idle(rig.cd)
        storm = _storm(_user_uuid(rig))
        rig.cd.faults[:] = storm

        async def run(passes: int, *, idle_after_done: int | None = None) -> list[Pass]:
            """Passes of the deliver loop, half a simulated second apart."""
            done: list[Pass] = []
            idle = 0
            try:
                for _ in range(passes):
                    # The engine's pause after a failure.
                    paused = engine.tracker.paused(rig.clock.now())
                    due = await asyncio.to_thread(_due, rig)
                    before = rig.cd.requests.snapshot()
                    await engine.run_once()
                    await asyncio.to_thread(wait_idle, rig.cd)
                    done.append(Pass(paused, due, rig.cd.requests.snapshot().since(before)))
                    rig.clock.advance(STEP)
                    if idle_after_done is not None and not await asyncio.to_thread(
                            _anything_left, rig):
                        idle += 1
                        if idle > idle_after_done:
                            break
            finally:
                await engine.aclose()
            return done

        # Phase 1: the storm.
        storm_passes = asyncio.run(run(STORM_PASSES))
        assert _anything_left(rig), "the quiet camera's recordings wait for the storm's end"
        # Phase 2: the faults clear; a few passes more once everything is done.
        rig.cd.faults.clear()
        calm_passes = asyncio.run(run(400, idle_after_done=3))
        assert not _anything_left(rig)

    storm_sent = [p.sent.total for p in storm_passes]
    calm_sent = [p.sent.total for p in calm_passes]
    paused = [p for p in storm_passes + calm_passes if p.paused]
    report: dict[str, Any] = {
        "storm requests per pass": storm_sent, "calm requests per pass": calm_sent,
        "fault hits": [(str(r.kind), r.status, r.hits) for r in storm],
        "paused passes": len(paused),
    }

    # No busy loop: while the engine pauses after a failure, a pass asks nothing at all,
    # and a pass with nothing due asks at most for a categories refresh (login, the
    # capabilities and categories reads) and, the first time a client is used, the check
    # of the system binding (a HEAD of System/<SystemID>), never a write. Both happen,
    # many times.
    assert len(paused) >= 3, report
    assert all(p.sent.total == 0 for p in paused), report
    nothing_due = [p for p in storm_passes + calm_passes if p.due == 0]
    assert len(nothing_due) >= 20, report
    for p in nothing_due:
        assert p.sent.total <= 4 and not {"PUT", "POST"} & set(p.sent.by_method), report
        assert p.sent.total <= 3 or p.sent.by_method.get("HEAD") == 1, report
    assert calm_sent[-3:] == [0, 0, 0], report
    # Back-off spreads the tries out: most of the storm's passes leave the CD alone.
    assert sum(1 for n in storm_sent if n) <= STORM_PASSES // 4, report
    # Bounded effort (see _request_bound): two clients, one per phase.
    flags = [False, *(p.paused for p in storm_passes + calm_passes)]
    pauses = sum(1 for before, now in itertools.pairwise(flags) if now and not before)
    assert all(r.hits for r in storm), report
    total = sum(storm_sent) + sum(calm_sent)
    bound = _request_bound(rig, storm, clients=2, pauses=pauses)
    report.update(total=total, bound=bound, seconds=round(time.monotonic() - started, 1))
    assert total <= bound, report

    # Exactly the cameras' clips at the CD, byte for byte, once each; nothing left here.
    at_cd = rig.at_cd()
    assert sorted(sha for _, sha in at_cd.values()) == sorted(originals.values())
    containers = {c for c, _ in at_cd.values()}
    assert len(containers) == recordings
    for container in containers:
        assert not container.startswith("RejectedContent")
        assert rig.container_meta(container)["Status"] == "Complete"
    assert all(r.state == states.AT_CD and r.released_at and r.spool_removed_at
               for r in rig.clip_rows())
    for cam in cams:
        assert engine.spool.names(cam.serial) == []
    assert rig.ctx.health.cd_storage_full is None
    health = rig.ctx.health.cd
    assert health.ok, (health, report)
    print(report)
