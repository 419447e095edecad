"""Dock → spool → CD with real simulated cameras and the embedded CD."""

from __future__ import annotations

from typing import Any

import pytest

from bodyworn.controller.audit import service as audit
from bodyworn.controller.firmware import service as firmware
from bodyworn.controller.offload import service, states
from bodyworn.controller.system import service as system
from bodyworn.destination.swift import CDMode
from tests.controller.offload.conftest import BOTH_CDS, Rig, camera_clips, sha256_of
from tests.firmware_factory import make_bundle, write_trusted_key


@BOTH_CDS
def test_a_docked_camera_is_offloaded_and_delivered_complete(rig: Rig) -> None:
    cam = rig.camera()
    rec_id = rig.record(cam)
    on_camera = camera_clips(cam)
    assert len(on_camera) >= 2
    originals = {name: sha for name, sha in on_camera.items()}
    rig.dock(cam)
    assert camera_clips(cam) == {}, "every clip held by the controller was released"
    rows = rig.clip_rows()
    assert {r.name for r in rows} == set(originals)
    assert all(r.state == states.IN_SPOOL and r.released_at is not None for r in rows)
    for r in rows:
        assert sha256_of(rig.engine.spool.path(r.camera_serial, r.name)) == r.sha256  # type: ignore[union-attr]
    rig.deliver()
    at_cd = rig.at_cd()
    assert sorted(sha for _, sha in at_cd.values()) == sorted(originals.values())
    container = next(iter(at_cd.values()))[0]
    meta = rig.container_meta(container)
    assert meta["Status"] == "Complete"
    assert rec_id in [r.recording_id for c in _transfers(rig) for r in c.recordings]
    assert rig.engine.spool.names(cam.serial) == []  # type: ignore[union-attr]
    assert all(r.state == states.AT_CD and r.spool_removed_at for r in rig.clip_rows())
    # Swift's ETags confirm every clip; the reference server's 201s are only trusted.
    confirmed = rig.cd.mode is CDMode.SWIFT
    assert [r.cd_verified for r in rig.clip_rows()] == [confirmed] * len(originals)


def test_a_delivered_recording_is_published_once_its_outcome_is_committed(rig: Rig) -> None:
    from bodyworn.controller.events import RecordingDelivered
    from bodyworn.controller.offload.models import OffloadRecording

    heard: list[tuple[RecordingDelivered, str | None]] = []

    def on_delivered(event: RecordingDelivered) -> None:
        # Published after the commit: a subscriber reading the tables finds the outcome.
        with rig.ctx.factory() as session:
            row = session.query(OffloadRecording).filter_by(
                recording_id=event.recording_id).one()
            heard.append((event, row.state))

    rig.ctx.events.subscribe(RecordingDelivered, on_delivered)
    cam = rig.camera()
    rec_id = rig.record(cam)
    rig.dock(cam)
    assert heard == []
    rig.deliver()
    container = next(iter(rig.at_cd().values()))[0]
    assert heard == [(RecordingDelivered(rec_id, cam.serial, container), states.AT_CD)]


def _transfers(rig: Rig) -> list[service.CameraTransfers]:
    with rig.ctx.factory() as session:
        return service.transfers(session)


@BOTH_CDS
def test_the_recording_carries_track_bookmarks_and_metadata(rig: Rig) -> None:
    cam = rig.camera()
    rig.record(cam)
    rig.dock(cam)
    rig.deliver()
    container = next(iter(rig.at_cd().values()))[0]
    names = [o.name for o in rig.cd.store.list_objects(rig.cd_account, container)]
    assert any(n.endswith("_gpstrail.json") for n in names)
    assert sum(n.startswith("bookmark_") for n in names) == 2
    meta = rig.container_meta(container)
    assert meta["Bwcserialnumber"] == "B8A44F000001" and meta["Bwcmodel"] == "AXIS%20W100"
    assert meta["Triggeron"] == "button" and meta["Timezone"] == "Europe%2FStockholm"


def test_docking_syncs_time_zone_categories_profile_and_firmware(rig: Rig) -> None:
    cam = rig.camera()
    rig.ctx.settings.firmware_key_file = write_trusted_key(rig.tmp / "keys")
    firmware.install(rig.ctx, make_bundle("10.9.0.1"), actor="root", source="test")
    with rig.ctx.factory() as session, session.begin():
        system.current(session).power_line_frequency = 60
    rig.record(cam)
    rig.deliver()  # the deliver loop reads the CD's categories; docking cameras get them
    rig.dock(cam)
    with rig.client(cam) as link:
        info = link.info()
    assert info.firmware == "10.9.0.1"
    assert info.timezone == "Europe/Stockholm"
    assert info.power_line_frequency == 60 and cam.power_line_frequency == 60
    assert "Use of force" in info.categories  # the CD's list, not the test's two
    assert info.profile.name == "Default"
    assert camera_clips(cam) == {}
    # Up to date: the next dock pushes no firmware again.
    rig.dock(cam)
    with rig.ctx.factory() as session:
        pushes = [e.detail for e in audit.latest(session) if e.action == "firmware.camera"]
    assert pushes == [f"{cam.serial}: 10.2.0.3 -> 10.9.0.1"]


def test_pending_evidence_is_listed_until_it_is_at_the_cd(rig: Rig) -> None:
    cam = rig.camera()
    rig.record(cam)
    with rig.ctx.factory() as session:
        assert service.pending_for_camera(session, cam.serial) == []
    rig.dock(cam)
    with rig.ctx.factory() as session:
        lines = service.pending_for_camera(session, cam.serial)
        assert len(lines) == 1 and "in the controller" in lines[0]
        assert service.any_pending(session) == lines
    rig.deliver()
    with rig.ctx.factory() as session:
        assert service.pending_for_camera(session, cam.serial) == []
        assert service.any_pending(session) == []


def test_a_recording_whole_in_the_spool_wakes_the_deliver_loop(rig: Rig) -> None:
    import asyncio
    import time

    # The loop would otherwise sleep a minute between passes: delivery follows the dock
    # within seconds because the ingest wakes it.
    engine = rig.new_engine(interval_s=60.0)
    cam = rig.camera()
    rig.record(cam)
    originals = camera_clips(cam)
    passes = [0]
    real = engine.run_once

    async def counted() -> None:
        passes[0] += 1
        await real()

    engine.run_once = counted  # type: ignore[method-assign]

    async def scenario() -> float:
        stop = asyncio.Event()
        loop_task = asyncio.create_task(engine.run(stop))
        while passes[0] < 1:
            await asyncio.sleep(0.01)
        start = time.monotonic()
        await asyncio.to_thread(rig.dock, cam)
        while len(rig.at_cd()) < len(originals):
            if time.monotonic() - start > 30:
                break
            await asyncio.sleep(0.05)
        took = time.monotonic() - start
        stop.set()
        await loop_task
        return took

    took = asyncio.run(scenario())
    assert sorted(s for _, s in rig.at_cd().values()) == sorted(originals.values())
    assert took < 30 and passes[0] >= 2


@BOTH_CDS
def test_clips_go_to_the_cd_while_the_rest_of_their_recording_still_arrives(
    rig: Rig, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio
    import threading
    import time

    from bodyworn.cdclient.client import CDClient
    from bodyworn.controller.offload.ingest import Ingester

    engine = rig.new_engine(interval_s=60.0)
    cam = rig.camera()
    rig.record(cam, seconds=130)  # four clips or more
    originals = camera_clips(cam)
    last = sorted(originals)[-1]
    assert len(originals) >= 4
    release = threading.Event()
    real_stream = Ingester._stream

    def held(self: Ingester, camera: Any, name: str, have: int) -> Any:
        if name == last:
            assert release.wait(30), "the last clip was never let through"
        return real_stream(self, camera, name, have)

    monkeypatch.setattr(Ingester, "_stream", held)
    puts: dict[str, int] = {}
    real_put = CDClient._put_object

    async def counting(self: CDClient, container: str, name: str, *a: Any, **k: Any) -> Any:
        puts[name] = puts.get(name, 0) + 1
        return await real_put(self, container, name, *a, **k)

    monkeypatch.setattr(CDClient, "_put_object", counting)

    passes = [0]
    real_pass = engine.run_once

    async def counted_pass() -> None:
        await real_pass()
        passes[0] += 1

    engine.run_once = counted_pass  # type: ignore[method-assign]

    async def scenario() -> list[str]:
        stop = asyncio.Event()
        loop_task = asyncio.create_task(engine.run(stop))
        while passes[0] < 1:  # users and devices are at the CD: clips may go early
            await asyncio.sleep(0.01)
        docking = asyncio.create_task(asyncio.to_thread(rig.dock, cam))
        early: list[str] = []
        start = time.monotonic()
        # Every clip but the held one reaches the CD, its recording still Transferring.
        while len(early) < len(originals) - 1 and time.monotonic() - start < 30:
            await asyncio.sleep(0.05)
            early = list(rig.at_cd())
        statuses = {rig.container_meta(c)["Status"] for c, _ in rig.at_cd().values()}
        release.set()
        await docking
        while len(rig.at_cd()) < len(originals) and time.monotonic() - start < 60:
            await asyncio.sleep(0.05)
        for _ in range(100):  # the Complete POST follows the last clip
            container = next(iter(rig.at_cd().values()))[0]
            if rig.container_meta(container)["Status"] == "Complete":
                break
            await asyncio.sleep(0.05)
        stop.set()
        await loop_task
        return [*early, *sorted(statuses)]

    seen = asyncio.run(scenario())
    assert seen[-1] == "Transferring" and len(seen) == len(originals)
    at_cd = rig.at_cd()
    assert sorted(s for _, s in at_cd.values()) == sorted(originals.values())
    container = next(iter(at_cd.values()))[0]
    assert rig.container_meta(container)["Status"] == "Complete"
    # Sent once each: the delivery checked the early ones at the CD instead of resending,
    # also when the CD's HEAD carries no ETag (the reference server's never does).
    assert all(puts[name] == 1 for name in at_cd), puts
    assert all(r.state == states.AT_CD for r in rig.clip_rows())
    confirmed = rig.cd.mode is CDMode.SWIFT
    assert [r.cd_verified for r in rig.clip_rows()] == [confirmed] * len(originals)


def test_cameras_docked_together_read_the_cds_categories_once(
    rig: Rig, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio
    from datetime import timedelta

    from bodyworn.cdclient.errors import CDUnavailable
    from bodyworn.controller.offload.engine import OffloadEngine

    # The deliver loop reads the CD's categories on its own event loop; cameras docking
    # on worker threads take them from it (no thread starts an event loop of its own).
    engine = rig.new_engine(interval_s=3600.0)
    cams = [rig.camera(f"B8A44F00000{i}", station=i % 2) for i in range(1, 5)]
    reads = [0]
    real = OffloadEngine.read_categories
    failing = [False]

    async def counted(self: OffloadEngine) -> Any:
        reads[0] += 1
        if failing[0]:
            raise CDUnavailable("the CD is down")
        return await real(self)

    monkeypatch.setattr(OffloadEngine, "read_categories", counted)

    async def scenario() -> None:
        stop = asyncio.Event()
        loop_task = asyncio.create_task(engine.run(stop))
        while reads[0] < 1:
            await asyncio.sleep(0.01)
        await asyncio.gather(*(asyncio.to_thread(rig.dock, c) for c in cams))
        assert reads[0] == 1
        with rig.client(cams[0]) as link:
            assert "Use of force" in (await asyncio.to_thread(link.info)).categories
        # A day later the CD is down: one camera waits for the loop's read and finds out,
        # the next within a minute does not wait again (the list read before is used), a
        # later one asks again.
        rig.clock.advance(timedelta(days=1, minutes=1))
        failing[0] = True
        first = await asyncio.to_thread(engine.category_names)
        assert first and await asyncio.to_thread(engine.category_names) == first
        assert reads[0] == 2
        rig.clock.advance(timedelta(minutes=2))
        await asyncio.to_thread(engine.category_names)
        assert reads[0] == 3
        stop.set()
        await loop_task

    asyncio.run(scenario())


def test_the_offload_limits_come_from_the_controllers_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any,
) -> None:
    from pydantic import ValidationError

    from bodyworn.controller.app import build_context, create_app
    from bodyworn.controller.offload.engine import OffloadEngine
    from bodyworn.controller.settings import ControllerSettings

    for name, value in (("MAX_INGESTS", "7"), ("INGESTS_PER_CAMERA", "1"),
                        ("MAX_DELIVERIES", "5"), ("EARLY_UPLOADS", "0"),
                        ("INTERVAL_S", "0.5")):
        monkeypatch.setenv(f"BODYWORN_OFFLOAD_{name}", value)
    settings = ControllerSettings(data_dir=tmp_path / "data")
    ctx = build_context(settings)
    try:
        create_app(ctx)
        assert isinstance(ctx.offload, OffloadEngine)
        config = ctx.offload.config
        assert (config.max_ingests, config.ingests_per_camera, config.max_deliveries,
                config.early_uploads, config.interval_s) == (7, 1, 5, 0, 0.5)
        assert ctx.offload.ingester.slots.limit == 7
    finally:
        ctx.engine.dispose()
    monkeypatch.setenv("BODYWORN_OFFLOAD_MAX_INGESTS", "0")
    with pytest.raises(ValidationError):
        ControllerSettings(data_dir=tmp_path / "data")


@BOTH_CDS
def test_users_and_devices_are_created_with_one_put_and_changed_with_a_post(rig: Rig) -> None:
    from bodyworn.controller.users import service as users
    from tests.cd_server import RequestLog

    log = RequestLog(rig.cd.app)
    rig.cd.app = log  # the engine's client is made on its first pass, through the log
    cam = rig.camera()
    rig.deliver()
    with rig.ctx.factory() as session:
        uuid = users.list_users(session)[0][0].uuid
    user, device = f"/Users/{uuid}", f"/Devices/{cam.serial}"
    # Created: one PUT each, no POST answered 404 first.
    assert (len(log.paths("PUT", user)), len(log.paths("POST", user))) == (1, 0)
    assert (len(log.paths("PUT", device)), len(log.paths("POST", device))) == (1, 0)
    with rig.ctx.factory() as session, session.begin():
        users.update_user(session, rig.clock, uuid, {"name": "Officer Renamed"},
                          actor="test", source="test")
    rig.deliver()
    # Changed: the metadata is POSTed to the object written before.
    assert (len(log.paths("PUT", user)), len(log.paths("POST", user))) == (1, 1)
    stored = rig.cd.store.get_object(rig.cd_account, "Users", uuid).metadata
    assert stored["Name"] == "Officer%20Renamed"
