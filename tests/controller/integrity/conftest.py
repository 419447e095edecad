"""Integrity rigs: the offload rig, with cameras certified as camera add does it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bodyworn.cdclient.client import CDClient
from bodyworn.cdclient.config import CDConnection
from bodyworn.controller.app import build_context
from bodyworn.controller.integrity import service as integrity
from bodyworn.controller.settings import ControllerSettings
from bodyworn.controller.users import service as users
from bodyworn.destination.config import (
    DestinationConfig,
    build_app,
    connection_file_for,
    init_destination,
)
from bodyworn.destination.recordings import EvidenceReader
from bodyworn.destination.swift import CDMode
from bodyworn.devices.camera import Camera
from bodyworn.domain.clock import ManualClock
from bodyworn.domain.connection_file import parse_connection_file
from bodyworn.evidence.crypto import load_private_key
from bodyworn.evidence.verify import RecordingFindings
from tests.controller.conftest import set_up
from tests.controller.offload.conftest import CD_BASE, FAST, START, Rig
from tests.controller.offload.conftest import offload_swift as offload_swift

__all__ = ["IntegrityRig", "make_rig"]


class IntegrityRig(Rig):
    """The offload rig plus what the integrity tests look at."""

    cd_config: DestinationConfig | None = None
    cd_dir: Path | None = None
    connection: CDConnection | None = None

    def cd_client(self) -> CDClient:
        """A client of the embedded CD, in-process, as the connection file describes it."""
        assert self.connection is not None
        return CDClient(self.connection, retry=FAST, clock=self.clock,
                        transport=httpx.ASGITransport(app=self.cd.app))

    def certified_camera(self, serial: str = "B8A44F000001") -> Camera:
        """An added camera certified by the system identity (what camera add does)."""
        cam = self.camera(serial)
        with self.client(cam) as link:
            assert integrity.enrol_camera(self.ctx, serial, link)
        return cam

    def reader(self) -> EvidenceReader:
        """The embedded CD's evidence reader (with its content key when it has one)."""
        assert self.cd_config is not None and self.cd_dir is not None
        key = (load_private_key((self.cd_dir / self.cd_config.content_private_key).read_bytes())
               if self.cd_config.content_private_key else None)
        return EvidenceReader(self.cd.store, self.cd_account, key)

    def recordings(self) -> list[str]:
        """Recording containers at the CD."""
        return [r.container for r in self.reader().recordings()]

    def findings(self, container: str) -> RecordingFindings:
        """What the evidence browser finds about a recording."""
        view = self.reader().recording(container)
        assert view.integrity is not None
        return view.integrity

    def system_id(self) -> str:
        """This controller's system ID."""
        from bodyworn.controller.identity.service import signing_identity

        with self.ctx.factory() as session:
            return signing_identity(session).system_id

    def run(self, coro_fn: object) -> object:
        """Run an async function of the CD client (a fresh one)."""
        async def go() -> object:
            async with self.cd_client() as cd:
                return await coro_fn(cd)  # type: ignore[operator]

        return asyncio.run(go())

    def client_of_cd(self) -> CDClient:
        """A client of the embedded CD."""
        return self.cd_client()


def make_rig(tmp_path: Path, *, mode: CDMode = CDMode.SWIFT, encryption: bool = False,
             capabilities: dict[str, list[str]] | None = None, full: bool = False,
             base: str = CD_BASE) -> IntegrityRig:
    """A set-up controller bound to a fresh embedded CD (its capabilities as given)."""
    clock = ManualClock(START)
    cd_dir = tmp_path / "cd"
    config = init_destination(cd_dir, encryption=encryption)
    if capabilities is not None:
        from dataclasses import replace

        config = replace(config, capabilities=capabilities)
    cd = asyncio.run(build_app(config, cd_dir, clock=clock, mode=mode))
    ctx = build_context(ControllerSettings(data_dir=tmp_path / "data"), clock=clock)
    raw = connection_file_for(config, cd_dir, [base], full_store_and_read=full)
    set_up(ctx, connection_file=raw, manual_time=START)
    with ctx.factory() as session, session.begin():
        users.create(session, clock, name="Officer Seventeen", user_id="officer-17",
                     actor="test", source="test")
    rig = IntegrityRig(ctx, clock, cd, config.account, tmp_path, cd_key=config.key)
    rig.cd_config, rig.cd_dir = config, cd_dir
    rig.connection = CDConnection.from_parsed(parse_connection_file(raw))
    rig.new_engine()
    return rig


@pytest.fixture
def irig(tmp_path: Path) -> Iterator[IntegrityRig]:
    """An integrity rig over the embedded CD answering as Swift."""
    rig = make_rig(tmp_path)
    try:
        yield rig
    finally:
        for _, server in rig.stations:
            server.stop()
        rig.ctx.engine.dispose()
