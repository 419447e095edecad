"""Cut the power of the controller's machine at random moments of an offload, restart, finish.

The controller and the embedded CD run as processes with their data (SQLite database,
spool, object store) on the power-cut file system (tests/powercut): what was not fsynced
is lost at a cut, as on a real disk, unlike a SIGKILL where the kernel keeps the page
cache. A trial cuts the power once or twice, before a counted file system operation drawn
from its seed (a write, an fsync, a rename, ...) or after a random delay; the cut freezes
the disk and kills both processes. Then the disk keeps only its durable state, the CD and
the controller start again on it, and the offload goes on (the cameras stay in their bays;
the restarted controller asks the stations what they hold). Once it is done, a last cut:
what the controller said was done must have been durable. Every third trial also cuts
the power right after the set-up (the others shut down cleanly there).

Proved: at every deletion on a camera the clip was durable (in the spool or at the CD) at
that instant; at the end the CD holds exactly the cameras' clips, byte for byte, once each,
in Complete containers; the spool is empty and the database says every clip is at the CD.

`BODYWORN_POWERCUT_TRIALS` sets the number of trials (default 3; `make fault` runs 50) and
`BODYWORN_POWERCUT_MAX_CUTS` the most cuts during one offload (default 1; `make fault` 3).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.controller.offload.kill9_rig import Kill, check_end_state, clips_on, db_rows
from tests.controller.offload.powercut_rig import PowerCutRig
from tests.powercut.mount import require_fuse

TRIALS = int(os.environ.get("BODYWORN_POWERCUT_TRIALS", "3"))
# Cuts during one offload, drawn from 1 to this (`make fault` allows 3).
MAX_CUTS = int(os.environ.get("BODYWORN_POWERCUT_MAX_CUTS", "1"))
CAMERAS = 2
RUN_TIMEOUT_S = 90.0
# An offload takes well over this many counted file system operations per clip (the
# spool's and the CD's writes and fsyncs, the database's): a cut drawn below lands.
OPS_PER_CLIP = 60


@pytest.fixture
def powercut_rig(tmp_path: Path) -> Iterator[PowerCutRig]:
    """The rig on a mounted power-cut file system, stopped and unmounted whatever happens."""
    require_fuse()
    rig = PowerCutRig(tmp_path)
    try:
        rig.start()
        yield rig
    finally:
        rig.close()


def _arm(rng: random.Random, rig: PowerCutRig, run: int) -> threading.Timer | None:
    """Arm this run's cut; a timer when it is a delay (cancel it if the run ends first)."""
    kind = rng.choice(["ops", "ops", "ops"] + (["delay"] if run else []))
    if kind == "delay":
        delay = rng.uniform(0.0, 1.5)
        timer = threading.Timer(delay, rig.disk.cut, kwargs={"why": f"after {delay:.2f} s"})
        timer.daemon = True
        timer.start()
        return timer
    rig.disk.arm(rng.randint(1, OPS_PER_CLIP * len(rig.originals)))
    return None


def _run_until_cut_or_done(rig: PowerCutRig) -> bool:
    """Wait for the armed cut or the end of the offload; True when the power was cut."""
    controller = rig.controller
    assert controller is not None and controller.proc is not None
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        if rig.disk.frozen():
            return True
        if rig.violations:
            pytest.fail("a camera was told to delete what was not durable: "
                        f"{rig.violations}")
        if controller.proc.poll() is not None:
            if rig.disk.frozen():
                return True
            pytest.fail(f"the controller exited by itself ({controller.proc.returncode}):\n"
                        + controller.log_tail())
        if rig.done():
            rig.disk.disarm()
            return rig.disk.frozen()
        time.sleep(0.05)
    with rig.lock:
        left = {serial: sorted(clips_on(cam)) for serial, cam in rig.cameras.items()}
    clips = db_rows(rig.data_dir, "SELECT name, state, released_at IS NOT NULL,"
                    " spool_removed_at IS NOT NULL, attempts, last_error FROM offload_clip")
    pytest.fail(f"the offload did not finish in time; cuts {rig.kills}; on the cameras {left};"
                f" clips {clips}\n" + controller.log_tail())


def _power_cycle(rig: PowerCutRig, run: int) -> str:
    """The power is cut: the processes are dead; keep the durable state; summary."""
    why = str(rig.disk.status()["why"])
    rig.reap_all()
    tally = rig.disk.powercycle()
    rig.kills.append(Kill(f"run {run}: {why}", f"kept {tally}"))
    return why


@pytest.mark.parametrize("seed", range(TRIALS))
def test_power_cut_at_random_moments_until_done(powercut_rig: PowerCutRig, seed: int) -> None:
    rig = powercut_rig
    rng = random.Random(seed)
    rig.add_cameras(CAMERAS, recordings=lambda: rng.randint(1, 2),
                    clips=lambda: rng.randint(1, 3),
                    sizes=lambda: rng.randint(64 << 10, 512 << 10))
    originals = dict(rig.originals)
    if seed % 3 == 0:
        # Every third trial cuts the power right at the end of the set-up: the data
        # directories, settings, keys and tokens written then must be durable too.
        rig.disk.cut("right after the set-up")
        tally = rig.disk.powercycle()
        rig.kills.append(Kill("set-up: right after it", f"kept {tally}"))
    else:
        rig.settle()
    controller = rig.controller
    assert controller is not None
    planned = rng.randint(1, MAX_CUTS)
    started = time.monotonic()
    runs: list[str] = []
    for run in range(planned + 1):
        began = time.monotonic()
        rig.power_on()
        if run == 0:
            rig.start_reporters()
        up = time.monotonic()
        timer = _arm(rng, rig, run) if run < planned else None
        if run == 0:
            rig.dock_all()
        cut = _run_until_cut_or_done(rig)
        runs.append(f"{up - began:.1f}+{time.monotonic() - up:.1f} s")
        if timer is not None:
            timer.cancel()
        if not cut:
            break
        _power_cycle(rig, run)
    # Done, as the controller's database says: cut once more, and nothing may be undone.
    rig.disk.cut("after the offload")
    _power_cycle(rig, len(runs))
    print(f"\nseed {seed}: {len(rig.kills)} cut(s) in {time.monotonic() - started:.1f} s,"
          f" {len(originals)} clips of {sum(o.size for o in originals.values())} bytes;"
          f" {rig.disk.ops_before} counted operations; runs (start-up+work)"
          f" {', '.join(runs)}:" + "".join(f"\n  {k.trigger} -> {k.where}" for k in rig.kills))
    assert any(k.trigger.startswith("run 0") for k in rig.kills), (
        "the power was never cut during the offload")
    check_end_state(rig, originals, etags=False)
