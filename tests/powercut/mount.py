"""Start, steer and power-cycle the power-cut file system (fs.py) from a test.

`PowerCutMount(base)` keeps the backing tree in `base/tree`, the graveyard in `base/grave`
and mounts at `base/mnt`. `start()` mounts; `arm(n)` cuts the power before the n-th
counted operation from now; `victims(pids)` names the processes killed at the cut;
`powercycle()` cuts (if not cut yet), rebuilds the tree from the durable state and mounts
it again; `stop()` takes the mount down keeping the live state (a clean shutdown).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FS_SCRIPT = Path(__file__).with_name("fs.py")


def fuse_missing() -> str | None:
    """Why a FUSE file system cannot be mounted here (None when it can)."""
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    try:
        import mfusepy  # noqa: F401
    except (ImportError, OSError) as exc:  # libfuse3 not installed
        return f"mfusepy cannot load libfuse: {exc}"
    try:
        fd = os.open("/dev/fuse", os.O_RDWR)
    except OSError as exc:
        return f"/dev/fuse cannot be opened: {exc}"
    os.close(fd)
    return None


class PowerCutMount:
    """The file system process and its control socket."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.tree = base / "tree"
        self.grave = base / "grave"
        self.mnt = base / "mnt"
        self.control = base / "control.sock"
        self.log = base / "fs.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.mounts = 0
        self._sock: socket.socket | None = None
        self._rfile: Any = None
        self._lock = threading.Lock()  # one request at a time on the control socket
        # Operations counted by earlier mounts (each mount counts from 0).
        self.ops_before = 0

    # -- lifetime --

    def start(self, timeout: float = 20.0) -> None:
        """Mount the tree (created empty the first time) and wait until it serves."""
        assert self.proc is None, "already mounted"
        for path in (self.tree, self.grave, self.mnt):
            path.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.control.unlink()
        self.mounts += 1
        with self.log.open("ab") as log:
            log.write(f"---- mount {self.mounts}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, str(FS_SCRIPT), "--tree", str(self.tree),
                 "--grave", str(self.grave), "--mount", str(self.mnt),
                 "--control", str(self.control)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the power-cut file system exited ({self.proc.returncode}):"
                                   f"\n{self.log_tail()}")
            if self.mounted() and self.control.exists():
                self._connect()
                return
            time.sleep(0.02)
        raise RuntimeError("the power-cut file system did not mount in time:\n" + self.log_tail())

    def mounted(self) -> bool:
        """True while the kernel has the file system mounted (whether or not it answers)."""
        target = os.path.realpath(self.mnt)
        with open("/proc/self/mounts", encoding="utf-8") as fh:
            return any(line.split()[1] == target for line in fh)

    def _connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(self.control))
        self._sock, self._rfile = sock, sock.makefile("rb")

    def _disconnect(self) -> None:
        if self._rfile is not None:
            self._rfile.close()
        if self._sock is not None:
            self._sock.close()
        self._sock = self._rfile = None

    def unmount(self, timeout: float = 5.0) -> None:
        """Take the mount down and wait for the file system process to end."""
        if self.proc is None:
            return
        with contextlib.suppress(OSError, RuntimeError):
            self.ops_before += int(self.call("status")["ops"])
        self._disconnect()
        if self.mounted():
            done = subprocess.run(["fusermount3", "-u", "-z", str(self.mnt)], check=False,
                                  capture_output=True)
            if done.returncode != 0:
                raise RuntimeError(f"fusermount3 -u failed: {done.stderr.decode()}")
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            # Lazily unmounted, but a file on it is still open somewhere: end it.
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def stop(self) -> None:
        """A clean shutdown: the live state stays as it is (safe to call twice)."""
        self.unmount()

    def powercycle(self) -> dict[str, int]:
        """Cut the power (if not yet), keep only what was durable, mount again."""
        tally = self.call("revert")["tally"]
        self.unmount()
        self.start()
        return dict(tally)

    # -- control --

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        """One control request; its answer (raises on an error answer)."""
        with self._lock:
            assert self._sock is not None and self._rfile is not None, "not mounted"
            self._sock.sendall(json.dumps({"op": op, **args}).encode() + b"\n")
            line = self._rfile.readline()
        if not line:
            raise RuntimeError("the power-cut file system closed its control socket:\n"
                               + self.log_tail())
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"power-cut file system: {answer['error']}")
        return answer

    def status(self) -> dict[str, Any]:
        """Counted operations, whether the power is cut and why, the last operations."""
        return self.call("status")

    def arm(self, after: int) -> int:
        """Cut before the `after`-th counted operation from now; the absolute count."""
        at = int(self.status()["ops"]) + max(1, after)
        self.call("arm", at=at)
        return at

    def disarm(self) -> None:
        """No cut from the counter."""
        self.call("arm", at=None)

    def victims(self, pids: list[int]) -> None:
        """The processes SIGKILLed when the power is cut."""
        self.call("victims", pids=pids)

    def cut(self, why: str = "asked") -> None:
        """Cut the power now."""
        self.call("cut", why=why)

    def frozen(self) -> bool:
        """True once the power is cut."""
        return bool(self.status()["frozen"])

    def durable_listdir(self, rel: str) -> list[str] | None:
        """Names of a folder (relative to the mount) as a power cut now would leave them."""
        names = self.call("listdir", path=rel)["names"]
        return None if names is None else list(names)

    def durable_read(self, rel: str) -> bytes | None:
        """A file's bytes as a power cut now would leave them (None: it would be gone)."""
        data = self.call("read", path=rel)["data"]
        return None if data is None else base64.b64decode(data)

    def durable_sha256(self, rel: str) -> str | None:
        """sha256 of a file as a power cut now would leave it (None: it would be gone)."""
        digest = self.call("sha256", path=rel)["sha256"]
        return None if digest is None else str(digest)

    def log_tail(self, lines: int = 20) -> str:
        """The end of the file system's log."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def require_fuse() -> None:
    """Skip the test where FUSE cannot run; fail it under CI, which installs FUSE
    (scripts/debian-deps.sh), so that CI never passes without these tests."""
    import pytest

    missing = fuse_missing()
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must be able to mount FUSE: {missing}")
        pytest.skip(f"no FUSE here ({missing}); scripts/debian-deps.sh installs fuse3")


@contextlib.contextmanager
def mounted(base: Path) -> Iterator[PowerCutMount]:
    """A mounted power-cut file system under `base` for a test (see `require_fuse`)."""
    require_fuse()
    disk = PowerCutMount(base)
    disk.start()
    try:
        yield disk
    finally:
        disk.stop()


def fsync_path(path: Path) -> None:
    """fsync a file or a folder by name."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
