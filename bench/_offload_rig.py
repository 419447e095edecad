"""Shared set-up of the offload benchmarks (not a benchmark itself; not a test).

Builds what tests/controller/offload/conftest.py's `rig` fixture builds — a set-up
controller with its engine, real simulated cameras served over the dock link on loopback —
without pytest, and gives the cameras a clip sink that writes clips of random bytes of a
chosen size (pure I/O: no video rendering in the timed part or the set-up).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CHUNK = 1 << 20
# PROFILE in the offload conftest: clips of at most 40 s, 5 s pre-buffer.
CLIP_SECONDS = 40
PRE_BUFFER_SECONDS = 5


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mib() -> float:
    """This process's resident memory now (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux: `5` into /proc/self/clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def write_random(path: Path, size: int) -> tuple[str, str]:
    """Write `size` random bytes to `path`; their sha256 and md5 (a camera keeps both)."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        left = size
        while left:
            block = os.urandom(min(CHUNK, left))
            fh.write(block)
            sha.update(block)
            md5.update(block)
            left -= len(block)
    return sha.hexdigest(), md5.hexdigest()


class RandomClipSink:
    """A camera clip sink: each closed clip becomes a file of `size` random bytes."""

    def __init__(self, directory: Path, size: int) -> None:
        self.directory = directory
        self.size = size

    def __call__(self, recording: Any, clip: Any) -> None:
        from bodyworn.devices.video import ContainerType, clip_name

        path = self.directory / clip_name(clip.start, recording.id, ContainerType.MKV)
        clip.sha256, clip.md5 = write_random(path, self.size)
        clip.path, clip.size = path, self.size


def make_rig(tmp: Path) -> Any:
    """The offload conftest's `rig` fixture, outside pytest (stop it with `close_rig`)."""
    from tests.controller.conftest import set_up
    from tests.controller.offload.conftest import CD_BASE, START, Rig

    from bodyworn.controller.app import build_context
    from bodyworn.controller.settings import ControllerSettings
    from bodyworn.controller.users import service as users
    from bodyworn.destination.config import build_app, connection_file_for, init_destination
    from bodyworn.domain.clock import ManualClock

    clock = ManualClock(START)
    cd_dir = tmp / "cd"
    config = init_destination(cd_dir)
    cd = asyncio.run(build_app(config, cd_dir, clock=clock))
    ctx = build_context(ControllerSettings(data_dir=tmp / "data"), clock=clock)
    set_up(ctx, connection_file=connection_file_for(config, cd_dir, [CD_BASE]),
           manual_time=START)
    with ctx.factory() as session, session.begin():
        users.create(session, clock, name="Officer Seventeen", user_id="officer-17",
                     actor="bench", source="bench")
    rig = Rig(ctx, clock, cd, config.account, tmp, cd_key=config.key)
    rig.new_engine()
    return rig


def close_rig(rig: Any) -> None:
    """Stop the dock link servers and the database."""
    for _, server in rig.stations:
        server.stop()
    rig.ctx.engine.dispose()


def random_camera(rig: Any, serial: str, clip_bytes: int, station: int = 0) -> Any:
    """An added, assigned, docked camera whose clips are random bytes of `clip_bytes`."""
    cam = rig.camera(serial, station=station)
    cam._clip_sink = RandomClipSink(rig.tmp / "cameras" / serial, clip_bytes)
    return cam


def record_clips(rig: Any, cam: Any, recordings: int, clips_per_recording: int) -> list[str]:
    """Make `recordings` recordings of `clips_per_recording` clips each; their ids."""
    # n clips: a recording of (n - 1) full clips plus part of one (pre-buffer counted).
    seconds = (clips_per_recording - 1) * CLIP_SECONDS + 20 - PRE_BUFFER_SECONDS
    return [rig.record(cam, seconds=seconds) for _ in range(recordings)]


def camera_clip_files(cam: Any) -> list[Path]:
    """The clip files a camera still holds."""
    return [c.path for r in cam.recordings for c in r.clips if c.path is not None]
