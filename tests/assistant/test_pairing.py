"""Pairing end to end below the screen: the manager issues, the camera learns it at
docking, the app completes it with the PIN, the controller learns the device; and the
refusals the manual and issue 15 name."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bodyworn.assistant.camera import AppRefused
from bodyworn.controller.assistant_pairing.states import BlockedReason, PairingState
from bodyworn.controller.docking.orchestrator import Docking
from bodyworn.wireless import wire
from tests.assistant.rig import USER_ID, AssistantRig


def pair(rig: AssistantRig, phone_name: str = "phone", pin: str | None = None) -> object:
    code = rig.start_pairing()
    rig.dock()
    rig.undock()
    phone = rig.phone(phone_name)
    phone.service.scan(code.text)
    return rig.run(phone.service.enter_pin(pin or code.pin)), phone, code


def test_pairing_completes_and_the_controller_learns_the_device(arig: AssistantRig) -> None:
    stored, phone, code = pair(arig)
    assert stored.user_id == USER_ID and stored.camera == arig.camera.serial
    # The device key never left the phone; the camera has its public half.
    status = arig.run(phone.service.status())
    assert status.user_id == USER_ID and status.recordings_access
    assert arig.pairings()[0].state == PairingState.PENDING  # the controller has not heard
    arig.dock()
    listed = arig.pairings()
    assert listed[0].state == PairingState.PAIRED
    assert listed[0].paired_camera == arig.camera.serial
    assert listed[0].device is not None
    # Once paired, the code cannot be shown any more: secret and PIN are gone.
    with arig.ctx.factory() as session:
        from bodyworn.controller.assistant_pairing import service

        assert service.code_of(session, arig.clock, arig.user_uuid, code.pairing.pairing_id) \
            is None


def test_the_qr_code_carries_no_credentials_and_names_the_system(arig: AssistantRig) -> None:
    from bodyworn.controller.identity.keys import public_key_fingerprint
    from bodyworn.controller.identity.service import public_key_pem
    from bodyworn.wireless.pairing import PairingCode

    code = arig.start_pairing()
    parsed = PairingCode.parse(code.text)
    with arig.ctx.factory() as session:
        fingerprint = public_key_fingerprint(public_key_pem(session).encode())
    assert parsed.fingerprint == fingerprint
    assert parsed.pairing_id == code.pairing.pairing_id
    assert "root" not in code.text.lower() and code.pin not in code.text
    assert len(code.pin) == wire.PIN_DIGITS and code.pin.isdigit()


def test_expired_qr_code_is_refused(arig: AssistantRig) -> None:
    code = arig.start_pairing()
    arig.dock()
    arig.clock.advance(timedelta(hours=25))
    arig.undock()
    phone = arig.phone()
    phone.service.scan(code.text)
    with pytest.raises(AppRefused) as refused:
        arig.run(phone.service.enter_pin(code.pin))
    assert refused.value.reason == "expired"
    assert arig.pairings()[0].expired


def test_an_expired_pending_pairing_is_not_given_to_cameras(arig: AssistantRig) -> None:
    code = arig.start_pairing()
    arig.clock.advance(timedelta(hours=25))
    arig.dock()  # learns nothing: the code expired before this docking
    arig.undock()
    phone = arig.phone()
    phone.service.scan(code.text)
    with pytest.raises(AppRefused) as refused:
        arig.run(phone.service.enter_pin(code.pin))
    assert refused.value.reason == "no_camera"  # no camera shows the pairing


def test_pin_after_five_minutes_is_refused(arig: AssistantRig) -> None:
    code = arig.start_pairing()
    arig.dock()
    arig.undock()
    arig.clock.advance(wire.PIN_WINDOW)
    phone = arig.phone()
    phone.service.scan(code.text)
    with pytest.raises(AppRefused) as refused:
        arig.run(phone.service.enter_pin(code.pin))
    assert refused.value.reason == "pin_window"
    # Within the window after the next undock it works.
    arig.dock()
    arig.undock()
    stored = arig.run(phone.service.enter_pin(code.pin))
    assert stored.user_id == USER_ID


def test_wrong_pins_over_the_limit_end_the_pairing(arig: AssistantRig) -> None:
    code = arig.start_pairing()
    arig.dock()
    arig.undock()
    phone = arig.phone()
    phone.service.scan(code.text)
    wrong = f"{(int(code.pin) + 1) % 10 ** wire.PIN_DIGITS:0{wire.PIN_DIGITS}d}"
    reasons = []
    for _ in range(wire.PIN_TRIES):
        with pytest.raises(AppRefused) as refused:
            arig.run(phone.service.enter_pin(wrong))
        reasons.append((refused.value.reason, refused.value.fields.get("left")))
    assert reasons[0] == ("wrong_pin", wire.PIN_TRIES - 1)
    assert reasons[-1][0] == "too_many_pins"
    # The right PIN no longer helps.
    with pytest.raises(AppRefused) as refused:
        arig.run(phone.service.enter_pin(code.pin))
    assert refused.value.reason == "too_many_pins"
    arig.dock()
    blocked = arig.pairings()[0]
    assert blocked.state == PairingState.BLOCKED
    assert blocked.blocked_reason == BlockedReason.WRONG_PINS


def test_a_device_pairs_with_one_user(arig: AssistantRig) -> None:
    from bodyworn.controller.users import service as users

    _, phone, _ = pair(arig)
    # The same phone, a second user: the app refuses while it holds a pairing ...
    with arig.ctx.factory() as session, session.begin():
        other = users.create(session, arig.clock, name="Officer Eighteen",
                             user_id="officer-18", actor="test", source="test")
    code = arig.start_pairing(user_uuid=other.uuid)
    with pytest.raises(AppRefused) as refused:
        phone.service.scan(code.text)
    assert refused.value.reason == "device_paired"
    # ... and once the app dropped it, the system still refuses the device for a second
    # user while the first pairing stands (the camera was told at docking).
    arig.dock()
    arig.run(phone.service.forget())
    with arig.link() as link:
        link.configure(user_id="officer-18")
    arig.dock()
    arig.undock()
    phone.service.scan(code.text)
    with pytest.raises(AppRefused) as refused:
        arig.run(phone.service.enter_pin(code.pin))
    assert refused.value.reason == "device_taken"


def test_a_pairing_is_used_on_one_device_only(arig: AssistantRig) -> None:
    _, _, code = pair(arig)
    other = arig.phone("other-phone")
    other.service.scan(code.text)
    with pytest.raises(AppRefused) as refused:
        arig.run(other.service.enter_pin(code.pin))
    assert refused.value.reason == "in_use"


def test_a_removed_pairing_is_refused_after_docking(arig: AssistantRig) -> None:
    _, phone, code = pair(arig)
    arig.dock()
    with arig.ctx.factory() as session, session.begin():
        from bodyworn.controller.assistant_pairing import service

        service.remove(session, arig.clock, arig.user_uuid, code.pairing.pairing_id,
                       actor="root", source="test")
    arig.dock()  # the camera learns the removal
    arig.undock()
    with pytest.raises(AppRefused) as refused:
        arig.run(phone.service.status())
    assert refused.value.reason == "pairing_removed"
    assert arig.pairings() == []
    # The replace flow: forget it on the phone, pair anew.
    arig.run(phone.service.forget())
    assert not phone.service.state().paired
    code = arig.start_pairing()
    arig.dock()
    arig.undock()
    phone.service.scan(code.text)
    assert arig.run(phone.service.enter_pin(code.pin)).user_id == USER_ID


def test_another_camera_of_the_user_accepts_the_paired_device(arig: AssistantRig) -> None:
    from bodyworn.devices.camera import Camera
    from bodyworn.devices.video import ClipRenderer

    _, phone, _ = pair(arig)
    arig.dock()  # the controller learns the device
    second = Camera("B8A44F000002", arig.clock, clip_sink=ClipRenderer(arig.tmp / "cam2"))
    arig.air.add(second)
    arig.station.insert(second)
    from bodyworn.controller.identity.service import public_key_pem, signing_identity

    with arig.ctx.factory() as session:
        identity = signing_identity(session)
        public = public_key_pem(session)
    url = arig.server.camera_url(second.serial)
    with arig.ctx.docklink(url) as link:
        link.add_to_system(identity.system_id, public)
        link.configure(user_id=USER_ID)
    arig.clock.advance(timedelta(seconds=30))
    with arig.ctx.docklink(url) as link:
        Docking(arig.ctx, arig.engine).sync_and_ingest(second.serial, link)
    # The user's first camera stays docked; the second goes out.
    arig.station.take(second)
    arig.clock.advance(timedelta(seconds=30))
    status = arig.run(phone.service.status())
    assert status.serial == second.serial and status.user_id == USER_ID


def test_a_camera_of_another_system_is_not_trusted(arig: AssistantRig) -> None:
    from bodyworn.controller.identity.keys import generate_identity_keypair, public_key_fingerprint
    from bodyworn.wireless.pairing import PairingCode

    code = arig.start_pairing()
    arig.dock()
    arig.undock()
    # The same pairing, but the QR code names another system's identity key.
    _, stranger = generate_identity_keypair()
    forged = PairingCode(code.pairing.pairing_id, public_key_fingerprint(stranger),
                         PairingCode.parse(code.text).secret)
    phone = arig.phone()
    phone.service.scan(forged.to_text())
    with pytest.raises(AppRefused) as refused:
        arig.run(phone.service.enter_pin(code.pin))
    assert refused.value.reason == "untrusted"
    assert not phone.service.state().paired


def test_secrets_are_never_logged(arig: AssistantRig, capsys: pytest.CaptureFixture[str],
                                  caplog: pytest.LogCaptureFixture) -> None:
    from bodyworn.wireless.pairing import PairingCode

    _, phone, code = pair(arig)
    arig.dock()
    out = capsys.readouterr()
    logged = out.out + out.err + caplog.text
    assert "assistant.paired" in logged  # the log was captured at all
    secret = PairingCode.parse(code.text).secret_text
    for value in (code.text, secret, phone.launch_token):
        assert value not in logged
    assert not re.search(rf"(?<!\d){code.pin}(?!\d)", logged)
