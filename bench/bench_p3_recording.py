"""P3: one long `bulk` recording camera → CD, scaled down and extrapolated to 12 hours.

A 12-hour recording at 2.3 GB/h is ≈ 27.6 GB; here a shorter recording at the same rate
(default 20 minutes ≈ 767 MB) goes the whole way through the real code paths: a
controller rig as in tests/controller/offload/conftest.py, a simulated camera whose clips
(40 s each, the rig's profile) are random bytes of the bulk size, docked and ingested by
`Docking.sync_and_ingest` over the dock link into the spool (sha256, fsync), while the
engine's own loop (`run`, default config: woken when the recording is whole in the spool)
delivers it to a real OpenStack Swift.
The measured time is scaled linearly to 12 hours — an EXTRAPOLATION: a recording is
delivered once it is whole in the spool, so time is linear in its size (P5 shows memory
does not grow with size). A full 12 h run (--minutes 720) needs ≈ 83 GB free
(camera copy + spool + Swift). The baseline is the manual's figure, "12 hours can take up
to about 30 minutes" (to the controller); goal: camera → CD ≥ 10× faster, i.e. ≤ 3 min.

Run: .venv/bin/python bench/bench_p3_recording.py [--minutes 20] [--rounds 2]
     [--gb-per-hour 2.3]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _offload_rig as rigs

MANUAL_12H_S = 30 * 60


async def dock_and_deliver(rig: object, cam: object, clips: int) -> tuple[float, float]:
    """Dock on a thread while the engine's own loop runs, as in the controller; the
    moments (perf_counter) the dock's work ended and the last clip was at the CD."""
    from bodyworn.controller.offload import states

    engine = rig.engine  # type: ignore[attr-defined]
    stop = asyncio.Event()
    loop = asyncio.create_task(engine.run(stop))
    ingested = 0.0

    def dock() -> None:
        nonlocal ingested
        rig.dock(cam)  # type: ignore[attr-defined]
        ingested = time.perf_counter()

    docking = asyncio.create_task(asyncio.to_thread(dock))
    while True:
        rows = [r for r in rig.clip_rows()  # type: ignore[attr-defined]
                if r.camera_serial == cam.serial]  # type: ignore[attr-defined]
        if len(rows) == clips and all(r.state == states.AT_CD for r in rows):
            break
        await asyncio.sleep(0.02)
    done = time.perf_counter()
    await docking
    stop.set()
    await loop
    return ingested, done


def main() -> None:
    """Start Swift, offload fresh cameras' recordings, print medians and extrapolation."""
    from tests.swift_saio import running_swift

    from bodyworn.cdclient.client import CDClient
    from bodyworn.cdclient.config import CDConnection
    from bodyworn.controller.offload import states
    from bodyworn.controller.offload.engine import OffloadConfig, OffloadEngine

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--gb-per-hour", type=float, default=2.3)
    a = ap.parse_args()
    clip_bytes = int(a.gb_per_hour * 1e9 * rigs.CLIP_SECONDS / 3600)
    clips = max(1, round(a.minutes * 60 / rigs.CLIP_SECONDS))
    total_mb = clips * clip_bytes / 1e6
    scale = 12 * 3600 / (clips * rigs.CLIP_SECONDS)
    results: dict[str, list[float]] = {"ingest": [], "deliver": [], "camera → CD": []}
    with tempfile.TemporaryDirectory(prefix="bw-bench-p3-", dir=rigs.REPO.parent) as tmpdir:
        tmp = Path(tmpdir)
        folders = (Path(tempfile.mkdtemp(prefix="saio-", dir=tmp)) for _ in itertools.count())
        with running_swift(folders, ("bench",)) as swift:
            user, key = swift.account("bench")
            conn = CDConnection(uris=(swift.auth_url,), user=user, key=key)
            rig = rigs.make_rig(tmp / "rig")
            try:
                config = OffloadConfig()
                for n in range(a.rounds):
                    cam = rigs.random_camera(rig, f"B8A44F{n + 1:06d}", clip_bytes)
                    rigs.record_clips(rig, cam, 1, clips)
                    assert len(rigs.camera_clip_files(cam)) == clips
                    rig.engine = OffloadEngine(
                        rig.ctx, config=config, autostart=False,
                        cd_factory=lambda: CDClient(conn, retry=config.retry, clock=rig.clock))
                    rig.use_engine(rig.engine)
                    start = time.perf_counter()
                    ingested, done = asyncio.run(dock_and_deliver(rig, cam, clips))
                    rows = [r for r in rig.clip_rows() if r.camera_serial == cam.serial]
                    assert len(rows) == clips and all(r.state == states.AT_CD for r in rows), \
                        {r.state for r in rows}
                    results["ingest"].append(ingested - start)
                    results["deliver"].append(done - ingested)
                    results["camera → CD"].append(done - start)
                    print(f"round {n + 1}: " + "  ".join(
                        f"{k} {v[-1]:.2f} s" for k, v in results.items()), flush=True)
            finally:
                rigs.close_rig(rig)
    print(f"\nP3: a {clips * rigs.CLIP_SECONDS / 60:.0f}-minute bulk recording "
          f"({a.gb_per_hour} GB/h: {clips} clips × {clip_bytes / 1e6:.1f} MB = "
          f"{total_mb:.0f} MB), real Swift (SAIO, same host), {a.rounds} rounds, medians; "
          f"12 h EXTRAPOLATED linearly (× {scale:.1f})")
    for name, ts in results.items():
        t = statistics.median(ts)
        t12 = t * scale
        print(f"{name:12s} {t:7.2f} s  {total_mb / t:7.1f} MB/s   12 h: {t12 / 60:6.2f} min   "
              f"vs manual's 30 min (camera → controller): {MANUAL_12H_S / t12:5.1f}× faster")
    speed = MANUAL_12H_S / (statistics.median(results["camera → CD"]) * scale)
    print(f"goal camera → CD ≥ 10× faster than 30 min: {'MET' if speed >= 10 else 'MISSED'} "
          f"({speed:.1f}×, extrapolated)")


if __name__ == "__main__":
    main()
