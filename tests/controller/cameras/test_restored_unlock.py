"""A controller restored from the System restore key takes the old system's cameras back:
cameras locked to the old identity unlock with the Super admin passphrase and work again;
a controller of another identity cannot unlock them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bodyworn.controller.audit.models import AuditEntry
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.setup.service import Identity
from bodyworn.devices.camera import Camera
from bodyworn.devices.docking import DockingStation, DockModel
from bodyworn.domain.clock import ManualClock
from tests.controller.conftest import PASSPHRASE
from tests.controller.device_rig import Rig, make_rig

CAM = "B8A44F000001"
OLD = Identity.generate()


def belong_to_old_system(camera: Camera, locked: bool = True) -> None:
    """The camera as the failed controller left it: added to the old system (and locked,
    as after eight weeks undocked)."""
    old_station = DockingStation("OLDDOCK1", DockModel.W701)
    old_station.insert(camera)
    camera.add_to_system(OLD.system_id, OLD.public_key_pem.decode("ascii"))
    if locked:
        camera.lock()
    old_station.take(camera)


@pytest.fixture
def restored(ctx: ControllerContext, clock: ManualClock) -> Iterator[Rig]:
    """A new controller set up with the old system's identity (its restore key)."""
    yield from make_rig(ctx, clock, "fixed", identity=OLD)


@pytest.fixture
def stranger(ctx: ControllerContext, clock: ManualClock) -> Iterator[Rig]:
    """A new controller with an identity of its own."""
    yield from make_rig(ctx, clock, "fixed")


def test_the_old_systems_locked_camera_unlocks_and_works_again(restored: Rig) -> None:
    rig = restored
    camera = rig.cameras[CAM]
    with rig.server.lock:
        belong_to_old_system(camera)
    rig.dock(CAM)
    shown = rig.api("GET", f"/api/v1/cameras/{CAM}").json()
    assert shown["locked"] and shown["state"] == "new"
    page = rig.client.get(f"/cameras/{CAM}").text
    assert "Locked" in page and 'name="passphrase"' in page
    issues = rig.api("GET", "/api/v1/dashboard").json()["issues"]
    assert [i["kind"] for i in issues if CAM in i["message"]] == ["camera_locked"]
    assert "belongs to another system" not in rig.client.get("/devices/new").text
    r = rig.api("POST", f"/api/v1/cameras/{CAM}/unlock", json={"passphrase": "guess guess!"})
    assert r.status_code == 403 and camera.locked
    r = rig.api("POST", f"/api/v1/cameras/{CAM}/unlock", json={"passphrase": PASSPHRASE})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "added" and not r.json()["locked"]
    assert not camera.locked and camera.system_id == OLD.system_id
    # It works again: the system assigns it, and the camera takes the user.
    anna = rig.user("Anna Berg", "officer-1")
    r = rig.api("PUT", f"/api/v1/cameras/{CAM}/user", json={"user_uuid": anna})
    assert r.status_code == 200, r.text
    assert camera.user_id == "officer-1"
    with rig.ctx.factory() as session:
        details = [e.detail for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action == "camera.unlock"))]
    assert details[-1] == f"{CAM}: taken back into the system after a restore"


def test_a_camera_not_locked_is_taken_back_by_the_same_unlock(restored: Rig) -> None:
    rig = restored
    camera = rig.cameras[CAM]
    with rig.server.lock:
        belong_to_old_system(camera, locked=False)
    rig.dock(CAM)
    assert rig.api("GET", f"/api/v1/cameras/{CAM}").json()["locked"]  # to this controller
    r = rig.api("POST", f"/api/v1/cameras/{CAM}/unlock", json={"passphrase": PASSPHRASE})
    assert r.status_code == 200 and r.json()["state"] == "added", r.text


def test_a_controller_of_another_identity_cannot_unlock_them(stranger: Rig) -> None:
    rig = stranger
    camera = rig.cameras[CAM]
    with rig.server.lock:
        belong_to_old_system(camera)
    rig.dock(CAM)
    r = rig.api("POST", f"/api/v1/cameras/{CAM}/unlock", json={"passphrase": PASSPHRASE})
    assert r.status_code == 409 and "refused to unlock" in r.json()["detail"]
    assert camera.locked
    assert rig.api("GET", f"/api/v1/cameras/{CAM}").json()["state"] == "new"
