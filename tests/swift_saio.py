"""A real OpenStack Swift on loopback (scripts/swift), for tests and benchmarks.

The scripts are `scripts/swift/start-swift.sh` and `stop-swift.sh` of this repository, or
those in BODYWORN_SWIFT_DIR when it is set. Ports are chosen free at start; data lives in
the given folder (it needs user xattrs, which a temporary folder on ext4 or tmpfs provides).
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
USER_KEY = "bwkey"


def swift_dir() -> Path:
    """Where start-swift.sh and stop-swift.sh are."""
    env = os.environ.get("BODYWORN_SWIFT_DIR")
    return Path(env) if env else REPO_ROOT / "scripts" / "swift"


def available() -> bool:
    """Whether the scripts are there."""
    return (swift_dir() / "start-swift.sh").is_file() and (swift_dir() / "stop-swift.sh").is_file()


def _free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pick_ports() -> tuple[int, int, int]:
    # Random free ports, not a fixed one: other suites on this machine start Swifts too.
    # All below the kernel's ephemeral range (32768+), where client sockets land.
    rng = random.Random()
    while True:
        proxy, base, mc = (
            rng.randint(20000, 23999),
            rng.randint(24000, 27990),
            rng.randint(28000, 32000),
        )
        if all(_free(p) for p in (proxy, base, base + 1, base + 2, mc)):
            return proxy, base, mc


@dataclass(frozen=True)
class SwiftInstance:
    """Where a running Swift answers and who may log in."""

    auth_url: str
    user: str
    key: str
    storage_url: str

    def account(self, name: str) -> tuple[str, str]:
        """User and key of one of the extra accounts."""
        return f"{name}:tester", USER_KEY


@contextmanager
def running_swift(saio_dirs: Iterator[Path], accounts: tuple[str, ...]) -> Iterator[SwiftInstance]:
    """Start a Swift (up to three tries on fresh ports and folders), stop and purge it after."""
    folder = swift_dir()
    start, stop = folder / "start-swift.sh", folder / "stop-swift.sh"
    failures: list[str] = []
    for _ in range(3):
        proxy, base, mc = _pick_ports()
        env = {
            **os.environ,
            "SWIFT_PORT": str(proxy),
            "SWIFT_BACKEND_PORT_BASE": str(base),
            "SWIFT_MEMCACHED_PORT": str(mc),
            "SWIFT_SAIO_DIR": str(next(saio_dirs)),
            "SWIFT_EXTRA_USERS": " ".join(f"{a}:tester:{USER_KEY}" for a in accounts),
        }
        done = subprocess.run(
            ["bash", str(start)], env=env, capture_output=True, text=True, timeout=300
        )
        if done.returncode == 0:
            break
        # A port taken between the check and the start is the usual cause; try others.
        failures.append(f"rc={done.returncode}: {done.stderr[-2000:]}")
        subprocess.run(["bash", str(stop), "--purge"], env=env, capture_output=True, timeout=120)
    else:
        raise RuntimeError("start-swift.sh failed 3 times:\n" + "\n---\n".join(failures))
    values = dict(
        line.split("=", 1) for line in done.stdout.splitlines() if line.startswith("SWIFT_")
    )
    try:
        yield SwiftInstance(
            auth_url=values["SWIFT_AUTH_URL"],
            user=values["SWIFT_USER"],
            key=values["SWIFT_KEY"],
            storage_url=values["SWIFT_STORAGE_URL"],
        )
    finally:
        subprocess.run(["bash", str(stop), "--purge"], env=env, capture_output=True, timeout=120)
