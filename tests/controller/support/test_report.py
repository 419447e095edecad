"""Support → System report: a zip of what support needs, and no secret in any of it."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Iterator

import pytest
import structlog

from bodyworn.controller.backup import service as backup
from bodyworn.controller.destinations.service import current_file
from bodyworn.controller.docks.service import ensure_token
from bodyworn.controller.identity.models import SystemIdentity
from bodyworn.controller.identity.service import private_key_pem
from bodyworn.logs import LOG_DIR, configure_logging, log_to_file, stop_logging_to_file
from tests.controller.backup.data import configure_folder
from tests.controller.conftest import PASSPHRASE, ROOT_PASSWORD
from tests.controller.device_rig import SERIALS, Rig

A, B, _ = SERIALS
SMTP_PASSWORD = "Smtp-Secret-4711-Harbour"


@pytest.fixture
def logging_to_file(synced_rig: Rig) -> Iterator[Rig]:
    configure_logging("info")
    log_to_file(synced_rig.ctx.data_dir / LOG_DIR)
    try:
        yield synced_rig
    finally:
        stop_logging_to_file()


def _secrets_of(rig: Rig, extra: list[str]) -> dict[str, str]:
    """Every secret the test knows, by what it is (in the forms it could be written in)."""
    ctx = rig.ctx
    with ctx.factory() as session:
        identity_pem = private_key_pem(session, session.get(SystemIdentity, 1))
        cd_key = current_file(session).blob_api_key
    key = ctx.settings.secrets_key_path.read_bytes()
    pem_lines = [line for line in identity_pem.decode().splitlines()
                 if not line.startswith("-----")]
    found = {
        "root password": ROOT_PASSWORD, "super admin passphrase": PASSPHRASE,
        "smtp password": SMTP_PASSWORD, "dock port token": ensure_token(ctx.data_dir),
        "secrets key (hex)": key.hex(), "secrets key (base64)": base64.b64encode(key).decode(),
        "content destination key": cd_key,
    }
    found.update({f"identity key line {i}": line for i, line in enumerate(pem_lines)})
    found.update({f"given {i}": value for i, value in enumerate(extra)})
    return found


def _zip(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name).decode("utf-8") for name in zf.namelist()}


def test_the_report_holds_what_support_needs_and_no_secret(logging_to_file: Rig) -> None:
    rig = logging_to_file
    rig.add(A)
    rig.add(B)
    # B docks again as an added camera (its on-dock sync keeps its log), then leaves.
    rig.undock(B)
    with rig.server.lock:
        rig.station.insert(rig.cameras[B])
    rig.reporter.flush()
    rig.settle()
    assert rig.ctx.docking is not None
    rig.ctx.docking.wait()
    rig.undock(B)
    user = rig.user("Officer Seventeen", "officer-17")
    pairing = rig.api("POST", f"/api/v1/users/{user}/assistant-pairings",
                      json={"mode": "local"}).json()
    token = rig.api("POST", "/api/v1/tokens", json={"name": "grafana", "access": "read"}
                    ).json()["token"]
    r = rig.api("PUT", "/api/v1/notifications/smtp", json={
        "host": "smtp.example.org", "port": 587, "security": "starttls", "username": "bw",
        "password": SMTP_PASSWORD, "from_address": "bodyworn@example.org"})
    assert r.status_code == 200, r.text
    cert = rig.api("POST", "/api/v1/certificates", json={
        "name": "web", "common_name": "localhost", "hosts": ["localhost"],
        "key_type": "ecdsa-p256", "days": 30})
    assert cert.status_code == 201, cert.text
    configure_folder(rig.ctx, rig.ctx.data_dir.parent / "backup-target")
    with rig.ctx.factory() as session:
        backup_key = backup.key_in_force(session)
    assert backup_key is not None
    # A secret slipped into a log line by mistake must not leave with the report either.
    structlog.get_logger("test").warning("oops", leaked=SMTP_PASSWORD,
                                         token=ensure_token(rig.ctx.data_dir))
    secrets = _secrets_of(rig, [token, pairing["pin"], pairing["qr_text"], backup_key.hex(),
                                base64.b64encode(backup_key).decode()])

    r = rig.api("POST", "/api/v1/support/system-report")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"].startswith(
        'attachment; filename="bodyworn-system-report-')
    files = _zip(r.content)
    for name, text in files.items():
        for what, secret in secrets.items():
            assert secret not in text, f"{what} in {name}"
    assert {"report.json", "versions.json", "settings.json", "devices.json", "transfers.json",
            "audit.json", "dashboard.json", "time.json", "services.json",
            "logs/controller.log", f"cameras/{A}.log", f"cameras/{B}.log"} <= set(files)
    versions = json.loads(files["versions.json"])
    assert versions["software"] == "bodyworn 0.1.0" and versions["system_firmware"]
    settings = json.loads(files["settings.json"])
    assert settings["notifications"]["password_set"] is True
    assert "smtp_password_sealed" not in settings["notifications"]
    assert [t["name"] for t in settings["api_tokens"]] == ["grafana"]
    assert settings["system"]["system_name"] == "North precinct"
    board = json.loads(files["dashboard.json"])
    titles = [d["lamp"]["title"] for g in ("controllers", "stations", "cameras") for d in board[g]]
    assert "1 of 8 bays in use" in titles, titles  # said in words, the places filled
    assert not [t for t in titles if "%(" in t]
    assert not [i for i in board["issues"] if "%(" in i["message"]]
    devices = json.loads(files["devices.json"])
    assert {c["serial"] for c in devices["cameras"]} == {A, B}
    assert "[removed]" in files["logs/controller.log"]
    assert '"event": "oops"' in files["logs/controller.log"]
    # A is docked (read now), B left (the copy kept at its docking).
    for serial in (A, B):
        lines = [json.loads(line) for line in files[f"cameras/{serial}.log"].splitlines()]
        assert any(e["message"].startswith("docked") for e in lines)
    actions = [e["action"] for e in json.loads(files["audit.json"])]
    assert {"token.create", "notifications.smtp", "assistant.pair.start"} <= set(actions)
    audit = rig.client.get("/api/v1/audit").json()
    assert audit[0]["action"] == "support.system_report"


def test_the_page_downloads_it_and_a_read_only_token_may_not(synced_rig: Rig) -> None:
    rig = synced_rig
    page = rig.client.get("/support/system-report")
    assert page.status_code == 200 and 'id="download-report"' in page.text
    r = rig.client.post("/support/system-report", data={"csrf_token": rig.csrf})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert "versions.json" in _zip(r.content)
    token = rig.api("POST", "/api/v1/tokens", json={"name": "ro", "access": "read"}
                    ).json()["token"]
    r = rig.client.post("/api/v1/support/system-report",
                        headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
