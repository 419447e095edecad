"""The Assistant's rig: a set-up controller with the embedded CD, a docking station, one
camera of one user on the simulated air, and the app's service for that user's phone.

Everything shares one ManualClock that starts at the host's time (TLS certificates are
issued on it and checked by the app on the host's clock). Tests move it: 24 h validity,
the 5-minute PIN window.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bodyworn.assistant.app import AssistantContext, AssistantSettings
from bodyworn.assistant.app import build_context as app_context
from bodyworn.cdclient.client import CDClient, RetryPolicy
from bodyworn.cdclient.config import CDConnection
from bodyworn.controller.app import build_context
from bodyworn.controller.assistant_pairing import service as pairing
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.docking.orchestrator import Docking
from bodyworn.controller.identity.service import public_key_pem, signing_identity
from bodyworn.controller.offload.engine import OffloadConfig, OffloadEngine
from bodyworn.controller.outbox import service as outbox
from bodyworn.controller.profiles import service as profiles
from bodyworn.controller.settings import ControllerSettings
from bodyworn.controller.users import service as users
from bodyworn.destination.config import (
    Site,
    build_site,
    connection_file_for,
    init_destination,
)
from bodyworn.devices.camera import Camera, Recording
from bodyworn.devices.docking import DockingStation, DockModel
from bodyworn.devices.docklink_server import DockLinkServer
from bodyworn.devices.environment import Environment
from bodyworn.devices.gnss import Receiver, Route, Waypoint
from bodyworn.devices.video import ClipRenderer, Fidelity
from bodyworn.devices.wireless_server import WirelessAir
from bodyworn.docklink.client import DockLinkClient
from bodyworn.domain.clock import ManualClock
from bodyworn.domain.profile import CameraProfile
from bodyworn.domain.text import fold
from tests.controller.conftest import set_up

CD_BASE = "http://cd.test"
FAST = RetryPolicy(attempts=2, timeout=5.0, wait_initial=0.01, wait_max=0.02, wait_jitter=0.0)
PROFILE_SETTINGS: dict[str, Any] = {"location_data": True, "pre_buffer": 5,
                                    "max_clip_length": 60}
PROFILE = CameraProfile(name="Patrol", location_data=True, pre_buffer=timedelta(seconds=5),
                        max_clip_length=timedelta(seconds=60))
USER_ID = "officer-17-north-precinct"
SERIAL = "B8A44F000001"


class LoopThread:
    """An event loop running on its own thread."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="rig-loop",
                                        daemon=True)
        self._thread.start()

    def run(self, coro: Any) -> Any:
        """Run `coro` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=300)

    def close(self) -> None:
        """Stop the loop and its thread."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@dataclass
class AssistantRig:
    """One user, one camera, one phone."""

    ctx: ControllerContext
    clock: ManualClock
    cd: Site
    cd_account: str
    cd_key: str
    tmp: Path
    station: DockingStation
    server: DockLinkServer
    air: WirelessAir
    camera: Camera
    user_uuid: str
    engine: OffloadEngine
    fidelity: Fidelity = Fidelity.FAST
    apps: list[AssistantContext] = field(default_factory=list)
    # The rig's event loop, on a thread of its own (a browser test's thread runs one of
    # Playwright's): the phones' links to cameras live as long as it does.
    loop: LoopThread = field(default_factory=lambda: LoopThread())

    def run(self, coro: Any) -> Any:
        """Run one coroutine (a phone's service, the CD) to its end."""
        return self.loop.run(coro)

    # ---- the controller ------------------------------------------------------------------

    def cd_client(self) -> CDClient:
        """A client of the embedded CD, in-process."""
        conn = CDConnection(uris=(f"{CD_BASE}/auth/v1.0",), user="bodyworn", key=self.cd_key)
        return CDClient(conn, retry=FAST, clock=self.clock,
                        transport=httpx.ASGITransport(app=self.cd.swift.app))

    def start_pairing(self, mode: str = "local", user_uuid: str | None = None
                      ) -> pairing.PairingCodeView:
        """What the administrator does: Users → user → pair → Assistant."""
        who = user_uuid or self.user_uuid
        with self.ctx.factory() as session, session.begin():
            pairing_id = pairing.start(session, self.clock, who, mode, actor="root",
                                       source="test")
        with self.ctx.factory() as session:
            code = pairing.code_of(session, self.clock, who, pairing_id)
        assert code is not None
        return code

    def pairings(self, user_uuid: str | None = None) -> list[pairing.PairingView]:
        """A user's pairings as the manager lists them."""
        with self.ctx.factory() as session:
            return pairing.pairings(session, self.clock, user_uuid or self.user_uuid)

    def link(self) -> DockLinkClient:
        """The controller's dock link to the camera (docked)."""
        return self.ctx.docklink(self.server.camera_url(self.camera.serial))

    # ---- the camera -------------------------------------------------------------------------

    def dock(self, *, wait: bool = True) -> None:
        """Put the camera in the station and run the on-dock work (sync, offload)."""
        if self.station.bay_of(self.camera) is None:
            with self.server.lock:
                self.station.insert(self.camera)
        if wait:
            self.clock.advance(timedelta(seconds=30))
        failed: list[BaseException] = []

        def work() -> None:
            # On a worker thread, as docking/ runs it (and away from any event loop the
            # caller's thread may run).
            try:
                with self.link() as link:
                    Docking(self.ctx, self.engine).sync_and_ingest(self.camera.serial, link)
            except BaseException as exc:
                failed.append(exc)

        worker = threading.Thread(target=work, name="on-dock")
        worker.start()
        worker.join(120)
        if failed:
            raise failed[0]

    def undock(self, started: bool = True) -> None:
        """Take the camera out; by default wait until it has started (20 s)."""
        with self.server.lock:
            self.station.take(self.camera)
        if started:
            self.clock.advance(timedelta(seconds=30))

    def record(self, seconds: int = 12, settle: int = 60) -> Recording:
        """Record for a while (the camera must be running off the dock); first wait
        `settle` seconds for the camera's GNSS receiver to find its position."""
        self.clock.advance(timedelta(seconds=settle))
        with self.server.lock:
            recording = self.camera.start_recording()
            assert recording is not None
        self.clock.advance(timedelta(seconds=seconds))
        with self.server.lock:
            self.camera.stop_recording()
        return recording

    def deliver(self, passes: int = 10) -> None:
        """Run the deliver loop until nothing is due."""
        from bodyworn.controller.offload import service

        engine = self.engine

        async def run() -> None:
            try:
                for _ in range(passes):
                    await engine.run_once()
                    with self.ctx.factory() as session:
                        if not service.deliverable(session, self.clock.now(), 1) \
                                and not service.spool_to_remove(session):
                            break
            finally:
                await engine.aclose()

        self.run(run())

    def edit_profile(self, **settings: Any) -> None:
        """Camera profiles → Patrol: change settings (cameras take them at docking)."""
        with self.ctx.factory() as session, session.begin():
            patrol = profiles.by_name(session, self.clock)[fold(PROFILE.name)]
            profiles.update(session, self.clock, patrol.id, settings=settings, actor="root",
                            source="test")

    # ---- the phone ---------------------------------------------------------------------------

    def phone(self, name: str = "phone") -> AssistantContext:
        """The app's service on a phone (a data directory of its own)."""
        app = app_context(AssistantSettings(data_dir=self.tmp / name, air_url=self.air.url))
        self.apps.append(app)
        return app

    def container_of(self, recording_id: str) -> str:
        """The CD container that holds a recording."""
        store = self.cd.swift.store
        for container in store.list_containers(self.cd_account):
            if container in ("System", "Users", "Devices"):
                continue
            if any(recording_id in o.name for o in store.list_objects(self.cd_account, container)):
                return container
        raise LookupError(f"{recording_id} is not at the CD")

    def evidence_page(self, container: str) -> str:
        """The evidence browser's page of a recording (logged in with a fresh password)."""
        import re

        from bodyworn.destination.browser_auth import set_browser_password

        password = "evidence browser password 17"
        set_browser_password(self.tmp / "cd", password)

        async def fetch() -> str:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.cd.app),
                                         base_url="http://cd.test") as http:
                page = await http.get("/browser/login")
                token = re.search(r'name="login_token" value="([^"]+)"', page.text)
                assert token
                await http.post("/browser/login", data={"login_token": token.group(1),
                                                        "password": password})
                return (await http.get(f"/browser/recordings/{container}")).text

        return str(self.run(fetch()))

    def bookmarks_at_cd(self, recording_id: str) -> list[tuple[dict[str, str], bytes]]:
        """Metadata and body of each bookmark object of a recording at the CD."""
        store = self.cd.swift.store
        found = []
        for container in store.list_containers(self.cd_account):
            objects = list(store.list_objects(self.cd_account, container))
            if not any(recording_id in o.name for o in objects):
                continue
            for obj in objects:
                if obj.name.startswith("bookmark_"):
                    found.append((obj.metadata, obj.path.read_bytes()))
        return found


@contextmanager
def assistant_rig(tmp: Path, *, fidelity: Fidelity = Fidelity.FAST) -> Iterator[AssistantRig]:
    """A rig; everything it started stops when the block ends."""
    now = datetime.now(UTC).replace(microsecond=0)
    clock = ManualClock(now)
    cd_dir = tmp / "cd"
    config = init_destination(cd_dir)
    loop = LoopThread()
    site = loop.run(build_site(config, cd_dir, clock=clock))
    ctx = build_context(ControllerSettings(data_dir=tmp / "data"), clock=clock)
    set_up(ctx, connection_file=connection_file_for(config, cd_dir, [CD_BASE]),
           manual_time=now)
    with ctx.factory() as session, session.begin():
        patrol = profiles.create(session, clock, PROFILE.name, PROFILE_SETTINGS,
                                 actor="test", source="test")
        user = users.create(session, clock, name="Officer Seventeen", user_id=USER_ID,
                            profile_id=patrol.id, actor="test", source="test")
    station = DockingStation("DOCK0001", DockModel.W701)
    station.connect("controller")
    server = DockLinkServer(station, link_clock=clock).start()
    air = WirelessAir(lock=server.lock, work_dir=tmp / "air").start()
    route = Route([Waypoint(now, 59.3293, 18.0686),
                   Waypoint(now + timedelta(hours=2), 59.3326, 18.0649)])
    camera = Camera(SERIAL, clock, gnss=Receiver(route), clip_sink=ClipRenderer(
        tmp / "camera", fidelity=fidelity))
    camera.set_environment(Environment(outdoor=True))
    air.add(camera)
    station.insert(camera)
    with ctx.factory() as session:
        identity = signing_identity(session)
        public = public_key_pem(session)
    with ctx.docklink(server.camera_url(SERIAL)) as link:
        link.add_to_system(identity.system_id, public)
        link.configure(profile=PROFILE, user_id=USER_ID, timezone="Europe/Stockholm")
    with ctx.factory() as session, session.begin():
        outbox.enqueue(session, clock, "device", SERIAL, "upsert",
                       {"name": f"Camera {SERIAL}", "model": "AXIS W100"})
    rig_box: list[AssistantRig] = []

    def cd_factory() -> CDClient:
        return rig_box[0].cd_client()

    engine = OffloadEngine(ctx, config=OffloadConfig(retry=FAST, interval_s=0.01,
                                                     backoff_initial_s=1.0),
                           cd_factory=cd_factory, autostart=False)
    ctx.offload = engine
    rig = AssistantRig(ctx, clock, site, config.account, config.key, tmp, station, server,
                       air, camera, user.uuid, engine, fidelity, loop=loop)
    rig_box.append(rig)

    async def read_cd_lists() -> None:
        # What the deliver loop does first when the controller starts: the CD's categories
        # and capabilities, which docking cameras then take (the loop is not run here).
        try:
            await engine.categories.refresh()
        finally:
            await engine.aclose()

    rig.run(read_cd_lists())
    try:
        yield rig
    finally:
        for app in rig.apps:
            rig.run(app.service.aclose())
        loop.close()
        air.stop()
        server.stop()
        ctx.engine.dispose()
