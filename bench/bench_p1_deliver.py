"""P1: deliver the same spooled clips to the same real OpenStack Swift: ours, rclone, swift.

Set-up (not timed): a controller rig as in tests/controller/offload/conftest.py, a
simulated camera whose clips are random bytes, docked and ingested by the engine over the
dock link into the spool. The RecordingUploads are then built by the engine itself
(`OffloadEngine.build_upload` over the spooled clips and the database).

Contenders, each in its own child process, alternated by round:
- ours:   the engine's delivery path — one CDClient (the engine's default retry policy),
          `CDClient.deliver_recording` per recording, at most `OffloadConfig.max_deliveries`
          recordings at a time (as `OffloadEngine.run_once` does): container with
          metadata, each clip streamed from the spool, Status: Complete.
- rclone: `rclone copy <spool dir> bench:<container>` (Debian's rclone, its defaults:
          4 transfers, md5 checked against the ETag), remote from RCLONE_CONFIG_BENCH_*.
- swift:  python-swiftclient's `swift upload <container> <files>` (its defaults).
Every round of every contender writes into fresh containers (ours: a fresh user UUID,
which is part of the recording container's name), so nothing is skipped as present.
Goal: ours ≥ 1.0× rclone (throughput).

Run: .venv/bin/python bench/bench_p1_deliver.py [--clips 10] [--clip-mb 50]
     [--clips-per-recording 2] [--rounds 3]        (issue's size: --clips 20 --clip-mb 100)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _offload_rig as rigs

VENV_BIN = Path(sys.executable).parent


def child_ours(args: dict[str, str]) -> dict[str, float]:
    """Deliver the pickled uploads as the engine does; seconds."""
    import asyncio
    import dataclasses

    from bodyworn.cdclient.client import CDClient
    from bodyworn.cdclient.config import CDConnection
    from bodyworn.controller.offload.engine import OffloadConfig

    uploads = pickle.loads(Path(args["uploads"]).read_bytes())
    user = str(uuid.uuid4())
    uploads = [dataclasses.replace(u, user_uuid=user) for u in uploads]
    config = OffloadConfig()
    conn = CDConnection(uris=(args["auth_url"],), user=args["user"], key=args["key"])

    async def run() -> float:
        start = time.perf_counter()
        async with CDClient(conn, retry=config.retry) as cd:
            slots = asyncio.Semaphore(config.max_deliveries)

            async def one(upload: object) -> None:
                async with slots:
                    result = await cd.deliver_recording(upload)  # type: ignore[arg-type]
                    assert result.outcome == "delivered", result

            await asyncio.gather(*(one(u) for u in uploads))
        return time.perf_counter() - start

    return {"seconds": asyncio.run(run()), "peak_rss_mib": rigs.peak_rss_mib()}


def child_tool(args: dict[str, str]) -> dict[str, float]:
    """Run rclone or swift upload on the spool folder; seconds."""
    container = f"{args['kind']}-{uuid.uuid4().hex[:8]}"
    src = Path(args["src"])
    names = sorted(p.name for p in src.iterdir() if p.is_file())
    if args["kind"] == "rclone":
        env = {**os.environ, "RCLONE_CONFIG_BENCH_TYPE": "swift",
               "RCLONE_CONFIG_BENCH_AUTH": args["auth_url"],
               "RCLONE_CONFIG_BENCH_USER": args["user"], "RCLONE_CONFIG_BENCH_KEY": args["key"],
               "RCLONE_CONFIG_BENCH_AUTH_VERSION": "1"}
        cmd = ["rclone", "copy", str(src), f"bench:{container}"]
    else:
        env = dict(os.environ)
        cmd = [str(VENV_BIN / "swift"), "-A", args["auth_url"], "-U", args["user"],
               "-K", args["key"], "upload", container, *names]
    start = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=src, check=True, capture_output=True)
    return {"seconds": time.perf_counter() - start}


def run_child(kind: str, args: dict[str, str]) -> dict[str, float]:
    """One contender in a fresh interpreter; its JSON result."""
    done = subprocess.run([sys.executable, __file__, "--child", kind, json.dumps(args)],
                          capture_output=True, text=True, cwd=rigs.REPO)
    if done.returncode:
        raise RuntimeError(f"{kind} failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def check_at_swift(auth_url: str, user: str, key: str, want: int) -> dict[str, int]:
    """Clip objects (.mkv) per contender prefix at the end; sanity only."""
    import httpx

    auth = httpx.get(auth_url, headers={"X-Auth-User": user, "X-Auth-Key": key})
    url, token = auth.headers["X-Storage-Url"], auth.headers["X-Auth-Token"]
    counts: dict[str, int] = {}
    with httpx.Client(headers={"X-Auth-Token": token}, timeout=60) as http:
        for c in http.get(url, params={"format": "json"}).json():
            objs = http.get(f"{url}/{c['name']}", params={"format": "json"}).json()
            kind = c["name"].split("-")[0] if c["name"].startswith(("rclone", "swift")) \
                else "ours"
            counts[kind] = counts.get(kind, 0) + sum(
                o["name"].endswith(".mkv") and o["bytes"] == want for o in objs)
    return counts


def main() -> None:
    """Start Swift, spool the clips, alternate the contenders, print medians and ratios."""
    from tests.swift_saio import running_swift

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=10)
    ap.add_argument("--clip-mb", type=int, default=50)
    ap.add_argument("--clips-per-recording", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    if a.clips % a.clips_per_recording:
        ap.error("--clips must be a multiple of --clips-per-recording")
    total_mb = a.clips * a.clip_mb
    kinds = ("ours", "rclone", "swift")
    results: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory(prefix="bw-bench-p1-", dir=rigs.REPO.parent) as tmpdir:
        tmp = Path(tmpdir)
        rig = rigs.make_rig(tmp / "rig")
        try:
            cam = rigs.random_camera(rig, "B8A44F000001", a.clip_mb << 20)
            rigs.record_clips(rig, cam, a.clips // a.clips_per_recording,
                              a.clips_per_recording)
            rig.dock(cam)
            rows = rig.clip_rows()
            assert len(rows) == a.clips and all(r.state == "in_spool" for r in rows), rows
            engine = rig.engine
            from bodyworn.controller.offload import service

            with rig.ctx.factory() as session:
                pks = [r.id for r in service.deliverable(session, rig.clock.now(), 10**6)]
                uploads = [engine.build_upload(session, pk) for pk in pks]
            assert sum(len(u.clips) for u in uploads) == a.clips
            spool_dir = engine.spool.path(cam.serial, rows[0].name).parent
        finally:
            rigs.close_rig(rig)
        (tmp / "uploads.pickle").write_bytes(pickle.dumps(uploads))
        folders = (Path(tempfile.mkdtemp(prefix="saio-", dir=tmp)) for _ in itertools.count())
        with running_swift(folders, ("bench",)) as swift:
            user, key = swift.account("bench")
            args = {"auth_url": swift.auth_url, "user": user, "key": key,
                    "uploads": str(tmp / "uploads.pickle"), "src": str(spool_dir)}
            for n in range(a.rounds):
                order = kinds[n % len(kinds):] + kinds[:n % len(kinds)]
                for kind in order:
                    results[kind].append(run_child(kind, {**args, "kind": kind}))
                print(f"round {n + 1}: " + "  ".join(
                    f"{k} {results[k][-1]['seconds']:.2f} s" for k in kinds), flush=True)
            counts = check_at_swift(swift.auth_url, user, key, a.clip_mb << 20)
    want = a.clips * a.rounds
    assert all(counts.get(k) == want for k in kinds), f"clip objects at Swift: {counts}"
    base = statistics.median(r["seconds"] for r in results["rclone"])
    print(f"\nP1 deliver: {a.clips} clips × {a.clip_mb} MB = {total_mb} MB in "
          f"{a.clips // a.clips_per_recording} recordings, real Swift (SAIO, same host), "
          f"{a.rounds} rounds, medians")
    for kind in kinds:
        t = statistics.median(r["seconds"] for r in results[kind])
        print(f"{kind:8s} {t:7.2f} s  {total_mb / t:7.1f} MB/s   "
              f"throughput ratio vs rclone {base / t:5.2f}×")
    ratio = base / statistics.median(r["seconds"] for r in results["ours"])
    print(f"goal ours ≥ 1.0× rclone: {'MET' if ratio >= 1.0 else 'MISSED'} ({ratio:.2f}×)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        fn = child_ours if sys.argv[2] == "ours" else child_tool
        print(json.dumps(fn(json.loads(sys.argv[3]))))
    else:
        main()
