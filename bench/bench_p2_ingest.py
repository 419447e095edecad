"""P2: ingest camera → spool over the dock link, against `cp` of the same bytes + `sync`.

Ours is the engine's whole dock-time path (`Docking.sync_and_ingest`, as docking/ runs it):
wait for the camera, sync it, read its manifest, stream every clip over the dock link
(loopback HTTP to the camera simulator's DockLinkServer) into the spool with sha256 + md5,
fsync, rename, fsync the directory, record it in the database and send the signed
deletion confirmation. The baseline is `cp` of the same camera files to another folder of
the same file system followed by `sync`. Clips are random bytes (no video rendering).
Dirty pages from making the clips are flushed (`sync`) before either contender runs, and
the order alternates by round. Goal: ours ≥ 0.7× cp.

Run: .venv/bin/python bench/bench_p2_ingest.py [--clips 10] [--clip-mb 50]
     [--clips-per-recording 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _offload_rig as rigs


def time_cp(files: list[Path], dest: Path) -> float:
    """`cp` the files into `dest` and `sync`; seconds."""
    dest.mkdir(parents=True)
    start = time.perf_counter()
    subprocess.run(["cp", *map(str, files), str(dest)], check=True)
    subprocess.run(["sync"], check=True)
    seconds = time.perf_counter() - start
    shutil.rmtree(dest)
    subprocess.run(["sync"], check=True)
    return seconds


def time_ingest(rig: object, cam: object) -> float:
    """The engine's on-dock path for the camera; seconds."""
    start = time.perf_counter()
    rig.dock(cam)  # type: ignore[attr-defined]
    return time.perf_counter() - start


def main() -> None:
    """Alternate the contenders over fresh cameras, print medians and the ratio."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=10)
    ap.add_argument("--clip-mb", type=int, default=50)
    ap.add_argument("--clips-per-recording", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    if a.clips % a.clips_per_recording:
        ap.error("--clips must be a multiple of --clips-per-recording")
    total_mb = a.clips * a.clip_mb
    times: dict[str, list[float]] = {"ours (dock link → spool)": [], "cp + sync": []}
    with tempfile.TemporaryDirectory(prefix="bw-bench-p2-", dir=rigs.REPO.parent) as tmpdir:
        tmp = Path(tmpdir)
        rig = rigs.make_rig(tmp)
        try:
            for n in range(a.rounds):
                cam = rigs.random_camera(rig, f"B8A44F{n + 1:06d}", a.clip_mb << 20)
                rigs.record_clips(rig, cam, a.clips // a.clips_per_recording,
                                  a.clips_per_recording)
                clips = rigs.camera_clip_files(cam)
                assert len(clips) == a.clips, f"{len(clips)} clips, wanted {a.clips}"
                # Hard links: the same bytes for cp even after the camera deleted its clips.
                (tmp / f"src-{n}").mkdir()
                files = [tmp / f"src-{n}" / p.name for p in clips]
                for src, link in zip(clips, files, strict=True):
                    link.hardlink_to(src)
                subprocess.run(["sync"], check=True)
                order = ["cp", "ours"] if n % 2 == 0 else ["ours", "cp"]
                for which in order:
                    if which == "cp":
                        times["cp + sync"].append(time_cp(files, tmp / f"cp-{n}"))
                    else:
                        times["ours (dock link → spool)"].append(time_ingest(rig, cam))
                        left = rigs.camera_clip_files(cam)
                        assert not left, f"{len(left)} clips left on the camera"
                        spooled = [r for r in rig.clip_rows() if r.camera_serial == cam.serial]
                        assert len(spooled) == a.clips and all(
                            r.state == "in_spool" for r in spooled), "not all in the spool"
                        for r in spooled:  # keep the disk small between rounds
                            rig.engine.spool.remove(r.camera_serial, r.name)
                shutil.rmtree(tmp / f"src-{n}")
                print(f"round {n + 1}: " + "  ".join(
                    f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)
        finally:
            rigs.close_rig(rig)
    base = statistics.median(times["cp + sync"])
    print(f"\nP2 ingest: {a.clips} clips × {a.clip_mb} MB = {total_mb} MB, "
          f"{a.rounds} rounds, medians (same disk)")
    for name, ts in times.items():
        t = statistics.median(ts)
        print(f"{name:26s} {t:7.2f} s  {total_mb / t:8.1f} MB/s   "
              f"throughput ratio vs cp {base / t:5.2f}×")
    ratio = base / statistics.median(times["ours (dock link → spool)"])
    print(f"goal ≥ 0.70× cp: {'MET' if ratio >= 0.7 else 'MISSED'} ({ratio:.2f}×)")


if __name__ == "__main__":
    main()
