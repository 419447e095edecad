"""Camera add certifies the camera's device key with the system identity."""

from __future__ import annotations

from sqlalchemy import select

from bodyworn.controller.audit.models import AuditEntry
from bodyworn.controller.integrity.models import CameraCertificate
from bodyworn.evidence.signing import common_name, issued_by, public_key_of, same_key
from tests.controller.device_rig import Rig

CAM = "B8A44F000001"


def test_adding_a_camera_gives_it_a_certificate_from_the_system(rig: Rig) -> None:
    rig.add(CAM)
    camera = rig.cameras[CAM]
    leaf, root = camera.device_chain
    assert common_name(leaf) == CAM and issued_by(leaf, root) is None
    assert same_key(public_key_of(leaf), camera.device_key.public_key())
    status = rig.api("GET", "/api/v1/integrity").json()
    assert common_name(root) == status["system_id"]
    with rig.ctx.factory() as session:
        row = session.get(CameraCertificate, CAM)
        entries = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "camera.certify")).all()
    assert row is not None and len(entries) == 1 and CAM in entries[0].detail
    listed = rig.api("GET", "/api/v1/integrity/cameras").json()
    assert [c["serial"] for c in listed] == [CAM]
    assert rig.api("GET", f"/api/v1/cameras/{CAM}").json()["state"] == "added"
