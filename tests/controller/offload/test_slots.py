"""Fair ingest slots: a camera with a long backlog does not keep the others waiting."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from bodyworn.controller.offload.slots import FairSlots
from tests.controller.offload.conftest import Rig, camera_clips


def _until(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.005)


def _take(slots: FairSlots, key: str, hold: threading.Event | None = None) -> threading.Thread:
    def run() -> None:
        with slots.slot(key):
            if hold is not None:
                hold.wait(10)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_backlog_does_not_go_before_a_camera_that_waits_its_turn() -> None:
    slots = FairSlots(1)
    release = threading.Event()
    threads = [_take(slots, "A", release)]
    _until(lambda: slots.grants == ["A"])
    for _ in range(3):  # A asks for three more clips first...
        threads.append(_take(slots, "A"))
    _until(lambda: slots.queued("A") == 3)
    threads.append(_take(slots, "B"))  # ...then B asks for its one clip
    _until(lambda: slots.queued("B") == 1)
    release.set()
    for t in threads:
        t.join(10)
    # In turn: B is served after one more of A's, not after all of them (A A A A B).
    assert slots.grants == ["A", "A", "B", "A", "A"]
    assert slots.stats["B"].granted == 1 and slots.stats["A"].granted == 4
    # B waited through one grant to A (plus the one A held when B asked, not counted).
    assert slots.stats["B"].most_passed_over == 1


def test_slots_are_never_more_than_the_limit() -> None:
    slots = FairSlots(3)
    inside, most = [0], [0]
    lock = threading.Lock()

    def run(key: str) -> None:
        for _ in range(20):
            with slots.slot(key):
                with lock:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                time.sleep(0.0005)
                with lock:
                    inside[0] -= 1

    threads = [threading.Thread(target=run, args=(f"K{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert most[0] == 3
    assert sorted(s.granted for s in slots.stats.values()) == [20] * 8


def test_no_slots_is_refused() -> None:
    with pytest.raises(ValueError):
        FairSlots(0)


def test_cameras_docked_together_each_get_a_clip_in_before_any_gets_a_second(rig: Rig) -> None:
    # One slot, one clip at a time per camera: a camera docked alongside others takes its
    # turn instead of waiting for whichever thread wins the race for the freed slot.
    engine = rig.new_engine(max_ingests=1, ingests_per_camera=1)
    cams = [rig.camera(f"B8A44F00000{i}", station=i % 2) for i in range(1, 6)]
    for cam in cams:
        rig.record(cam, seconds=70)  # three clips each
    rig.clock.advance(timedelta(seconds=30))
    originals = {n: s for cam in cams for n, s in camera_clips(cam).items()}
    slots = engine.ingester.slots
    blocker = threading.Event()
    hold = _take(slots, "blocker", blocker)
    _until(lambda: slots.grants == ["blocker"])
    docks = [threading.Thread(target=rig.dock, args=(cam,)) for cam in cams]
    for t in docks:
        t.start()
    _until(lambda: all(slots.queued(c.serial) == 1 for c in cams))
    blocker.set()
    hold.join(10)
    for t in docks:
        t.join(60)
    grants = slots.grants[1:]
    first_round = grants[: len(cams)]
    assert sorted(first_round) == sorted(c.serial for c in cams), grants
    second_round = grants[len(cams): 2 * len(cams)]
    assert sorted(second_round) == sorted(c.serial for c in cams), grants
    assert all(camera_clips(c) == {} for c in cams)
    rig.deliver()
    assert sorted(s for _, s in rig.at_cd().values()) == sorted(originals.values())


def test_a_clip_waiting_for_its_confirmation_does_not_hold_the_slot(
    rig: Rig, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bodyworn.controller.offload.ingest import Ingester

    # One slot, two clips of the camera in flight: while the first clip's confirmation
    # hangs (a slow camera), the second clip is received all the same.
    engine = rig.new_engine(max_ingests=1, ingests_per_camera=2)
    cam = rig.camera()
    rig.record(cam, seconds=70)
    names = sorted(camera_clips(cam))
    assert len(names) >= 2
    hold, held = threading.Event(), threading.Event()
    real = Ingester.confirm

    def slow_confirm(self: Ingester, serial: str, camera: Any, name: str,
                     sha256: str) -> None:
        if not held.is_set():
            held.set()
            assert hold.wait(30)
        real(self, serial, camera, name, sha256)

    monkeypatch.setattr(Ingester, "confirm", slow_confirm)
    dock = threading.Thread(target=rig.dock, args=(cam,))
    dock.start()
    try:
        assert held.wait(30)
        # The other clip reaches the spool while the first one's confirmation waits.
        _until(lambda: len(engine.spool.names(cam.serial)) >= 2)
    finally:
        hold.set()
        dock.join(60)
    assert camera_clips(cam) == {}
