"""P4: many cameras docked at once (default 40) against one camera alone.

Each contender is a child process running the real code paths: a controller rig as in
tests/controller/offload/conftest.py, W701 8-bay stations, simulated cameras (clips of
random bytes) served over the dock link on loopback. All cameras are docked at once: one
thread per camera calls `Docking.sync_and_ingest`, as controller/docking/ does, so
the engine's own ingest limit (`max_ingests`) shares the disk. Then the engine's loop
(`run_once`, default config) delivers everything to a real OpenStack Swift.

The single camera holds as many recordings as there are cameras (the same bytes, the same
recordings), so both contenders move the same data. Reported: aggregate throughput (all
cameras' bytes / time until the last camera is done) against the single camera's; per
camera the wait until its first clip started and its finish time (starvation: a camera
whose first clip waits much longer than the rest ingests); peak RSS of the process from
the moment all cameras were set up (VmHWM reset), and overall. The camera simulators run
in the same process, so that RSS is an upper bound for the controller. Goals: aggregate
≥ 0.8× single, no camera starved, RSS ≤ 300 MB.

Run: .venv/bin/python bench/bench_p4_cameras.py [--cameras 40] [--clips 2] [--clip-mb 10]
     [--rounds 2]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _offload_rig as rigs


def child(args: dict[str, str]) -> dict[str, Any]:
    """Dock `cameras` cameras at once, ingest, deliver to Swift; times and peaks."""
    from bodyworn.cdclient.client import CDClient
    from bodyworn.cdclient.config import CDConnection
    from bodyworn.controller.offload import states
    from bodyworn.controller.offload.engine import OffloadConfig, OffloadEngine

    n, clips, clip_bytes = int(args["cameras"]), int(args["clips"]), int(args["clip_mb"]) << 20
    recordings = int(args["recordings"])
    rig = rigs.make_rig(Path(args["tmp"]))
    try:
        config = OffloadConfig()
        conn = CDConnection(uris=(args["auth_url"],), user=args["user"], key=args["key"])
        rig.engine = OffloadEngine(
            rig.ctx, config=config, autostart=False,
            cd_factory=lambda: CDClient(conn, retry=config.retry, clock=rig.clock))
        rig.use_engine(rig.engine)
        cams = [rigs.random_camera(rig, f"B8A44F{i + 1:06d}", clip_bytes, station=i // 8)
                for i in range(n)]
        for cam in cams:
            rigs.record_clips(rig, cam, recordings, clips)
        engine = rig.engine
        first: dict[str, float] = {}
        real_spool_ingest = engine.spool.ingest

        def timed_spool_ingest(serial: str, *args: Any, **kwargs: Any) -> Any:
            # Called inside the ingest slot: the moment a camera's first clip starts moving.
            first.setdefault(serial, time.perf_counter())
            return real_spool_ingest(serial, *args, **kwargs)

        engine.spool.ingest = timed_spool_ingest  # type: ignore[method-assign]
        set_up_peak = rigs.peak_rss_mib()
        assert rigs.reset_peak_rss(), "cannot reset VmHWM (/proc/self/clear_refs)"
        finished: dict[str, float] = {}

        def dock(cam: Any) -> None:
            rig.dock(cam)
            finished[cam.serial] = time.perf_counter()

        threads = [threading.Thread(target=dock, args=(c,)) for c in cams]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ingested = time.perf_counter()
        rig.deliver(passes=4 * n + 10)
        delivered = time.perf_counter()
        rows = rig.clip_rows()
        assert len(rows) == n * recordings * clips and all(r.state == states.AT_CD for r in rows), \
            sorted({r.state for r in rows})
    finally:
        rigs.close_rig(rig)
    slots = engine.ingester.slots.stats
    return {"ingest_s": ingested - start, "deliver_s": delivered - ingested,
            "slot_longest_s": [slots[c.serial].longest_wait_s for c in cams],
            "slot_passed_over": [slots[c.serial].most_passed_over for c in cams],
            "per_camera": config.ingests_per_camera,
            "first_wait_s": [first[c.serial] - start for c in cams],
            "finish_s": [finished[c.serial] - start for c in cams],
            "set_up_peak": set_up_peak, "offload_peak": rigs.peak_rss_mib()}


def run_child(args: dict[str, str]) -> dict[str, Any]:
    """One contender in a fresh interpreter; its JSON result."""
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps(args)],
                          capture_output=True, text=True, cwd=rigs.REPO)
    if done.returncode:
        raise RuntimeError(f"child failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Start Swift, alternate one camera and many, print medians and ratios."""
    from tests.swift_saio import running_swift

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cameras", type=int, default=40)
    ap.add_argument("--clips", type=int, default=2, help="clips per camera")
    ap.add_argument("--clip-mb", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    counts = {"single": 1, "many": a.cameras}
    results: dict[str, list[dict[str, Any]]] = {k: [] for k in counts}
    total_mb = a.cameras * a.clips * a.clip_mb
    with tempfile.TemporaryDirectory(prefix="bw-bench-p4-", dir=rigs.REPO.parent) as tmpdir:
        tmp = Path(tmpdir)
        folders = (Path(tempfile.mkdtemp(prefix="saio-", dir=tmp)) for _ in itertools.count())
        with running_swift(folders, ("bench",)) as swift:
            user, key = swift.account("bench")
            for r in range(a.rounds):
                order = ["single", "many"] if r % 2 == 0 else ["many", "single"]
                for which in order:
                    run_dir = Path(tempfile.mkdtemp(prefix=f"{which}-", dir=tmp))
                    results[which].append(run_child({
                        "tmp": str(run_dir), "cameras": str(counts[which]),
                        "recordings": str(a.cameras // counts[which]),
                        "clips": str(a.clips), "clip_mb": str(a.clip_mb),
                        "auth_url": swift.auth_url, "user": user, "key": key}))
                    subprocess.run(["rm", "-rf", str(run_dir)], check=True)
                print(f"round {r + 1}: " + "  ".join(
                    f"{k} ingest {results[k][-1]['ingest_s']:.2f} s "
                    f"deliver {results[k][-1]['deliver_s']:.2f} s" for k in counts), flush=True)

    def med(which: str, field: str) -> float:
        return float(statistics.median(x[field] for x in results[which]))

    print(f"\nP4: {a.cameras} cameras docked at once, each with a recording of "
          f"{a.clips} clips × {a.clip_mb} MB, vs 1 camera with {a.cameras} such recordings "
          f"(same {total_mb} MB), real Swift (SAIO, same host), {a.rounds} rounds, "
          f"medians")
    rate = {}
    for which, k in counts.items():
        mb = total_mb
        ing, dlv = med(which, "ingest_s"), med(which, "deliver_s")
        rate[which] = (mb / ing, mb / dlv, mb / (ing + dlv))
        print(f"{which:7s} {k:3d} cam {mb:6d} MB  ingest {ing:6.2f} s {mb / ing:6.1f} MB/s  "
              f"deliver {dlv:6.2f} s {mb / dlv:6.1f} MB/s  "
              f"peak RSS offload {med(which, 'offload_peak'):6.1f} MiB "
              f"(set-up {med(which, 'set_up_peak'):6.1f} MiB)")
    names = ("ingest", "deliver", "camera → CD")
    ratios = [m / s for m, s in zip(rate["many"], rate["single"], strict=True)]
    print("aggregate / single throughput: " + "  ".join(
        f"{n} {r:4.2f}×" for n, r in zip(names, ratios, strict=True)))
    last = results["many"][-1]
    waits, fins = sorted(last["first_wait_s"]), sorted(last["finish_s"])
    print(f"many, last round: first clip started after min {waits[0]:.2f} s / median "
          f"{statistics.median(waits):.2f} s / max {waits[-1]:.2f} s; cameras done after min "
          f"{fins[0]:.2f} s / median {statistics.median(fins):.2f} s / max {fins[-1]:.2f} s "
          f"(ingest of all {last['ingest_s']:.2f} s)")
    longest, passed = sorted(last["slot_longest_s"]), max(last["slot_passed_over"])
    bound = last["per_camera"] * (len(waits) - 1)
    print(f"many, last round: longest single wait for an ingest slot min {longest[0]:.2f} s / "
          f"median {statistics.median(longest):.2f} s / max {longest[-1]:.2f} s; most slots "
          f"given to others while one request waited: {passed} (one round is ≤ {bound})")
    rss = med("many", "offload_peak")
    print(f"goal aggregate ≥ 0.8× single (camera → CD): "
          f"{'MET' if ratios[2] >= 0.8 else 'MISSED'} ({ratios[2]:.2f}×); "
          f"RSS ≤ 300 MB: {'MET' if rss <= 300 else 'MISSED'} ({rss:.1f} MiB, simulators "
          f"included); no camera starved (every wait within one round): "
          f"{'MET' if passed <= bound else 'MISSED'}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(json.loads(sys.argv[2]))))
    else:
        main()
