"""SIGKILL the real controller process at random moments of an offload, restart, finish.

The controller is `bodyworn controller` in its own process; the CD, the docking stations
and the cameras live in this process and survive each kill (kill9_rig.py). A trial kills
the controller one to three times, at a moment drawn from its seed: after a random number
of clip bytes sent by the dock link, of camera deletions, of body bytes received by the CD
or of CD requests, or after a random delay. Then it restarts the controller on the same
data directory and lets it finish: the cameras stay in their bays, so the restarted
controller must find them by asking the stations. At every deletion on a camera
the clip must already be durable in the controller's spool or at the CD; at the end the
CD must hold exactly the cameras' clips, byte for byte, once each, in Complete containers,
and the spool must be empty.

`BODYWORN_FAULT_TRIALS` sets the number of trials (default 5; `make fault` runs 200).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bodyworn.destination.swift import CDMode
from bodyworn.devices.camera import CameraError
from tests.controller.offload.kill9_rig import (
    Kill,
    KillRig,
    check_end_state,
    clips_on,
    db_rows,
)

TRIALS = int(os.environ.get("BODYWORN_FAULT_TRIALS", "5"))
CAMERAS = 2
RUN_TIMEOUT_S = 90.0


@pytest.fixture
def kill_rig(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[KillRig]:
    """The rig, stopped whatever happens (the controller process included).

    Its CD answers as Swift unless the test parametrizes `kill_rig` with a `CDMode`.
    """
    rig = KillRig(tmp_path, mode=getattr(request, "param", CDMode.SWIFT))
    try:
        rig.start()
        yield rig
    finally:
        rig.close()


def _arm(rng: random.Random, rig: KillRig, run: int) -> threading.Timer | None:
    """Arm this run's kill; a timer when it is a delay (cancel it if the run ends first)."""
    controller = rig.controller
    assert controller is not None
    counts = rig.progress.counts
    total = sum(o.size for o in rig.originals.values())
    with rig.lock:
        left = [c for cam in rig.cameras.values() for c in clips_on(cam)]
    left_bytes = sum(rig.originals[name].size for name in left)
    recordings = len({o.recording for o in rig.originals.values()})
    # The first run's kill must land, so it counts what a run surely does; a delay may
    # outlast the work, so it only serves later runs.
    kinds = ["cd_bytes", "cd_requests"] + (["delay"] if run else [])
    if left:
        kinds += ["link_bytes", "deletions"]
    kind = rng.choice(kinds)

    def fire(trigger: str) -> Callable[[str], None]:
        def kill(where: str) -> None:
            rig.kills.append(Kill(f"run {run}: {trigger}", where))
            controller.kill()
        return kill

    if kind == "delay":
        delay = rng.uniform(0.0, 1.2)
        rig.progress.arm("delay", 0, fire(f"after {delay:.2f} s"))
        timer = threading.Timer(delay, rig.progress.fire_now)
        timer.daemon = True
        timer.start()
        return timer
    step = {
        "link_bytes": lambda: rng.randint(1, left_bytes),
        "deletions": lambda: rng.randint(1, len(left)),
        "cd_bytes": lambda: rng.randint(1, total),
        # At least: a PUT per clip, and per recording its container PUT and Complete POST.
        "cd_requests": lambda: rng.randint(1, len(rig.originals) + 2 * recordings),
    }[kind]()
    threshold = counts[kind] + step
    rig.progress.arm(kind, threshold, fire(f"{kind} reached {threshold}"))
    return None


def _run_until_killed_or_done(rig: KillRig) -> bool:
    """Wait for the armed kill or the end of the offload; True when killed."""
    controller = rig.controller
    assert controller is not None and controller.proc is not None
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        if controller.killed.is_set():
            return True
        if rig.violations:
            pytest.fail("a camera was told to delete what the controller does not hold: "
                        f"{rig.violations}")
        if controller.proc.poll() is not None:
            pytest.fail(f"the controller exited by itself ({controller.proc.returncode}):\n"
                        + controller.log_tail())
        if rig.done():
            rig.progress.disarm()
            return controller.killed.is_set()
        time.sleep(0.05)
    with rig.lock:
        left = {serial: sorted(clips_on(cam)) for serial, cam in rig.cameras.items()}
    recordings = db_rows(rig.data_dir, "SELECT recording_id, state, attempts, last_error,"
                         " next_attempt_at FROM offload_recording")
    pytest.fail(f"the offload did not finish in time; kills {rig.kills}; counts"
                f" {rig.progress.counts}; on the cameras {left}; recordings {recordings};"
                f" clips {db_rows(rig.data_dir, _CLIPS_IN_DETAIL)}\n" + controller.log_tail())


_CLIPS_IN_DETAIL = ("SELECT name, state, released_at IS NOT NULL, spool_removed_at IS NOT NULL,"
                    " attempts, last_error FROM offload_clip")


@pytest.mark.parametrize("seed", range(TRIALS))
def test_kill9_at_random_moments_until_done(kill_rig: KillRig, seed: int) -> None:
    _trial(kill_rig, seed)


@pytest.mark.parametrize("kill_rig", [CDMode.REFERENCE], indirect=True)
def test_kill9_against_the_reference_like_cd(kill_rig: KillRig) -> None:
    # No ETags, 15-minute tokens, GET of the System objects only: still exactly once.
    _trial(kill_rig, 0)


def _trial(rig: KillRig, seed: int) -> None:
    rng = random.Random(seed)
    rig.add_cameras(CAMERAS, recordings=lambda: rng.randint(2, 3),
                    clips=lambda: rng.randint(1, 3),
                    sizes=lambda: rng.randint(64 << 10, 1 << 20))
    originals = dict(rig.originals)
    assert len(originals) >= 2 * CAMERAS
    controller = rig.controller
    assert controller is not None
    planned = rng.choice((1, 1, 2, 2, 3))
    started = time.monotonic()
    runs: list[str] = []
    for run in range(planned + 1):
        began = time.monotonic()
        controller.start()
        up = time.monotonic()
        if run == 0:
            rig.start_reporters()
        timer = _arm(rng, rig, run) if run < planned else None
        if run == 0:
            rig.dock_all()
        # A restarted controller asks the stations what they hold (docking/ Docking.resync):
        # the cameras stay in their bays, and events sent while it was down are lost.
        killed = _run_until_killed_or_done(rig)
        runs.append(f"{up - began:.1f}+{time.monotonic() - up:.1f} s")
        if timer is not None:
            timer.cancel()
        if not killed:
            break
        controller.reap()
        # Events the dead controller did not take wait in the stations for the next one.
    controller.stop()
    print(f"\nseed {seed}: {len(rig.kills)} kill(s) in {time.monotonic() - started:.1f} s,"
          f" {len(originals)} clips of {sum(o.size for o in originals.values())} bytes;"
          f" runs (start-up+work) {', '.join(runs)}:"
          + "".join(f"\n  {k.trigger} -> {k.where}" for k in rig.kills))
    assert rig.kills, "the controller was never killed"
    check_end_state(rig, originals)


def test_the_deletion_guard_refuses_clips_the_controller_does_not_hold(
    kill_rig: KillRig,
) -> None:
    # The guard the trials rely on, without a controller: it must be able to say no.
    rig = kill_rig
    rig.add_cameras(1, recordings=lambda: 1, clips=lambda: 2, sizes=lambda: 4096)
    cam = next(iter(rig.cameras.values()))
    rec = cam.recordings[0]
    first, second = rec.clips
    assert first.path is not None and second.path is not None
    spooled = rig.spool_root / cam.serial / first.path.name
    spooled.parent.mkdir(parents=True)
    spooled.write_bytes(b"not the clip")
    with pytest.raises(CameraError, match="other bytes"):
        cam.delete_clip(rec.id, first.index)
    spooled.write_bytes(first.path.read_bytes())
    cam.delete_clip(rec.id, first.index)
    with pytest.raises(CameraError, match="no spool file"):
        cam.delete_clip(rec.id, second.index)
    assert rig.deletions == [first.path.name]
    assert len(rig.violations) == 2
    assert clips_on(cam) == {second.path.name: second.sha256}
