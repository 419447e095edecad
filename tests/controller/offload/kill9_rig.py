"""A rig for killing a real controller process with SIGKILL while it offloads.

The controller runs as `python -m bodyworn.cli controller` in its own process. Everything
it talks to lives in the test process and so outlives the kill: the embedded CD (its Swift
subset served by uvicorn in a thread), two docking stations with their dock link servers
and event reporters, and simulated cameras whose clips are random bytes (no video is
rendered). Both servers are instrumented: they count what crosses them (clip bytes sent by
the dock link, body bytes received by the CD, requests, camera deletions) and can send the
SIGKILL from inside that count, so a kill lands in the middle of a transfer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bodyworn.controller.settings import ControllerSettings
from bodyworn.destination.swift import CDMode
from bodyworn.devices.camera import Camera, CameraError, Clip
from bodyworn.devices.docking import DockingStation, DockModel
from bodyworn.devices.docklink_server import DockLinkServer, EventReporter
from bodyworn.devices.environment import Environment
from bodyworn.devices.gnss import Receiver, Route, Waypoint
from bodyworn.domain.clock import ManualClock
from bodyworn.domain.profile import CameraProfile

HOST = "127.0.0.1"
USER_ID = "officer-17"
CLIP_SECONDS = 40
PRE_BUFFER_SECONDS = 5
PROFILE = CameraProfile(
    name="Patrol", location_data=True, max_clip_length=timedelta(seconds=CLIP_SECONDS),
    pre_buffer=timedelta(seconds=PRE_BUFFER_SECONDS),
)
# Containers the CD keeps for itself and for users and devices; the rest are recordings.
NOT_RECORDINGS = ("System", "Users", "Devices")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def file_hashes(path: Path) -> tuple[str, str]:
    """(sha256, md5) of a file."""
    sha, md5 = hashlib.sha256(), hashlib.md5()  # Swift's ETag is an md5
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            sha.update(block)
            md5.update(block)
    return sha.hexdigest(), md5.hexdigest()


# ---- progress: what crossed the servers, and the kill switch --------------------------


@dataclass
class Trigger:
    """Kill once `counter` reaches `threshold` (checked by whoever moves the counter)."""

    counter: str
    threshold: int
    fire: Callable[[str], None]
    fired: bool = False


class Progress:
    """Counters shared by the instrumented servers, and what is in flight right now."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {
            "link_bytes": 0, "deletions": 0, "cd_bytes": 0, "cd_requests": 0,
        }
        # Requests being served: dock link clip reads and deletions, the CD.
        self.active: dict[str, int] = {"ingest": 0, "delivery": 0}
        self.trigger: Trigger | None = None

    def add(self, counter: str, amount: int) -> None:
        """Move a counter; fire the armed trigger when it reaches its threshold."""
        with self.lock:
            self.counts[counter] += amount
            trigger = self.trigger
            due = (trigger is not None and not trigger.fired and trigger.counter == counter
                   and self.counts[counter] >= trigger.threshold)
            if due:
                assert trigger is not None
                trigger.fired = True
                where = self._where()
        if due:
            assert trigger is not None
            trigger.fire(where)

    def _where(self) -> str:
        # What the controller was doing at this instant, as the servers see it.
        busy = [name for name in ("ingest", "delivery") if self.active[name]]
        return "+".join(busy) or "between"

    @contextlib.contextmanager
    def busy(self, kind: str) -> Iterator[None]:
        """Count a request of `kind` as in flight while the block runs."""
        with self.lock:
            self.active[kind] += 1
        try:
            yield
        finally:
            with self.lock:
                self.active[kind] -= 1

    def arm(self, counter: str, threshold: int, fire: Callable[[str], None]) -> None:
        """Arm the kill switch (replacing any earlier one)."""
        with self.lock:
            self.trigger = Trigger(counter, threshold, fire)

    def fire_now(self) -> None:
        """Fire the armed trigger now, unless it fired or was disarmed (a timer's kill)."""
        with self.lock:
            trigger = self.trigger
            if trigger is None or trigger.fired:
                return
            trigger.fired = True
            where = self._where()
        trigger.fire(where)

    def disarm(self) -> None:
        """No more kills from the counters."""
        with self.lock:
            if self.trigger is not None:
                self.trigger.fired = True


class _CountingWriter:
    """A socket writer that counts the bytes a dock link handler sends."""

    def __init__(self, inner: Any, progress: Progress, counting: Callable[[], bool]) -> None:
        self._inner = inner
        self._progress = progress
        self._counting = counting

    def write(self, data: Any) -> int:
        written = self._inner.write(data)
        if self._counting():
            self._progress.add("link_bytes", len(data))
        return int(written) if written is not None else len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _CountingSocket:
    """A connection whose `sendfile` goes out in small counted pieces.

    The dock link server may send a clip with `socket.sendfile`; doing it piecewise here
    lets a kill land between two pieces of one clip.
    """

    PIECE = 64 * 1024

    def __init__(self, inner: socket.socket, progress: Progress,
                 counting: Callable[[], bool]) -> None:
        self._inner = inner
        self._progress = progress
        self._counting = counting

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        file.seek(offset)
        sent = 0
        while count is None or sent < count:
            want = self.PIECE if count is None else min(self.PIECE, count - sent)
            block = file.read(want)
            if not block:
                break
            self._inner.sendall(block)
            sent += len(block)
            if self._counting():
                self._progress.add("link_bytes", len(block))
        return sent

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def instrument_dock_link(server: DockLinkServer, progress: Progress) -> None:
    """Count clip bytes and ingest requests of one station's dock link server."""
    httpd = server._httpd  # the test reaches into the simulator's server
    base: Any = httpd.RequestHandlerClass

    class Counting(base):  # type: ignore[misc]
        _clip_read = False

        def setup(self) -> None:
            super().setup()
            # Clip bytes leave through wfile or through the socket's sendfile: count both.
            self.wfile: Any = _CountingWriter(self.wfile, progress, lambda: self._clip_read)
            self.connection: Any = _CountingSocket(self.connection, progress,
                                                   lambda: self._clip_read)

        def _ingest(self) -> bool:
            return "/clips/" in self.path

        def do_GET(self) -> None:
            self._clip_read = self._ingest()
            try:
                if self._clip_read:
                    with progress.busy("ingest"):
                        super().do_GET()
                else:
                    super().do_GET()
            finally:
                self._clip_read = False

        def do_POST(self) -> None:
            self._counted(super().do_POST)

        def do_DELETE(self) -> None:
            self._counted(super().do_DELETE)

        def _counted(self, serve: Callable[[], None]) -> None:
            if self._ingest():
                with progress.busy("ingest"):
                    serve()
            else:
                serve()

    httpd.RequestHandlerClass = Counting
    plain_error = httpd.handle_error

    def handle_error(request: Any, address: Any) -> None:
        # The controller vanishing mid-reply is the point of these tests, not an error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        plain_error(request, address)

    httpd.handle_error = handle_error  # type: ignore[method-assign, assignment]


class CountingASGI:
    """Wraps the CD's ASGI app: counts requests and body bytes, and what is in flight."""

    def __init__(self, app: Any, progress: Progress) -> None:
        self.app = app
        self.progress = progress

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        progress = self.progress

        async def counting_receive() -> Any:
            message = await receive()
            if message["type"] == "http.request" and message.get("body"):
                progress.add("cd_bytes", len(message["body"]))
            return message

        with progress.busy("delivery"):
            await self.app(scope, counting_receive, send)
        progress.add("cd_requests", 1)


# ---- the embedded CD in a thread ------------------------------------------------------


class CDServer:
    """The embedded CD's Swift subset over plain HTTP on loopback, in a thread."""

    def __init__(self, cd_dir: Path, progress: Progress, mode: CDMode = CDMode.SWIFT) -> None:
        from bodyworn.destination.config import init_destination

        self.mode = mode
        self.cd_dir = cd_dir
        self.port = free_port()
        self.config = init_destination(cd_dir)
        self.progress = progress
        self.server: uvicorn.Server | None = None
        self.failed: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="kill9-cd", daemon=True)

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://{HOST}:{self.port}"

    def connection_file(self) -> bytes:
        """The connection file naming this CD."""
        from bodyworn.destination.config import connection_file_for

        return connection_file_for(self.config, self.cd_dir, [self.url])

    def _run(self) -> None:
        from bodyworn.destination.config import build_app

        async def main() -> None:
            swift = await build_app(self.config, self.cd_dir, mode=self.mode)
            self.server = uvicorn.Server(uvicorn.Config(
                CountingASGI(swift.app, self.progress), host=HOST, port=self.port,
                lifespan="off", log_level="warning", timeout_graceful_shutdown=1))
            await self.server.serve()

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by start()
            self.failed = exc

    def start(self, timeout: float = 20.0) -> None:
        """Serve; return once it listens."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.failed is not None:
                raise RuntimeError(f"the CD did not start: {self.failed!r}")
            if self.server is not None and self.server.started:
                return
            time.sleep(0.02)
        raise RuntimeError("the CD did not start in time")

    def stop(self) -> None:
        """Stop serving."""
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(10)

    # -- what it holds (read from its store on disk) --

    def objects(self) -> list[tuple[str, Any]]:
        """(container, stored object) of every clip object in a recording container."""
        from bodyworn.destination.store import ObjectStore

        store = ObjectStore(self.cd_dir / "store")
        account = self.config.account
        found = []
        for container in store.list_containers(account):
            if container in NOT_RECORDINGS:
                continue
            for obj in store.list_objects(account, container):
                if obj.name.endswith((".mkv", ".mp4")):
                    found.append((container, obj))
        return found

    def container_metadata(self, container: str) -> dict[str, str]:
        """A container's metadata (header-cased keys)."""
        from bodyworn.destination.store import ObjectStore

        return ObjectStore(self.cd_dir / "store").container_metadata(
            self.config.account, container)

    def etags(self, names: list[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
        """The ETag the Swift API answers to HEAD for each (container, object), if any."""
        from urllib.parse import quote

        with httpx.Client(timeout=10) as client:
            auth = client.get(f"{self.url}/auth/v1.0", headers={
                "X-Auth-User": self.config.user, "X-Auth-Key": self.config.key})
            auth.raise_for_status()
            storage, token = auth.headers["X-Storage-Url"], auth.headers["X-Auth-Token"]
            found = {}
            for container, name in names:
                head = client.head(f"{storage}/{quote(container)}/{quote(name)}",
                                   headers={"X-Auth-Token": token})
                head.raise_for_status()
                found[(container, name)] = head.headers.get("etag", "").strip('"') or None
            return found


# ---- cameras with random-byte clips ---------------------------------------------------


@dataclass(frozen=True)
class Original:
    """A clip as the camera recorded it."""

    camera: str
    recording: str
    name: str
    size: int
    sha256: str
    md5: str


class RandomClips:
    """A camera clip sink: each closed clip becomes a file of random bytes."""

    def __init__(self, directory: Path, sizes: Callable[[], int],
                 made: dict[str, Original], serial: str) -> None:
        self.directory, self.sizes, self.made, self.serial = directory, sizes, made, serial

    def __call__(self, recording: Any, clip: Any) -> None:
        from bodyworn.devices.video import ContainerType, clip_name

        path = self.directory / clip_name(clip.start, recording.id, ContainerType.MKV)
        path.parent.mkdir(parents=True, exist_ok=True)
        size = self.sizes()
        data = os.urandom(size)
        path.write_bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        clip.sha256, clip.path, clip.size = sha, path, size
        self.made[path.name] = Original(self.serial, recording.id, path.name, size, sha,
                                        hashlib.md5(data).hexdigest())


def clips_on(cam: Camera) -> dict[str, str]:
    """Clip name → sha256 of every clip the camera still holds."""
    return {c.path.name: c.sha256 for r in cam.recordings for c in r.clips
            if c.path is not None and c.sha256 is not None}


# ---- the controller process -----------------------------------------------------------


class ControllerProcess:
    """`bodyworn controller` in its own process, started, killed and restarted."""

    def __init__(self, data_dir: Path, port: int, log: Path, interval_s: float,
                 cwd: Path | None = None) -> None:
        self.data_dir, self.port, self.log = data_dir, port, log
        self.cwd = cwd or data_dir.parent
        self.env = {**os.environ, "BODYWORN_OFFLOAD_INTERVAL_S": str(interval_s)}
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.killed = threading.Event()

    @property
    def url(self) -> str:
        """Base URL (plain HTTP on loopback)."""
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        """Start it and return once it answers HTTP."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.killed.clear()
        self.starts += 1
        with self.log.open("ab") as log:
            log.write(f"---- start {self.starts}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bodyworn.cli", "--log-level", "warning", "controller",
                 "--data-dir", str(self.data_dir), "--host", HOST, "--port", str(self.port),
                 "--insecure-http"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self.env, cwd=self.cwd,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the controller exited ({self.proc.returncode}):\n"
                                   + self.log_tail())
            try:
                httpx.get(f"{self.url}/login", timeout=1.0)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the controller did not answer in time:\n" + self.log_tail())

    def kill(self) -> None:
        """SIGKILL, from any thread; the main thread reaps it."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        self.killed.set()

    def reap(self, timeout: float = 10.0) -> int:
        """Wait for the process to end; its return code."""
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        """Stop it (gracefully if it listens, else by force); safe to call twice."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def log_tail(self, lines: int = 12, width: int = 600) -> str:
        """The end of its output (long lines cut)."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(line[:width] for line in text.splitlines()[-lines:])


# ---- the whole rig --------------------------------------------------------------------


@dataclass
class Kill:
    """One kill: what triggered it and what was in flight at that instant."""

    trigger: str
    where: str


@dataclass
class KillRig:
    """A set-up controller data dir, the CD, stations, cameras, and the process."""

    tmp: Path
    progress: Progress = field(default_factory=Progress)
    clock: ManualClock = field(default_factory=lambda: ManualClock(
        datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)))
    lock: threading.RLock = field(default_factory=threading.RLock)
    stations: list[tuple[DockingStation, DockLinkServer]] = field(default_factory=list)
    reporters: list[EventReporter] = field(default_factory=list)
    cameras: dict[str, Camera] = field(default_factory=dict)
    originals: dict[str, Original] = field(default_factory=dict)
    deletions: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    kills: list[Kill] = field(default_factory=list)
    cd: CDServer | None = None
    controller: ControllerProcess | None = None
    # How the CD answers (as Swift, or as the CD API's reference server).
    mode: CDMode = CDMode.SWIFT

    @property
    def data_dir(self) -> Path:
        """The controller's data directory."""
        return self.tmp / "controller"

    @property
    def spool_root(self) -> Path:
        """The controller's spool (ControllerSettings.data_dir / spool)."""
        return self.data_dir / "spool"

    # -- set-up --

    def start(self, stations: int = 2, interval_s: float = 0.05) -> None:
        """The CD, the controller set up unattended (not running yet), the stations."""
        self.cd = self._make_cd()
        self._start_cd()
        port = free_port()
        self._set_up_controller(port)
        self.controller = ControllerProcess(self.data_dir, port, self.tmp / "controller.log",
                                            interval_s, cwd=self.tmp)
        for i in range(stations):
            station = DockingStation(f"DOCK{i + 1:04d}", DockModel.W701)
            station.connect("controller")
            server = DockLinkServer(station, lock=self.lock)
            instrument_dock_link(server, self.progress)
            self.stations.append((station, server.start()))

    def _set_up_controller(self, port: int) -> None:
        from bodyworn.controller.unattended import run_unattended
        from bodyworn.domain.clock import SystemClock

        assert self.cd is not None
        self.data_dir.mkdir(parents=True)
        (self.tmp / "connection.json").write_bytes(self.cd.connection_file())
        answers = self.tmp / "answers.toml"
        answers.write_text(
            'root_password = "kill nine root password"\n'
            'super_admin_passphrase = "kill nine super admin passphrase"\n'
            'restore_key_path = "restore-key.json"\n'
            'system_name = "Kill nine"\n'
            'timezone = "Europe/Stockholm"\n'
            "manual_time = true\n"
            'connection_file = "connection.json"\n'
            'camera_assignment = "fixed"\n'
            f'listen_host = "{HOST}"\n'
            f"listen_port = {port}\n",
            encoding="utf-8",
        )
        run_unattended(ControllerSettings(data_dir=self.data_dir), answers, SystemClock(), None)

    def _make_cd(self) -> CDServer:
        return CDServer(self.tmp / "cd", self.progress, self.mode)

    def _start_cd(self) -> None:
        assert self.cd is not None
        self.cd.start()

    def add_cameras(self, count: int, recordings: Callable[[], int],
                    clips: Callable[[], int], sizes: Callable[[], int]) -> None:
        """Cameras added and assigned through the controller's services, then recorded on.

        Runs before the controller process starts (the services work on its data dir).
        """
        from bodyworn.controller.app import build_context
        from bodyworn.controller.assignment import service as assignment
        from bodyworn.controller.cameras import service as cameras
        from bodyworn.controller.users import service as users

        ctx = build_context(ControllerSettings(data_dir=self.data_dir))
        try:
            with ctx.factory() as session, session.begin():
                user = users.create(session, ctx.clock, name="Officer Seventeen",
                                    user_id=USER_ID, actor="test", source="test")
            for i in range(count):
                serial = f"B8A44F{i + 1:06d}"
                station, server = self.stations[i % len(self.stations)]
                cam = self._camera(serial, sizes)
                with self.lock:
                    bay = station.insert(cam)
                    self.clock.advance(timedelta(seconds=30))
                with ctx.factory() as session, session.begin():
                    cameras.note_docked(session, ctx.clock, serial, station.serial, bay,
                                        server.camera_url(serial))
                cameras.add(ctx, serial, actor="test", source="test")
                assignment.assign(ctx, serial, user.uuid, actor="test", source="test")
                # Clips of 40 s, so a recording has several (the user's profile comes
                # back with the controller's sync at the next docking).
                with ctx.docklink(server.camera_url(serial)) as link:
                    link.configure(profile=PROFILE, categories=["Traffic stop", "Incident"])
                for _ in range(recordings()):
                    self._record(cam, clips())
        finally:
            ctx.engine.dispose()

    def _camera(self, serial: str, sizes: Callable[[], int]) -> Camera:
        route = Route([Waypoint(self.clock.now(), 59.3293, 18.0686),
                       Waypoint(self.clock.now() + timedelta(hours=8), 59.3326, 18.0649)])
        sink = RandomClips(self.tmp / "cameras" / serial, sizes, self.originals, serial)
        cam = Camera(serial, self.clock, clip_sink=sink, gnss=Receiver(route))
        cam.set_environment(Environment(outdoor=True))
        self._guard_deletions(cam)
        self.cameras[serial] = cam
        return cam

    def _record(self, cam: Camera, clips: int) -> None:
        """Out of the dock, one recording of `clips` clips, tagged, back in the dock."""
        # (clips - 1) full clips and part of one more; the pre-buffer counts towards the first.
        seconds = (clips - 1) * CLIP_SECONDS + 20 - PRE_BUFFER_SECONDS
        with self.lock:
            station, _ = self.where(cam)
            station.take(cam)
            self.clock.advance(timedelta(seconds=60))
            rec = cam.start_recording()
            assert rec is not None, "the camera did not start recording"
            self.clock.advance(timedelta(seconds=seconds))
            cam.stop_recording()
            cam.add_category(rec.id, "Traffic stop")
            cam.add_note(rec.id, "Stopped a car at the harbour gate.")
            station.insert(cam)
            self.clock.advance(timedelta(seconds=30))
            made = [c for r in cam.recordings if r.id == rec.id for c in r.clips]
        assert len(made) == clips, f"asked for {clips} clips, the camera made {len(made)}"

    def where(self, cam: Camera) -> tuple[DockingStation, DockLinkServer]:
        """The station holding a camera."""
        for station, server in self.stations:
            if station.bay_of(cam) is not None:
                return station, server
        raise AssertionError(f"{cam.serial} is not docked")

    # -- the deletion guard --

    def _guard_deletions(self, cam: Camera) -> None:
        real = cam.delete_clip

        def checked(recording_id: str, index: int) -> Clip:
            found = [c for r in cam.recordings if r.id == recording_id for c in r.clips
                     if c.index == index]
            if found and found[0].path is not None and found[0].sha256 is not None:
                problem = self.not_held(cam.serial, found[0].path.name, found[0].sha256)
                if problem is not None:
                    self.violations.append(problem)
                    raise CameraError(problem)  # the camera keeps it
                self.deletions.append(found[0].path.name)
            clip = real(recording_id, index)
            # After the camera deleted, before its answer reaches the controller.
            self.progress.add("deletions", 1)
            return clip

        cam.delete_clip = checked  # type: ignore[method-assign]

    def not_held(self, serial: str, name: str, sha256: str) -> str | None:
        """Why the controller does not hold a clip durably (None: its spool or the CD does)."""
        spooled = self.spool_root / serial / name
        if spooled.is_file() and file_hashes(spooled)[0] == sha256:
            return None
        assert self.cd is not None
        if any(obj.sha256 == sha256 and file_hashes(obj.path)[0] == sha256
               for _, obj in self.cd.objects()):
            return None
        state = "a spool file with other bytes" if spooled.is_file() else "no spool file"
        return f"{name} deleted by the camera with {state} and not at the CD"

    # -- running --

    def start_reporters(self) -> None:
        """Stations tell the controller about docks from now on."""
        from bodyworn.controller.docks.service import TOKEN_FILE

        assert self.controller is not None
        token = (self.data_dir / TOKEN_FILE).read_text(encoding="ascii").strip()
        for station, server in self.stations:
            # Few tries: an event to a killed controller must fail fast (a re-dock follows).
            self.reporters.append(EventReporter(station, server, self.controller.url,
                                                attempts=3, token=token))

    def dock_all(self) -> None:
        """Take every camera out and put it back: the stations report both, it restarts."""
        for cam in self.cameras.values():
            with self.lock:
                station, _ = self.where(cam)
                station.take(cam)
                station.insert(cam)
                self.clock.advance(timedelta(seconds=30))  # past the camera's restart

    def done(self) -> bool:
        """Cameras empty and every clip at the CD, released and out of the spool (per the DB)."""
        with self.lock:
            if any(clips_on(cam) for cam in self.cameras.values()):
                return False
        try:
            rows = db_rows(self.data_dir, "SELECT state, released_at IS NOT NULL,"
                           " spool_removed_at IS NOT NULL FROM offload_clip")
        except sqlite3.Error:
            return False
        return len(rows) == len(self.originals) and all(
            r == ("at_cd", 1, 1) for r in rows)

    def close(self) -> None:
        """Stop everything this rig started (also after a failure)."""
        if self.controller is not None:
            self.controller.stop()
        for reporter in self.reporters:
            reporter.close()
        for _, server in self.stations:
            server.stop()
        if self.cd is not None:
            self.cd.stop()


def db_rows(data_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query on the controller's SQLite database, read-only."""
    uri = f"file:{data_dir / 'bodyworn.db'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=2)) as db:
        return list(db.execute(sql))


def clip_rows(rig: KillRig) -> list[tuple[object, ...]]:
    """(name, state, released, spool removed) of every clip row."""
    return db_rows(rig.data_dir, "SELECT name, state, released_at IS NOT NULL,"
                   " spool_removed_at IS NOT NULL FROM offload_clip")


def check_end_state(rig: KillRig, originals: dict[str, Original], *, etags: bool = True) -> None:
    """What every trial ends with: the cameras empty, the CD holding exactly their clips
    (byte for byte, once each, one Complete container per recording), the spool empty and
    the database agreeing. `etags` also asks the running CD for each object's ETag."""
    assert rig.violations == []
    # Each clip was deleted by its camera once, and only after the guard agreed.
    assert sorted(rig.deletions) == sorted(originals)
    for cam in rig.cameras.values():
        assert clips_on(cam) == {}
        assert [p for p in (rig.tmp / "cameras" / cam.serial).iterdir()] == []

    assert rig.cd is not None
    stored = rig.cd.objects()
    names = [obj.name for _, obj in stored]
    assert len(names) == len(set(names)), "a clip object stored under one name twice"
    by_sha: dict[str, list[tuple[str, str, str]]] = {}
    for container, obj in stored:
        sha, md5 = file_hashes(obj.path)  # the bytes on disk, not what the store noted
        assert (sha, md5) == (obj.sha256, obj.md5)
        by_sha.setdefault(sha, []).append((container, obj.name, md5))
    twice = {sha: where for sha, where in by_sha.items() if len(where) > 1}
    assert twice == {}, "the same clip bytes are stored more than once"
    assert Counter({sha: len(w) for sha, w in by_sha.items()}) == Counter(
        o.sha256 for o in originals.values()), (
        "the CD does not hold exactly the cameras' clips")
    answered = rig.cd.etags([(c, n) for c, n, _ in (w[0] for w in by_sha.values())]) \
        if etags else {}
    swift = rig.cd.mode is CDMode.SWIFT  # the reference server's HEAD carries no ETag
    containers: dict[str, set[str]] = {}
    for original in originals.values():
        container, name, md5 = by_sha[original.sha256][0]
        assert md5 == original.md5, name
        if etags:
            assert answered[(container, name)] == (md5 if swift else None), name
        containers.setdefault(original.recording, set()).add(container)
    # One container per recording, holding all of its clips and nothing else.
    assert all(len(c) == 1 for c in containers.values()), containers
    used = [next(iter(c)) for c in containers.values()]
    assert len(set(used)) == len(used), "two recordings share a container"
    assert {c for c, _ in stored} == set(used)
    assert not set(used) & set(NOT_RECORDINGS)
    for container in used:
        assert rig.cd.container_metadata(container).get("Status") == "Complete", container
        assert not container.startswith("RejectedContent"), container
    # The controller's tables name the same container for each recording.
    recorded = db_rows(rig.data_dir, "SELECT recording_id, state, container"
                       " FROM offload_recording")
    assert sorted(recorded) == sorted(
        (rec, "at_cd", next(iter(c))) for rec, c in containers.items())

    left = [p for p in rig.spool_root.rglob("*") if p.is_file()]
    assert left == [], "the controller's spool is not empty"
    assert sorted(clip_rows(rig)) == sorted((n, "at_cd", 1, 1) for n in originals)
    # Confirmed by the CD's ETag (Swift) or trusted on its 201 (the reference server);
    # unknown for a recording found already Complete after a kill.
    verified = [v for (v,) in db_rows(rig.data_dir, "SELECT cd_verified FROM offload_clip")]
    assert set(verified) <= {int(swift), None} and int(swift) in verified, verified
