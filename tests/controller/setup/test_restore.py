"""Restoring in the wizard's restore-key step, and unattended: from the System restore key
(the identity only) or from a system backup (identity, settings and data)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from bodyworn.cli import app
from bodyworn.controller.app import build_context
from bodyworn.controller.audit.models import AuditEntry
from bodyworn.controller.backup import service as backup
from bodyworn.controller.backup.targets import BackupInbox
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.identity import service as identity
from bodyworn.controller.identity.models import SystemIdentity
from bodyworn.controller.settings import ControllerSettings
from bodyworn.controller.setup import service, steps
from bodyworn.controller.setup.service import Identity
from bodyworn.controller.users.models import BodyWornUser
from bodyworn.domain.clock import ManualClock
from tests.controller.backup.data import configure_folder, populate, system_view
from tests.controller.conftest import PASSPHRASE, ROOT_PASSWORD, good_answers, set_up
from tests.controller.setup.test_wizard import post, system_rows, token, walk_to

OLD_PASSPHRASE = "the old system's passphrase 1"
runner = CliRunner()


def key_file(clock: ManualClock, passphrase: str = OLD_PASSPHRASE) -> tuple[Identity, bytes]:
    """An old system's identity and its System restore key."""
    old = Identity.generate()
    data = service.restore_key_bytes(good_answers(super_admin_passphrase=passphrase,
                                                  system_name="Old system"), old, clock)
    return old, data


def upload_key(client: TestClient, data: bytes, passphrase: str):
    return client.post("/setup/restore-key/upload",
                       data={"csrf_token": token(client, "/setup/restore-key"),
                             "restore_passphrase": passphrase},
                       files={"restore_key_file": ("key.json", data, "application/json")},
                       follow_redirects=False)


def shown_system_id(client: TestClient) -> str:
    found = re.search(r'id="system-id">([^<]*)<', client.get("/setup/restore-key").text)
    assert found
    return found.group(1)


def finish(client: TestClient, name: str = "Old system", upload: bool = False) -> None:
    """The steps after the restore key (as a person confirms them), then Finish; `upload`:
    the connection file is uploaded (a backup gives it)."""
    for slug, data in (
        ("restore-key", {}),
        ("name", {"system_name": name}),
        ("network", {"listen_host": "127.0.0.1", "listen_port": "8443"}),
        ("time", {"timezone": "Europe/Stockholm", "time_mode": "manual", "manual_time": ""}),
        ("cloud", {"cloud_location": ""}),
        ("destination", {}),
        ("power", {"power_line_frequency": "50"}),
        ("assignment", {"camera_assignment": "fixed"}),
    ):
        files = {"connection_file": ("cd.json", good_answers().connection_file,
                                     "application/json")} \
            if upload and slug == "destination" else None
        r = post(client, slug, data, files)
        assert r.status_code == 303, (slug, r.text[:3000])
    assert 'id="summary-restored"' in client.get("/setup/summary").text
    r = client.post("/setup/finish", data={"csrf_token": token(client, "/setup/summary")},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?setup=done", r.text[:3000]


def test_a_wrong_passphrase_a_changed_byte_or_another_systems_key_is_refused(
        client: TestClient, ctx: ControllerContext, clock: ManualClock) -> None:
    walk_to(client, "restore-key")
    new_id = shown_system_id(client)
    old, data = key_file(clock)
    _, other_system = key_file(clock, passphrase="another system's passphrase")
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0x01
    for attempt, passphrase in ((data, "not the passphrase at all"),
                                (bytes(flipped), OLD_PASSPHRASE),
                                (other_system, OLD_PASSPHRASE),
                                (b"{}", OLD_PASSPHRASE)):
        r = upload_key(client, attempt, passphrase)
        assert r.status_code == 400
        assert 'id="restore_key_file-error"' in r.text
    assert steps.KEY_NOT_OPENED.replace("'", "&#39;") in upload_key(
        client, other_system, OLD_PASSPHRASE).text
    refused = upload_key(client, b"{}", OLD_PASSPHRASE).text
    assert "This file is not a System restore key." in refused
    assert "System restore key file: This file" in refused  # the summary names the field
    assert "restore_key_file:" not in refused
    r = upload_key(client, b"", OLD_PASSPHRASE)
    assert "choose the System restore key file" in r.text
    assert shown_system_id(client) == new_id != old.system_id  # the draft is as it was
    assert system_rows(ctx) == 0


def test_the_uploaded_key_restores_the_identity_and_nothing_else(
        client: TestClient, ctx: ControllerContext, clock: ManualClock) -> None:
    walk_to(client, "restore-key")
    old, data = key_file(clock)
    r = upload_key(client, data, OLD_PASSPHRASE)
    assert r.status_code == 303
    page = client.get("/setup/restore-key").text
    assert 'id="restored"' in page and old.system_id in page
    assert 'id="download-restore-key"' not in page  # the old key stays the one to keep
    assert 'value="Old system"' in client.get("/setup/name").text
    finish(client, upload=True)
    with ctx.factory() as session:
        row = session.get(SystemIdentity, 1)
        assert row is not None and row.system_id == old.system_id
        assert row.public_key_pem == old.public_key_pem
        assert identity.signing_identity(session).private_key_pem == old.private_key_pem
        assert identity.passphrase_matches(session, OLD_PASSPHRASE)
        assert not identity.passphrase_matches(session, PASSPHRASE)
        assert session.scalar(select(func.count()).select_from(BodyWornUser)) == 0
        detail = session.scalars(select(AuditEntry.detail).where(
            AuditEntry.action == "setup.completed")).one()
    assert "identity restored from the System restore key" in detail


def test_a_new_passphrase_after_the_upload_gives_the_restored_identity_up(
        client: TestClient, clock: ManualClock) -> None:
    walk_to(client, "restore-key")
    old, data = key_file(clock)
    assert upload_key(client, data, OLD_PASSPHRASE).status_code == 303
    post(client, "passphrase", {"super_admin_passphrase": PASSPHRASE,
                                "super_admin_passphrase_confirm": PASSPHRASE})
    client.get("/setup/restore-key/download")
    assert shown_system_id(client) != old.system_id


@pytest.fixture
def old_system(tmp_path: Path, clock: ManualClock) -> Iterator[tuple[ControllerContext, bytes]]:
    """A populated system backed up to a folder: the context and the backup's bytes."""
    old = build_context(ControllerSettings(data_dir=tmp_path / "old"), clock=clock)
    set_up(old, system_name="Old system")
    populate(old)
    configure_folder(old, tmp_path / "target")
    assert backup.run_backup(old).ok
    (system_id,) = BackupInbox(tmp_path / "target").systems()
    data = BackupInbox(tmp_path / "target").latest(system_id)
    assert data is not None
    yield old, data
    old.engine.dispose()


def upload_backup(client: TestClient, data: bytes, passphrase: str):
    return client.post("/setup/restore-key/backup",
                       data={"csrf_token": token(client, "/setup/restore-key"),
                             "backup_passphrase": passphrase},
                       files={"backup_file": ("system.bwbackup", data, "application/json")},
                       follow_redirects=False)


def test_the_wizard_restores_a_backup_whole(
        client: TestClient, ctx: ControllerContext,
        old_system: tuple[ControllerContext, bytes]) -> None:
    old, data = old_system
    walk_to(client, "restore-key")
    r = upload_backup(client, data, "a wrong passphrase, surely")
    assert r.status_code == 400 and "passphrase is wrong" in r.text
    changed = data[:100] + bytes([data[100] ^ 1]) + data[101:]
    assert upload_backup(client, changed, PASSPHRASE).status_code == 400
    assert upload_backup(client, data, PASSPHRASE).status_code == 303
    finish(client)
    assert system_view(ctx) == system_view(old)


def test_unattended_restore_from_a_backup_and_from_a_key(
        tmp_path: Path, old_system: tuple[ControllerContext, bytes],
        clock: ManualClock) -> None:
    old, data = old_system
    (tmp_path / "system.bwbackup").write_bytes(data)
    answers = tmp_path / "answers.toml"
    answers.write_text(f'root_password = "{ROOT_PASSWORD}"\n'
                       f'super_admin_passphrase = "wrong passphrase here"\n'
                       'restore_backup = "system.bwbackup"\nsystem_name = "Not allowed"\n')
    target = tmp_path / "restored"
    r = runner.invoke(app, ["controller", "setup", "--data-dir", str(target),
                            "--answers", str(answers)])
    assert r.exit_code == 2 and "system_name: comes from the system backup" in r.output
    answers.write_text(answers.read_text().replace('system_name = "Not allowed"\n', ""))
    r = runner.invoke(app, ["controller", "setup", "--data-dir", str(target),
                            "--answers", str(answers)])
    assert r.exit_code == 2 and "passphrase is wrong" in r.output
    answers.write_text(answers.read_text().replace("wrong passphrase here", PASSPHRASE))
    r = runner.invoke(app, ["controller", "setup", "--data-dir", str(target),
                            "--answers", str(answers)])
    assert r.exit_code == 0, r.output
    assert "restored from a system backup" in r.output
    restored = build_context(ControllerSettings(data_dir=target), clock=clock)
    try:
        assert system_view(restored) == system_view(old)
    finally:
        restored.engine.dispose()
    # From the System restore key: the identity, with the settings the answers give.
    old_identity, key = key_file(clock)
    (tmp_path / "key.json").write_bytes(key)
    answers.write_text(
        f'root_password = "{ROOT_PASSWORD}"\nsuper_admin_passphrase = "{OLD_PASSPHRASE}"\n'
        'restore_key = "key.json"\nsystem_name = "Replaced"\nmanual_time = true\n'
        'connection_file = "cd.json"\n')
    (tmp_path / "cd.json").write_bytes(good_answers().connection_file)
    r = runner.invoke(app, ["controller", "setup", "--data-dir", str(tmp_path / "by-key"),
                            "--answers", str(answers)])
    assert r.exit_code == 0, r.output
    assert old_identity.system_id in r.output and "System restore key" in r.output
