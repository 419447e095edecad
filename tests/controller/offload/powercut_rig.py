"""A rig for cutting the power of the controller's machine while it offloads.

Like kill9_rig, but the controller and the embedded CD both run as processes whose data
directories (the controller's SQLite database and spool, the CD's object store) live on
the power-cut file system of tests/powercut: a FUSE mount that keeps only what was made
durable (fsync of the file for its bytes, fsync of the folder for its names). A power cut
freezes the mount and SIGKILLs both processes; a power cycle rebuilds the mount's tree
from the durable state and mounts it again. The docking stations and cameras are
simulators in this process, off the mount: they survive every cut.

At every deletion on a camera the guard asks the file system whether the clip is durable
(what a power cut at that instant would leave): in the controller's spool, or as a stored
object at the CD.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.controller.offload.kill9_rig import (
    HOST,
    NOT_RECORDINGS,
    CDServer,
    KillRig,
    Progress,
)
from tests.powercut.mount import PowerCutMount

# Two processes starting side by side on a loaded machine have been seen to take over 30 s.
START_TIMEOUT_S = 120.0


class CDProcess(CDServer):
    """`bodyworn destination` in its own process, its data directory on the mount."""

    def __init__(self, cd_dir: Path, progress: Progress, log: Path) -> None:
        super().__init__(cd_dir, progress)
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        """Start it and return once it answers HTTP."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        with self.log.open("ab") as log:
            log.write(b"---- start\n")
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bodyworn.cli", "--log-level", "warning", "destination",
                 "--data-dir", str(self.cd_dir), "--host", HOST, "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.log.parent,
            )
        self.wait_up(timeout)

    def wait_up(self, timeout: float = 30.0) -> None:
        """Return once it answers HTTP (raises if it exits first)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the CD exited ({self.proc.returncode}):\n"
                                   + self.log.read_text(errors="replace")[-2000:])
            try:
                httpx.get(f"{self.url}/info", timeout=1.0)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the CD did not answer in time")

    def reap(self, timeout: float = 10.0) -> None:
        """Wait for a killed CD to be gone."""
        if self.proc is not None:
            self.proc.wait(timeout)

    def stop(self) -> None:
        """Stop it (gracefully, else by force); safe to call twice."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


class PowerCutRig(KillRig):
    """KillRig with the controller's and the CD's data on a power-cut file system."""

    disk: PowerCutMount

    @property
    def data_dir(self) -> Path:
        """The controller's data directory (on the mount)."""
        return self.disk.mnt / "controller"

    def start(self, stations: int = 2, interval_s: float = 0.05) -> None:
        """Mount the disk, then as KillRig: the CD, the controller set up, the stations."""
        self.disk = PowerCutMount(self.tmp / "disk")
        self.disk.start()
        super().start(stations, interval_s)

    def _make_cd(self) -> CDServer:
        return CDProcess(self.disk.mnt / "cd", self.progress, self.tmp / "cd.log")

    def _start_cd(self) -> None:
        pass  # the set-up needs only its settings; the process starts with power_on()

    @property
    def cd_process(self) -> CDProcess:
        """The CD (a process)."""
        assert isinstance(self.cd, CDProcess)
        return self.cd

    def processes(self) -> list[int]:
        """Pids of the processes on the mount (killed at a cut)."""
        pids = []
        for proc in (self.controller.proc if self.controller else None, self.cd_process.proc):
            if proc is not None and proc.poll() is None:
                pids.append(proc.pid)
        return pids

    # -- the deletion guard, against the durable state --

    def not_held(self, serial: str, name: str, sha256: str) -> str | None:
        """Why a clip would not survive a power cut now (None: its spool copy or the CD's)."""
        rel = f"controller/spool/{serial}/{name}"
        if self.disk.durable_sha256(rel) == sha256:
            return None
        if self._durable_at_cd(sha256):
            return None
        live = self.spool_root / serial / name
        return (f"{name} deleted by the camera while neither the spool ({rel}: durable"
                f" {self.disk.durable_sha256(rel)}, live file"
                f" {'present' if _exists(live) else 'absent'}) nor the CD holds it durably")

    def _durable_at_cd(self, sha256: str) -> bool:
        assert self.cd is not None
        base = f"cd/store/accounts/{self.cd.config.account}"
        for container in self.disk.durable_listdir(base) or []:
            if container in NOT_RECORDINGS:
                continue
            cdir = f"{base}/{container}"
            names = self.disk.durable_listdir(cdir) or []
            if "container.json" not in names:
                continue
            for name in names:
                if not name.endswith(".json") or name == "container.json":
                    continue
                doc = self.disk.durable_read(f"{cdir}/{name}")
                if doc is None:
                    continue
                with contextlib.suppress(ValueError):
                    meta = json.loads(doc)
                    if (meta.get("sha256") == sha256
                            and self.disk.durable_sha256(f"{cdir}/{meta['data']}") == sha256):
                        return True
        return False

    # -- power --

    def reap_all(self) -> None:
        """Wait until the processes killed by the cut are gone."""
        assert self.controller is not None
        if self.controller.proc is not None:
            self.controller.reap()
        self.cd_process.reap()

    def settle(self) -> None:
        """After the set-up: a clean shutdown and a fresh mount, everything on disk (the
        trials that do not cut the power right after the set-up)."""
        self.disk.stop()
        self.disk.start()

    def power_on(self) -> None:
        """Start the CD and the controller (side by side) and tell the disk who they are."""
        assert self.controller is not None
        failed: list[BaseException] = []

        def start_cd() -> None:
            try:
                self.cd_process.start(START_TIMEOUT_S)
            except BaseException as exc:  # raised below
                failed.append(exc)

        starting = threading.Thread(target=start_cd, name="cd-start")
        starting.start()
        try:
            self.controller.start(START_TIMEOUT_S)
        finally:
            starting.join()
        if failed:
            raise failed[0]
        self.disk.victims(self.processes())

    def close(self) -> None:
        """Stop everything, the mount last."""
        try:
            super().close()
        finally:
            self.disk.stop()


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False

