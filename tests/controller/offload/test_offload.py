"""Dock → spool → CD with real simulated cameras and the embedded CD."""

from __future__ import annotations

from bodyworn.controller.offload import service, states
from tests.controller.offload.conftest import Rig, camera_clips, sha256_of


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


def _transfers(rig: Rig) -> list[service.CameraTransfers]:
    with rig.ctx.factory() as session:
        return service.transfers(session)


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
    firmware = rig.ctx.data_dir / "firmware"
    firmware.mkdir()
    (firmware / "10.9.0.1.bin").write_bytes(b"image 10.9.0.1")
    (firmware / "9.0.0.0.bin").write_bytes(b"older")
    (firmware / "notes.txt").write_text("not an image")
    rig.record(cam)
    rig.dock(cam)
    with rig.client(cam) as link:
        info = link.info()
    assert info["firmware"] == "10.9.0.1"
    assert info["timezone"] == "Europe/Stockholm"
    assert "Use of force" in info["categories"]  # the CD's list, not the test's two
    assert info["profile"]["name"] == "Default"
    assert camera_clips(cam) == {}
    # Up to date: the next dock pushes no firmware again.
    (firmware / "10.9.0.1.bin").unlink()
    rig.dock(cam)


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
