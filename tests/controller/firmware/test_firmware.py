"""Settings → Firmware through its REST twin and its page: signed bundles only, newer only,
the services restarted, docked cameras upgraded at once, undocked ones at their docking."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from bodyworn.controller.audit import service as audit
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.events import FirmwareInstalled
from bodyworn.controller.firmware import service
from bodyworn.controller.setup import service as setup
from bodyworn.controller.setup.service import Identity
from bodyworn.controller.web.bodies import MAX_BODY_BYTES
from bodyworn.firmware.bundle import SHIPPED_VERSION, build_bundle
from tests.controller.conftest import good_answers
from tests.controller.device_rig import SERIALS, Rig
from tests.firmware_factory import camera_image, make_bundle, signing_key, write_trusted_key

A, B, _ = SERIALS


def _upload(rig: Rig, data: bytes, name: str = "bodyworn-10.3.0.0.bwfw") -> tuple[int, dict]:
    r = rig.api("POST", "/api/v1/firmware", files={"firmware": (name, data)})
    return r.status_code, r.json()


def _audit(ctx: ControllerContext, action: str) -> list[tuple[str, str]]:
    with ctx.factory() as session:
        return [(e.outcome, e.detail) for e in reversed(audit.latest(session))
                if e.action == action]


def _camera_firmware(rig: Rig, serial: str) -> str:
    return rig.cameras[serial].firmware


def test_install_upgrades_docked_cameras_now_and_undocked_ones_at_docking(fw_rig: Rig) -> None:
    rig = fw_rig
    heard: list[FirmwareInstalled] = []
    rig.ctx.events.subscribe(FirmwareInstalled, heard.append)
    rig.add(A)
    rig.add(B)
    rig.undock(B)
    rig.settle()  # A has restarted in its bay
    before = rig.client.get("/api/v1/firmware").json()
    assert before["system"] == SHIPPED_VERSION and before["history"] == []
    assert {c["serial"]: c["current"] for c in before["cameras"]} == {A: True, B: True}
    workers = rig.client.app.state.workers  # type: ignore[attr-defined]
    assert workers.restarts == 0

    status, body = _upload(rig, make_bundle("10.3.0.0"))
    assert status == 200, body
    assert body == {"version": "10.3.0.0", "services_restarted": True}
    assert workers.restarts == 1 and workers.last_reason == "firmware 10.3.0.0 installed"
    # The docked camera goes through the on-dock sequence again and takes the image.
    rig.wait_until(lambda: _camera_firmware(rig, A) == "10.3.0.0", seconds=15)
    assert _camera_firmware(rig, B) == SHIPPED_VERSION
    (event,) = heard
    assert event.version == "10.3.0.0" and not event.during_setup
    assert hashlib.sha256(Path(event.bundle_path).read_bytes()).hexdigest() == \
        event.bundle_sha256
    assert event.camera_models == ("AXIS W100",)
    # B is upgraded at its next docking.
    rig.dock(B)
    rig.settle()
    rig.wait_until(lambda: _camera_firmware(rig, B) == "10.3.0.0", seconds=15)
    rig.ctx.docking.wait()  # type: ignore[union-attr]
    after = rig.client.get("/api/v1/firmware").json()
    assert after["system"] == "10.3.0.0"
    assert after["controllers"][0]["firmware"] == "10.3.0.0"
    assert {c["serial"]: (c["firmware"], c["current"]) for c in after["cameras"]} == {
        A: ("10.3.0.0", True), B: ("10.3.0.0", True)}
    assert [h["version"] for h in after["history"]] == ["10.3.0.0"]
    upgrades = _audit(rig.ctx, "firmware.camera")
    assert sorted(d for _, d in upgrades) == [f"{A}: {SHIPPED_VERSION} -> 10.3.0.0",
                                              f"{B}: {SHIPPED_VERSION} -> 10.3.0.0"]
    # Devices shows every controller's and camera's version.
    page = rig.client.get("/cameras").text
    assert page.count(">10.3.0.0<") >= 3 and "bodyworn 0.1.0" in page


def test_refusals_change_nothing_and_are_audited(fw_rig: Rig) -> None:
    rig = fw_rig
    good = make_bundle("10.4.0.0")
    cases = [
        (make_bundle("10.4.0.0", key=Ed25519PrivateKey.generate()), 422, "not signed"),
        (good[: len(good) // 2], 422, "incomplete"),
        (b"\x00" * 4096, 422, "not a firmware file"),
    ]
    for data, status, words in cases:
        code, body = _upload(rig, data)
        assert (code, words in body["detail"]) == (status, True), body
    assert _upload(rig, good)[0] == 200
    older = _upload(rig, make_bundle("10.3.9.9"))
    assert older[0] == 409 and "reset the system" in older[1]["detail"]
    same = _upload(rig, good)
    assert same[0] == 409 and "installed already" in same[1]["detail"]
    assert rig.client.get("/api/v1/firmware").json()["system"] == "10.4.0.0"
    outcomes = [o for o, _ in _audit(rig.ctx, "firmware.install")]
    assert outcomes == ["denied", "denied", "denied", "success", "denied", "denied"]
    with rig.ctx.factory() as session:
        assert [r.version for r in service.versions(session, "x").history] == ["10.4.0.0"]
    files = sorted(p.name for p in (rig.ctx.data_dir / "firmware").iterdir())
    assert len(files) == 1 and files[0].startswith("10.4.0.0-")


def test_a_read_only_token_cannot_install(fw_rig: Rig) -> None:
    rig = fw_rig
    r = rig.api("POST", "/api/v1/tokens", json={"name": "ro", "access": "read"})
    token = r.json()["token"]
    bot = {"Authorization": f"Bearer {token}"}
    assert rig.client.get("/api/v1/firmware", headers=bot).status_code == 200
    r = rig.client.post("/api/v1/firmware", headers=bot,
                        files={"firmware": ("x.bwfw", make_bundle("10.5.0.0"))})
    assert r.status_code == 403


def test_the_page_installs_and_shows_the_reason_of_a_refusal(fw_rig: Rig) -> None:
    rig = fw_rig
    page = rig.client.get("/settings/firmware")
    assert page.status_code == 200 and f">{SHIPPED_VERSION}<" in page.text
    r = rig.client.post("/settings/firmware", data={"csrf_token": rig.csrf},
                        files={"firmware": ("old.bwfw", b"PK\x03\x04 broken")})
    assert r.status_code == 422 and "incomplete or not a firmware file" in r.text
    r = rig.client.post("/settings/firmware", data={"csrf_token": rig.csrf},
                        files={"firmware": ("new.bwfw", make_bundle("10.6.0.0"))})
    assert r.status_code == 200 and "Firmware 10.6.0.0 is installed." in r.text
    assert 'id="system-firmware">10.6.0.0<' in r.text


def test_a_bundle_changed_on_disk_is_never_sent_to_a_camera(fw_rig: Rig) -> None:
    rig = fw_rig
    assert _upload(rig, make_bundle("10.7.0.0"))[0] == 200
    assert service.camera_image(rig.ctx, "AXIS W100") is not None
    (kept,) = (rig.ctx.data_dir / "firmware").iterdir()
    data = bytearray(kept.read_bytes())
    data[-100] ^= 0xFF
    kept.write_bytes(bytes(data))
    assert service.camera_image(rig.ctx, "AXIS W100") is None


def test_the_camera_image_is_the_one_for_its_model(fw_rig: Rig) -> None:
    rig = fw_rig
    assert service.camera_image(rig.ctx, "AXIS W100") is None  # nothing installed yet
    assert _upload(rig, make_bundle("10.8.0.0"))[0] == 200
    image = service.camera_image(rig.ctx, "AXIS W100")
    assert image is not None and image.data == camera_image("10.8.0.0")
    assert service.camera_image(rig.ctx, "AXIS W110") is None


def test_setup_installs_any_version_even_older_than_shipped(ctx: ControllerContext,
                                                            tmp_path: Path,
                                                            client: TestClient) -> None:
    ctx.settings.firmware_key_file = write_trusted_key(tmp_path / "keys")
    assert ctx.firmware is not None
    bundle = ctx.firmware.verify(make_bundle("9.80.0.0"))
    setup.commit(ctx.factory, ctx.clock, good_answers(), Identity.generate(), offset_seconds=0,
                 source="test", firmware=bundle, installer=ctx.firmware)
    with ctx.factory() as session:
        row = service.installed(session)
        assert row is not None and row.version == "9.80.0.0" and row.during_setup
    assert ctx.firmware_installed == "9.80.0.0"
    assert _audit(ctx, "firmware.install") == [
        ("success", f"9.80.0.0 (bundle {bundle.sha256[:16]}, release key {bundle.key_id})"
                    " in setup")]


def test_a_bundle_over_the_default_body_limit_is_taken(fw_rig: Rig) -> None:
    """Uploads of firmware have a limit of their own (the default is a megabyte)."""
    rig = fw_rig
    image = bytes(range(256)) * (12 * 1024)  # 3 MiB
    data = build_bundle(signing_key(), "10.9.9.0",
                        camera_images={"w100.img": (("AXIS W100",), image)})
    assert len(data) > MAX_BODY_BYTES
    assert _upload(rig, data)[0] == 200
    page = rig.client.post("/settings/firmware", data={"csrf_token": rig.csrf},
                           files={"firmware": ("same.bwfw", data)})
    assert page.status_code == 409 and "installed already" in page.text
