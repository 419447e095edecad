"""P5: controller memory with a 100 MB clip against a large clip (default 1 GB; 5 GB by arg).

Each child process is a whole controller-side offload of one recording of one clip, through
the real code paths: a controller rig as in tests/controller/offload/conftest.py, a
simulated camera (clip of random bytes) docked and ingested by `Docking.sync_and_ingest`
over the dock link into the spool, then delivered by the engine's own loop
(`OffloadEngine.run_once`, its default retry policy) to a real OpenStack Swift. The camera
simulator runs in the same process, so its memory is counted too (an upper bound for the
controller). After set-up the peak (VmHWM) is reset to the current RSS, so the peaks read
after ingest and after delivery are the offload's own; the growth is the large clip's
final peak minus the small one's. Rounds
alternate the sizes. Goal: growth ≤ 20 MB.

Run: .venv/bin/python bench/bench_p5_memory.py [--small-mb 100] [--large-mb 1024]
     [--rounds 2]                                   (issue's size: --large-mb 5120)
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _offload_rig as rigs


def child(args: dict[str, str]) -> dict[str, float]:
    """Offload one clip of `mb` MB camera → spool → Swift; peak RSS at each phase."""
    import time

    from bodyworn.cdclient.client import CDClient
    from bodyworn.cdclient.config import CDConnection
    from bodyworn.controller.offload import states
    from bodyworn.controller.offload.engine import OffloadConfig, OffloadEngine

    tmp = Path(args["tmp"])
    rig = rigs.make_rig(tmp)
    try:
        cam = rigs.random_camera(rig, "B8A44F000001", int(args["mb"]) << 20)
        rigs.record_clips(rig, cam, 1, 1)
        set_up_peak = rigs.peak_rss_mib()
        set_up = rigs.rss_mib()
        # The set-up (imports, database, embedded CD, camera simulator, writing the clip)
        # peaks above what follows; start the peak afresh so it measures the offload only.
        assert rigs.reset_peak_rss(), "cannot reset VmHWM (/proc/self/clear_refs)"
        start = time.perf_counter()
        rig.dock(cam)
        ingest_s = time.perf_counter() - start
        ingested = rigs.peak_rss_mib()
        conn = CDConnection(uris=(args["auth_url"],), user=args["user"], key=args["key"])
        # A restarted engine over the same database and spool with the default config
        # (retry policy included), as the controller makes it, delivering to Swift.
        config = OffloadConfig()
        rig.engine = OffloadEngine(rig.ctx, config=config, autostart=False, cd_factory=lambda:
                                   CDClient(conn, retry=config.retry, clock=rig.clock))
        rig.use_engine(rig.engine)
        start = time.perf_counter()
        rig.deliver()
        deliver_s = time.perf_counter() - start
        rows = rig.clip_rows()
        assert len(rows) == 1 and rows[0].state == states.AT_CD, [r.state for r in rows]
    finally:
        rigs.close_rig(rig)
    return {"set_up_peak": set_up_peak, "set_up": set_up, "ingested": ingested,
            "delivered": rigs.peak_rss_mib(),
            "ingest_s": ingest_s, "deliver_s": deliver_s}


def run_child(args: dict[str, str]) -> dict[str, float]:
    """One offload in a fresh interpreter; its JSON result."""
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps(args)],
                          capture_output=True, text=True, cwd=rigs.REPO)
    if done.returncode:
        raise RuntimeError(f"child failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Start Swift, alternate the two sizes, print medians of the peaks and the growth."""
    from tests.swift_saio import running_swift

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small-mb", type=int, default=100)
    ap.add_argument("--large-mb", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    sizes = {"small": a.small_mb, "large": a.large_mb}
    results: dict[str, list[dict[str, float]]] = {k: [] for k in sizes}
    with tempfile.TemporaryDirectory(prefix="bw-bench-p5-", dir=rigs.REPO.parent) as tmpdir:
        tmp = Path(tmpdir)
        folders = (Path(tempfile.mkdtemp(prefix="saio-", dir=tmp)) for _ in itertools.count())
        with running_swift(folders, ("bench",)) as swift:
            user, key = swift.account("bench")
            for n in range(a.rounds):
                order = ["small", "large"] if n % 2 == 0 else ["large", "small"]
                for which in order:
                    run_dir = Path(tempfile.mkdtemp(prefix=f"{which}-", dir=tmp))
                    results[which].append(run_child({
                        "tmp": str(run_dir), "mb": str(sizes[which]),
                        "auth_url": swift.auth_url, "user": user, "key": key}))
                    subprocess.run(["rm", "-rf", str(run_dir)], check=True)
                print(f"round {n + 1}: " + "  ".join(
                    f"{k} peak {results[k][-1]['delivered']:.1f} MiB" for k in sizes),
                    flush=True)
    med = {k: {f: statistics.median(r[f] for r in rs) for f in rs[0]}
           for k, rs in results.items()}
    print(f"\nP5 memory: one clip camera → spool → real Swift (SAIO) through the engine, "
          f"{a.rounds} rounds, medians of peak RSS (VmHWM)")
    print(f"{'clip':>10s} {'set-up peak':>13s} | {'RSS, peak reset':>15s} "
          f"{'ingest peak':>13s} {'deliver peak':>13s} {'ingest':>9s} {'deliver':>9s}")
    for k, m in med.items():
        print(f"{sizes[k]:7d} MB {m['set_up_peak']:9.1f} MiB | {m['set_up']:11.1f} MiB "
              f"{m['ingested']:9.1f} MiB {m['delivered']:9.1f} MiB "
              f"{sizes[k] / m['ingest_s']:4.0f} MB/s {sizes[k] / m['deliver_s']:4.0f} MB/s")
    growth = med["large"]["delivered"] - med["small"]["delivered"]
    ratio = med["large"]["delivered"] / med["small"]["delivered"]
    print(f"growth {a.small_mb} MB → {a.large_mb} MB clip: {growth:+.1f} MiB "
          f"(peak ratio large/small {ratio:.2f}×)")
    print(f"goal growth ≤ 20 MB: {'MET' if growth <= 20 else 'MISSED'} ({growth:+.1f} MiB)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(json.loads(sys.argv[2]))))
    else:
        main()
