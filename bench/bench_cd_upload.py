"""One large clip to a real OpenStack Swift: our CD client against a bare streaming PUT.

Each uploader runs in its own child process so that its peak resident memory (VmHWM) is
its own. The baseline is the least any client can do: one httpx streaming PUT of the file
with its md5 as ETag. Ours is a whole recording delivery (container with metadata, the
clip streamed from disk, Status: Complete), with and without end-to-end encryption.
Rounds alternate the uploaders so the machine's noise hits all of them; medians are
printed with ratios against the baseline.

Run: .venv/bin/python bench/bench_cd_upload.py [size_mb] [rounds]   (default 1024 MB, 2)
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHUNK = 1 << 20


def peak_rss_mib() -> float:
    """This process's peak resident memory."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child_baseline(args: dict[str, str]) -> dict[str, float]:
    """A bare streaming PUT of the file (auth, create container, one object)."""
    import httpx

    path = Path(args["file"])
    md5 = hashlib.md5()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            md5.update(block)
    start = time.perf_counter()
    auth = httpx.get(args["auth_url"], headers={"X-Auth-User": args["user"],
                                                "X-Auth-Key": args["key"]})
    url, token = auth.headers["X-Storage-Url"], auth.headers["X-Auth-Token"]
    container = f"baseline-{uuid.uuid4().hex[:8]}"

    def body():  # type: ignore[no-untyped-def]
        with path.open("rb") as fh:
            while block := fh.read(CHUNK):
                yield block

    with httpx.Client(timeout=600) as c:
        c.put(f"{url}/{container}", headers={"X-Auth-Token": token}).raise_for_status()
        r = c.put(f"{url}/{container}/clip.mkv", content=body(),
                  headers={"X-Auth-Token": token, "ETag": md5.hexdigest(),
                           "Content-Length": str(path.stat().st_size)})
        r.raise_for_status()
    return {"seconds": time.perf_counter() - start, "peak_rss_mib": peak_rss_mib()}


def child_ours(args: dict[str, str]) -> dict[str, float]:
    """A whole recording delivery with bodyworn's CD client."""
    from tests.cdclient.factories import make_rsa

    from bodyworn.cdclient import CDClient, CDConnection, CDDevice, CDUser, ClipFile
    from bodyworn.cdclient.records import RecordingUpload

    path = Path(args["file"])
    encrypt = args["encrypt"] == "1"
    keys = make_rsa() if encrypt else None
    conn = CDConnection(
        uris=(args["auth_url"],), user=args["user"], key=args["key"],
        full_store_and_read=True, want_encryption=encrypt,
        public_key_pem=keys.public_pem if keys else None,
        public_key_id="bench.pem" if keys else None,
    )
    t0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC) + timedelta(seconds=int(time.time()) % 86400)
    user = str(uuid.uuid4())
    serial = "ACCC8E" + uuid.uuid4().hex[:6].upper()
    rec = RecordingUpload(
        recording_id=str(uuid.uuid4().int % 10**9), user_uuid=user, bwc_serial=serial,
        scu_serial="ACCC8E00FFFF", bwc_model="W110", firmware_version="11.2.3",
        trigger_on="Button", trigger_off="Button", trigger_on_time=t0, trigger_off_time=t0
        + timedelta(minutes=30), start_time=t0, stop_time=t0 + timedelta(minutes=30),
        clips=(ClipFile(path, t0, t0 + timedelta(minutes=30)),),
    )

    async def run() -> float:
        start = time.perf_counter()
        async with CDClient(conn) as client:
            await client.put_user(CDUser(user, "Bench User", user_id="B-1"))
            await client.put_device(CDDevice(serial, "Bench cam", "W110"))
            await client.deliver_recording(rec)
        return time.perf_counter() - start

    seconds = asyncio.run(run())
    return {"seconds": seconds, "peak_rss_mib": peak_rss_mib()}


def run_child(kind: str, args: dict[str, str]) -> dict[str, float]:
    """Run one uploader in a fresh interpreter and read its JSON result."""
    out = subprocess.run([sys.executable, __file__, "--child", kind, json.dumps(args)],
                         capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Start Swift, make the file, alternate the uploaders, print medians and ratios."""
    from tests.swift_saio import running_swift

    size_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    with tempfile.TemporaryDirectory(prefix="bw-bench-") as tmp:
        clip = Path(tmp) / "clip.mkv"
        with clip.open("wb") as fh:
            for _ in range(size_mb):
                fh.write(os.urandom(CHUNK))
        folders = (Path(tempfile.mkdtemp(prefix="bw-saio-", dir=tmp)) for _ in itertools.count())
        with running_swift(folders, ("bench",)) as swift:
            user, key = swift.account("bench")
            args = {"file": str(clip), "auth_url": swift.auth_url, "user": user, "key": key}
            kinds = {"baseline": ("baseline", {}), "ours": ("ours", {"encrypt": "0"}),
                     "ours+encryption": ("ours", {"encrypt": "1"})}
            results: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
            for _ in range(rounds):
                for name, (kind, extra) in kinds.items():
                    results[name].append(run_child(kind, {**args, **extra}))
    base_t = statistics.median(r["seconds"] for r in results["baseline"])
    base_m = statistics.median(r["peak_rss_mib"] for r in results["baseline"])
    print(f"one {size_mb} MB clip to real Swift, {rounds} rounds, medians")
    for name, rs in results.items():
        t = statistics.median(r["seconds"] for r in rs)
        m = statistics.median(r["peak_rss_mib"] for r in rs)
        print(f"{name:16s} {t:7.2f} s  {size_mb / t:7.1f} MB/s  peak RSS {m:6.1f} MiB   "
              f"time ratio {t / base_t:4.2f}  memory ratio {m / base_m:4.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        fn = child_baseline if sys.argv[2] == "baseline" else child_ours
        print(json.dumps(fn(json.loads(sys.argv[3]))))
    else:
        main()
