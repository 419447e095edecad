"""Crashes at every step, undocking mid-stream, and CD faults: nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import errno
import os
import random
import threading
from collections import defaultdict
from collections.abc import Generator, Iterable
from datetime import timedelta
from typing import Any

import pytest

from bodyworn.cdclient.client import CDClient
from bodyworn.controller.events import CdHealthChanged, CdState
from bodyworn.controller.offload import service, states
from bodyworn.controller.offload.ingest import Ingester
from bodyworn.destination.swift import FaultRule
from bodyworn.docklink.client import DockLinkClient, DockLinkError
from bodyworn.store.spool import RawStream, SpliceStream, Spool
from tests.controller.offload.conftest import BOTH_CDS, Crash, Rig, camera_clips, crash_once


class _Counted:
    """A clip stream that adds what it reads to the last entry of `reads`."""

    def __init__(self, inner: RawStream, entry: list[tuple[int, int]]) -> None:
        self.inner, self.entry = inner, entry

    def _count(self, n: int) -> int:
        offset, got = self.entry[-1]
        self.entry[-1] = (offset, got + n)
        return n

    def readinto(self, buffer: memoryview) -> int:
        return self._count(self.inner.readinto(buffer))

    def can_splice(self) -> bool:
        return isinstance(self.inner, SpliceStream) and self.inner.can_splice()

    def splice_into(self, fd: int, offset: int, count: int) -> int:
        assert isinstance(self.inner, SpliceStream)
        return self._count(self.inner.splice_into(fd, offset, count))

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def streamed(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[tuple[int, int]]]:
    """Every clip read over the dock link: name → [(offset asked for, bytes received)]."""
    reads: dict[str, list[tuple[int, int]]] = defaultdict(list)
    real = Ingester._stream

    def blocks(source: Iterable[bytes], entry: list[tuple[int, int]]
               ) -> Generator[bytes, None, None]:
        for block in source:
            offset, got = entry[-1]
            entry[-1] = (offset, got + len(block))
            yield block

    def counting(self: Ingester, camera: DockLinkClient, name: str, have: int
                 ) -> Iterable[bytes] | RawStream:
        reads[name].append((have, 0))
        source = real(self, camera, name, have)
        if isinstance(source, RawStream):
            return _Counted(source, reads[name])
        return blocks(source, reads[name])

    monkeypatch.setattr(Ingester, "_stream", counting)
    return reads


def _check_end_state(rig: Rig, originals: dict[str, str],
                     streamed: dict[str, list[tuple[int, int]]]) -> None:
    at_cd = rig.at_cd()
    # Clip objects are named by start time and recording; compare the bytes.
    assert sorted(sha for _, sha in at_cd.values()) == sorted(originals.values())
    for container in {c for c, _ in at_cd.values()}:
        assert rig.container_meta(container)["Status"] == "Complete"
    for cam in rig.cameras.values():
        assert camera_clips(cam) == {}
        assert rig.engine is not None and rig.engine.spool.names(cam.serial) == []
    sizes = {r.name: r.size for r in rig.clip_rows()}
    for name, size in sizes.items():
        # Every byte crossed the dock link once: a resume asks only for what is missing.
        assert sum(got for _, got in streamed[name]) == size, (name, streamed[name])
    assert all(r.state == states.AT_CD and r.released_at and r.spool_removed_at
               for r in rig.clip_rows())


def _nothing_deleted_early(rig: Rig, originals: dict[str, str]) -> None:
    held = {r.name for r in rig.clip_rows() if r.state in states.HELD}
    for cam in rig.cameras.values():
        mine = {n for n in originals if f"_{cam.serial}-" in n}
        gone = mine - set(camera_clips(cam))
        assert gone <= held, f"camera deleted clips the controller does not hold: {gone - held}"
        for name in gone:
            assert rig.engine is not None
            row = next(r for r in rig.clip_rows() if r.name == name)
            assert row.state != states.IN_SPOOL or rig.engine.spool.held(cam.serial, name)


CRASH_POINTS: list[tuple[str, object, str, bool]] = [
    ("spool written, not yet recorded", service, "mark_in_spool", False),
    ("recorded, camera not yet told", Ingester, "confirm", False),
    ("camera deleted, reply lost", DockLinkClient, "delete_clip", True),
    ("camera deleted, not yet noted", service, "mark_released", False),
    ("mid-delivery, one object stored", CDClient, "_put_object", True),
    ("recording Complete at the CD, not yet recorded", service, "mark_outcome", False),
    ("recorded at the CD, spool not yet removed", Spool, "remove", False),
    ("spool removed, not yet noted", service, "mark_spool_removed", False),
]


@pytest.mark.parametrize(("where", "target", "name", "after"), CRASH_POINTS,
                         ids=[c[0] for c in CRASH_POINTS])
@BOTH_CDS
def test_a_crash_anywhere_is_followed_by_a_clean_finish(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, streamed: dict[str, list[tuple[int, int]]],
    where: str, target: object, name: str, after: bool,
) -> None:
    cams = [rig.camera("B8A44F000001"), rig.camera("B8A44F000002")]
    for cam in cams:
        rig.record(cam, seconds=70)
    rig.record(cams[0], seconds=30)
    originals = {n: s for cam in cams for n, s in camera_clips(cam).items()}
    calls = crash_once(monkeypatch, target, name, after=after)
    crashed = False
    try:
        for cam in cams:
            rig.dock(cam)
        rig.deliver()
    except Crash:
        crashed = True
    assert crashed and calls[0] >= 1, where
    _nothing_deleted_early(rig, originals)
    # The controller restarts: a new engine over the same tables and spool; cameras dock.
    rig.new_engine()
    for cam in cams:
        rig.dock(cam)
    rig.deliver()
    _check_end_state(rig, originals, streamed)


def test_undocked_mid_clip_resumes_in_another_station_without_resending(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, streamed: dict[str, list[tuple[int, int]]],
) -> None:
    cam = rig.camera()
    rig.record(cam)
    originals = camera_clips(cam)
    first = sorted(originals)[0]
    counting = Ingester._stream
    cut = [True]

    class Undocking:
        """Some of the clip arrives (moved in the kernel), then the camera is pulled out."""

        def __init__(self, inner: SpliceStream) -> None:
            self.inner, self.reads = inner, 0

        def _pull(self) -> None:
            found = rig.where(cam)
            assert found is not None
            found[0].take(cam)
            raise DockLinkError(0, "link", "connection reset by peer")

        def readinto(self, buffer: memoryview) -> int:
            raise AssertionError("the dock link is spliced into the spool")

        def can_splice(self) -> bool:
            return self.inner.can_splice()

        def splice_into(self, fd: int, offset: int, count: int) -> int:
            self.reads += 1
            if self.reads > 1:
                self._pull()
            return self.inner.splice_into(fd, offset, max(1, count // 2))

        def close(self) -> None:
            self.inner.close()

    def undocking(self: Ingester, camera: DockLinkClient, name: str, have: int
                  ) -> Iterable[bytes] | RawStream:
        stream = counting(self, camera, name, have)
        if name == first and cut[0]:
            cut[0] = False
            assert isinstance(stream, SpliceStream), "the dock link is spliced into the spool"
            return Undocking(stream)
        return stream

    monkeypatch.setattr(Ingester, "_stream", undocking)
    rig.dock(cam)
    assert camera_clips(cam) == originals, "an interrupted clip stays on the camera"
    part = rig.engine.spool.part_size(cam.serial, first)  # type: ignore[union-attr]
    assert 0 < part < next(r.size for r in rig.clip_rows() if r.name == first)
    rig.station(1)[0].insert(cam)
    rig.clock.advance(timedelta(seconds=30))
    rig.new_engine()
    rig.dock(cam)
    assert streamed[first][-1][0] == part, "the resume asked only for the missing bytes"
    rig.deliver()
    _check_end_state(rig, originals, streamed)


def _user_uuid(rig: Rig) -> str:
    from bodyworn.controller.users import service as users

    with rig.ctx.factory() as session:
        return users.list_users(session)[0][0].uuid


@BOTH_CDS
def test_507_pauses_delivery_and_raises_the_flag_until_space_returns(rig: Rig) -> None:
    cam = rig.camera()
    rig.record(cam)
    rig.dock(cam)
    rig.deliver()  # users and devices first: nothing of the recording yet, one pass
    rule = FaultRule(507, _user_uuid(rig), methods=frozenset({"PUT"}))
    rig.cd.faults.append(rule)
    cam2 = rig.camera("B8A44F000002")
    rig.record(cam2)
    rig.dock(cam2)
    rig.deliver()
    assert rig.engine is not None and rig.ctx.health.cd_storage_full
    cd = rig.ctx.health.cd
    assert cd.state is CdState.OUT_OF_STORAGE and "HTTP 507" in cd.detail
    assert len(rig.at_cd()) == 3  # the first camera's clips, delivered before the fault
    assert rig.engine.spool.names(cam2.serial), "spool files stay until the CD takes them"
    rig.cd.faults.remove(rule)
    rig.deliver()
    assert len(rig.at_cd()) == 3, "paused: no retry before the back-off ends"
    rig.clock.advance(timedelta(minutes=5))
    rig.deliver()
    assert len(rig.at_cd()) == 6
    assert rig.ctx.health.cd_storage_full is None and rig.ctx.health.cd.ok


@BOTH_CDS
def test_503_is_retried_with_back_off(rig: Rig) -> None:
    cam = rig.camera()
    rig.record(cam)
    rig.dock(cam)
    rule = FaultRule(503, _user_uuid(rig), times=2)
    rig.cd.faults.append(rule)
    rig.deliver()
    assert rule.times == 0 and rig.at_cd() == {}
    with rig.ctx.factory() as session:
        lines = service.pending_for_camera(session, cam.serial)
    assert len(lines) == 1 and "gave up after retries" in lines[0]
    rig.deliver()
    assert rig.at_cd() == {}, "no busy loop: the next try waits for its back-off"
    rig.clock.advance(timedelta(minutes=1))
    rig.deliver()
    assert len(rig.at_cd()) == 3
    with rig.ctx.factory() as session:
        assert service.pending_for_camera(session, cam.serial) == []


def test_cd_health_returns_once_the_cd_answers_even_with_nothing_to_deliver(
    rig: Rig,
) -> None:
    changes: list[CdState] = []
    rig.ctx.events.subscribe(CdHealthChanged, lambda e: changes.append(e.state))
    # No recordings at all: only the login, users, devices and categories show the CD is
    # back, and the dashboard must say so rather than wait for a delivery.
    rule = FaultRule(503, "auth", times=10)
    rig.cd.faults.append(rule)
    rig.deliver(passes=1)
    assert not rig.ctx.health.cd.ok
    rig.clock.advance(timedelta(minutes=1))
    rig.deliver(passes=1)  # still failing: no second event
    rig.cd.faults.remove(rule)
    rig.clock.advance(timedelta(minutes=5))
    rig.deliver(passes=1)
    assert rig.ctx.health.cd.ok
    rig.deliver(passes=1)  # still fine: no event either
    assert changes == [CdState.LOST, CdState.OK]


def test_400_for_an_unknown_user_goes_to_rejected_content(rig: Rig) -> None:
    from bodyworn.controller.events import RecordingRejected

    rejected: list[RecordingRejected] = []
    rig.ctx.events.subscribe(RecordingRejected, rejected.append)
    rig.user_id = "unknown-officer"
    cam = rig.camera()
    rec_id = rig.record(cam)
    originals = camera_clips(cam)
    rig.dock(cam)
    rig.deliver()
    at_cd = rig.at_cd()
    assert sorted(s for _, s in at_cd.values()) == sorted(originals.values())
    assert all(c.startswith("RejectedContent_") for c, _ in at_cd.values())
    assert all(r.state == states.REJECTED and r.spool_removed_at for r in rig.clip_rows())
    container = next(iter(at_cd.values()))[0]
    assert [(e.recording_id, e.camera_serial, e.container) for e in rejected] == [
        (rec_id, cam.serial, container)]
    assert rejected[0].reason


def test_a_restart_mid_rejected_content_finishes_the_same_container(
    rig: Rig, monkeypatch: pytest.MonkeyPatch,
) -> None:
    rig.user_id = "unknown-officer"
    cam = rig.camera()
    rig.record(cam, seconds=70)  # several clips: the crash leaves the container unfinished
    originals = camera_clips(cam)
    rig.dock(cam)
    real = CDClient._put_object

    async def crash_after_the_first_rejected_clip(self: CDClient, container: str,
                                                  name: str, *args: Any, **kwargs: Any) -> Any:
        stored = await real(self, container, name, *args, **kwargs)
        # (The track goes while the clips do: the crash waits for a clip to be there.)
        if container.startswith("RejectedContent_") and name.endswith(".mkv"):
            raise Crash("mid rejected content")
        return stored

    monkeypatch.setattr(CDClient, "_put_object", crash_after_the_first_rejected_clip)
    with pytest.raises(Crash):
        rig.deliver()
    monkeypatch.setattr(CDClient, "_put_object", real)
    started = {c for c, _ in rig.at_cd().values()}
    assert len(started) == 1 and next(iter(started)).startswith("RejectedContent_")
    # Restarted later: a new engine (a new CD client that remembers nothing); the decision
    # kept with the recording names the same RejectedContent container.
    rig.new_engine()
    rig.clock.advance(timedelta(minutes=10))
    rig.deliver()
    at_cd = rig.at_cd()
    assert {c for c, _ in at_cd.values()} == started
    assert sorted(s for _, s in at_cd.values()) == sorted(originals.values())
    assert all(r.state == states.REJECTED for r in rig.clip_rows())


def test_400_without_rejected_content_is_not_transferred_and_kept(rig: Rig) -> None:
    from bodyworn.controller.events import RecordingRejected

    kept: list[RecordingRejected] = []
    rig.ctx.events.subscribe(RecordingRejected, kept.append)
    cam = rig.camera()
    rig.deliver()
    rig.cd.faults.append(FaultRule(400, "", methods=frozenset({"PUT"})))
    rig.record(cam)
    rig.dock(cam)
    rig.deliver()
    rows = rig.clip_rows()
    assert all(r.state == states.NOT_TRANSFERRED for r in rows)
    assert rig.engine is not None
    assert sorted(rig.engine.spool.names(cam.serial)) == sorted(r.name for r in rows)
    assert [(e.camera_serial, e.container) for e in kept] == [(cam.serial, None)]
    with rig.ctx.factory() as session:
        lines = service.pending_for_camera(session, cam.serial)
        assert "download" in lines[0]
        assert service.downloadable_clip(session, rows[0].id) is not None


def test_history_is_pruned_three_days_after_completion(rig: Rig) -> None:
    cam = rig.camera()
    rig.record(cam)
    rig.dock(cam)
    rig.deliver()
    assert rig.clip_rows()
    rig.clock.advance(timedelta(days=3) - timedelta(minutes=1))
    rig.deliver()
    assert rig.clip_rows()
    rig.clock.advance(timedelta(minutes=2))
    rig.deliver()
    assert rig.clip_rows() == []


def test_redocking_a_released_camera_sends_nothing_again(
    rig: Rig, streamed: dict[str, list[tuple[int, int]]],
) -> None:
    cam = rig.camera()
    rig.record(cam)
    rig.dock(cam)
    first = dict(streamed)
    rig.dock(cam)
    assert dict(streamed) == first


TRIALS = int(os.environ.get("BODYWORN_FAULT_TRIALS", "5"))


@pytest.mark.parametrize("seed", range(TRIALS))
@BOTH_CDS
def test_killed_at_random_moments_until_done(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, streamed: dict[str, list[tuple[int, int]]],
    seed: int,
) -> None:
    rng = random.Random(seed)
    cams = [rig.camera("B8A44F000001"), rig.camera("B8A44F000002", station=1)]
    for cam in cams:
        rig.record(cam, seconds=rng.randint(30, 90))
        rig.record(cam, seconds=rng.randint(10, 50))
    originals = {n: s for cam in cams for n, s in camera_clips(cam).items()}
    steps = [0]
    step_lock = threading.Lock()
    kill_at = [rng.randint(1, 40)]

    def instrument(target: object, name: str, after: bool) -> None:
        real = getattr(target, name)

        def tick() -> None:
            with step_lock:  # ingest threads tick too: number the steps atomically
                steps[0] += 1
                step = steps[0]
            if step == kill_at[0]:
                raise Crash(f"{name} at step {step}")

        if asyncio.iscoroutinefunction(real):
            async def awrap(*a: Any, **k: Any) -> Any:
                if not after:
                    tick()
                result = await real(*a, **k)
                if after:
                    tick()
                return result
            monkeypatch.setattr(target, name, awrap)
        else:
            def wrap(*a: Any, **k: Any) -> Any:
                if not after:
                    tick()
                result = real(*a, **k)
                if after:
                    tick()
                return result
            monkeypatch.setattr(target, name, wrap)

    for _, target, name, after in CRASH_POINTS:
        instrument(target, name, after)
    kills = 0
    for _ in range(8):
        try:
            for cam in cams:
                rig.dock(cam)
            rig.deliver()
        except Crash:
            kills += 1
            _nothing_deleted_early(rig, originals)
            # Killed again later in the next run, up to three times in all.
            kill_at[0] = steps[0] + rng.randint(1, 60) if kills < 3 else 0
            rig.new_engine()
            continue
        if all(not camera_clips(c) for c in cams) and not _pending(rig):
            break
    assert kills >= 1
    _check_end_state(rig, originals, streamed)


def _pending(rig: Rig) -> list[str]:
    with rig.ctx.factory() as session:
        return service.any_pending(session)


def test_a_full_controller_disk_pauses_ingest_and_the_camera_keeps_its_clips(
    rig: Rig, monkeypatch: pytest.MonkeyPatch,
) -> None:
    cam = rig.camera()
    rig.record(cam)
    originals = camera_clips(cam)

    def full(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Spool, "ingest", full)
    rig.dock(cam)
    assert camera_clips(cam) == originals
    rows = rig.clip_rows()
    assert all(r.state == states.ON_CAMERA and "No space left" in (r.last_error or "")
               for r in rows)
    with rig.ctx.factory() as session:
        assert "still on the camera" in service.pending_for_camera(session, cam.serial)[0]
    assert rig.engine is not None and "No space left" in (rig.ctx.health.spool_trouble or "")
    monkeypatch.undo()
    rig.dock(cam)
    assert rig.ctx.health.spool_trouble is None
    rig.deliver()
    assert sorted(s for _, s in rig.at_cd().values()) == sorted(originals.values())


def test_deliveries_are_taken_in_turn_from_each_camera(rig: Rig) -> None:
    busy, quiet = rig.camera("B8A44F000001"), rig.camera("B8A44F000002", station=1)
    for _ in range(4):
        rig.record(busy, seconds=20)
    rig.record(quiet, seconds=20)
    rig.dock(busy)
    rig.dock(quiet)
    with rig.ctx.factory() as session:
        picked = service.deliverable(session, rig.clock.now(), 2)
        assert {r.camera_serial for r in picked} == {busy.serial, quiet.serial}
        assert len(service.deliverable(session, rig.clock.now(), 10)) == 5


def test_a_user_id_the_cd_api_cannot_name_is_kept_as_not_transferred(rig: Rig) -> None:
    # A camera whose user the controller does not know and whose ID cannot be part of a
    # container name: the recording can never be stored, so it stays downloadable.
    rig.user_id = "bad/user"
    cam = rig.camera()
    rig.record(cam)
    rig.dock(cam)
    rig.deliver()
    rows = rig.clip_rows()
    assert rows and all(r.state == states.NOT_TRANSFERRED for r in rows)
    assert camera_clips(cam) == {}, "held by the controller, so released by the camera"
    with rig.ctx.factory() as session:
        assert "download" in service.pending_for_camera(session, cam.serial)[0]


def test_two_dock_events_for_one_camera_do_the_work_once(
    rig: Rig, streamed: dict[str, list[tuple[int, int]]],
) -> None:
    # A repeated event, or a restart's resync racing a fresh one: the second listener
    # waits for the first and then finds nothing left to do.
    cam = rig.camera()
    rig.record(cam, seconds=100)
    originals = camera_clips(cam)
    errors: list[BaseException] = []

    def dock() -> None:
        try:
            rig.dock(cam)
        except BaseException as exc:
            errors.append(exc)

    docks = [threading.Thread(target=dock) for _ in range(2)]
    for t in docks:
        t.start()
    for t in docks:
        t.join(60)
    assert errors == []
    assert camera_clips(cam) == {}
    assert rig.engine is not None and rig.ctx.health.spool_trouble is None
    assert all(r.last_error is None and r.attempts == 0 for r in rig.clip_rows()), [
        (r.name, r.last_error) for r in rig.clip_rows()]
    assert all(len(reads) == 1 for reads in streamed.values()), streamed
    rig.deliver()
    _check_end_state(rig, originals, streamed)


def test_a_spool_file_gone_fails_its_recording_and_not_the_others(rig: Rig) -> None:
    first, second = rig.camera("B8A44F000001"), rig.camera("B8A44F000002", station=1)
    rig.record(first)
    rig.record(second)
    rig.dock(first)
    rig.dock(second)
    assert rig.engine is not None
    lost = next(r for r in rig.clip_rows() if r.camera_serial == first.serial)
    rig.engine.spool.path(lost.camera_serial, lost.name).unlink()  # the disk lost it
    rig.deliver(passes=3)
    containers = {c for c, _ in rig.at_cd().values()}
    assert len(containers) == 1, "the other camera's recording was delivered"
    with rig.ctx.factory() as session:
        pending = service.pending_for_camera(session, first.serial)
    assert pending and "spool:" in " ".join(pending)
