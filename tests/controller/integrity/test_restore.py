"""Restore paths and the binding: a system restored from its backup is the same connection to
its CD; one restored from its System restore key alone is a new one, and refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from bodyworn.controller.app import build_context
from bodyworn.controller.backup import format as fmt
from bodyworn.controller.backup import service as backup
from bodyworn.controller.backup.targets import BackupInbox
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.destinations.service import current_file
from bodyworn.controller.health import service as health
from bodyworn.controller.identity import service as identity
from bodyworn.controller.integrity import service as integrity
from bodyworn.controller.integrity.models import IntegrityState
from bodyworn.controller.settings import ControllerSettings
from bodyworn.controller.setup import service as setup
from bodyworn.controller.setup.service import Identity
from bodyworn.domain.clock import utcnow
from tests.controller.backup.data import configure_folder
from tests.controller.conftest import PASSPHRASE, set_up
from tests.controller.integrity.conftest import IntegrityRig


@pytest.fixture
def fresh(irig: IntegrityRig) -> Iterator[ControllerContext]:
    """The replacement controller, new, in its own data directory, on the same clock."""
    other = build_context(ControllerSettings(data_dir=irig.tmp / "replacement"),
                          clock=irig.clock)
    yield other
    other.engine.dispose()


def _bound(rig: IntegrityRig) -> str:
    """Bind the rig's controller to its CD; its ConnectionId."""
    assert integrity.recheck_binding(rig.ctx, rig.cd_client).state is \
        integrity.BindingState.BOUND
    with rig.ctx.factory() as session:
        row = session.get(IntegrityState, 1)
        assert row is not None
        return row.connection_id


def _backup(rig: IntegrityRig) -> bytes:
    configure_folder(rig.ctx, rig.tmp / "backups")
    outcome = backup.run_backup(rig.ctx)
    assert outcome.ok, outcome.detail
    data = BackupInbox(rig.tmp / "backups").latest(rig.system_id())
    assert data is not None
    return data


def _restore(ctx: ControllerContext, data: bytes) -> None:
    """What the wizard and unattended setup do with a backup file."""
    contents = backup.open_backup(data, PASSPHRASE)
    answers = setup.SetupAnswers(root_password="another fine root password 9",
                                 super_admin_passphrase=PASSPHRASE)
    backup.fill_answers(contents, answers, utcnow())
    row = setup.commit(ctx.factory, ctx.clock, answers, backup.identity_of(contents),
                       offset_seconds=0.0, source="test", then=backup.restorer(contents),
                       restored=backup.RESTORED_FROM_BACKUP)
    ctx.apply_system(row)


def _anchor(rig: IntegrityRig, ctx: ControllerContext) -> integrity.AnchorStatus:
    async def go(cd):  # type: ignore[no-untyped-def]
        await integrity.ensure_bound(ctx, cd)
        return await integrity.anchor_if_due(ctx, cd, every=timedelta(0))

    return rig.run(go)  # type: ignore[return-value]


def test_a_system_restored_from_its_backup_keeps_its_binding(
        irig: IntegrityRig, fresh: ControllerContext) -> None:
    connection_id = _bound(irig)
    assert _anchor(irig, irig.ctx).last_seq == 1
    _restore(fresh, _backup(irig))
    with fresh.factory() as session:
        row = session.get(IntegrityState, 1)
        assert row is not None and row.connection_id == connection_id
        assert integrity.identity_summary(session, fresh.clock)["fingerprint_sha256"] == \
            integrity.status(irig.ctx)["fingerprint_sha256"]
    found = integrity.recheck_binding(fresh, irig.cd_client)
    assert found.state is integrity.BindingState.BOUND, found.detail
    assert integrity.delivery_allowed(fresh)
    # Its audit log is a new one (backups hold no log): the CD's anchor 1 is the old
    # log's, so anchoring stops and says so (docs/integrity.md, Limits).
    status = _anchor(irig, fresh)
    assert "a restored or rewritten database" in status.conflict


def test_a_backup_whose_certificate_is_not_the_systems_restores_nothing(
        irig: IntegrityRig, fresh: ControllerContext) -> None:
    _bound(irig)
    data = _backup(irig)
    with irig.ctx.factory() as session:
        key = backup._stored_key(session, session.get(backup.BackupSettings, 1))  # type: ignore[arg-type]
    _, payload = fmt.open_sealed(data, PASSPHRASE)
    payload["integrity"]["certificate_pem"] = _foreign_certificate(irig)
    forged = fmt.seal(payload, key, system_id=payload["system_id"],
                      created_at=fmt.parse_utc(payload["created_at"], "time"))
    with pytest.raises(fmt.BackupFileError, match="do not hold together"):
        _restore(fresh, forged)
    assert not fresh.set_up


def test_a_system_restored_from_its_restore_key_alone_is_refused_by_its_cd(
        irig: IntegrityRig, fresh: ControllerContext) -> None:
    _bound(irig)
    with irig.ctx.factory() as session:
        signing = identity.signing_identity(session)
        same = Identity(signing.system_id, signing.private_key_pem,
                        identity.public_key_pem(session).encode("ascii"))
        raw = current_file(session).raw
    set_up(fresh, same, connection_file=raw)
    # The same system, but a new connection: the CD holds the old one, so nothing goes.
    found = integrity.recheck_binding(fresh, irig.cd_client)
    assert found.state is integrity.BindingState.REFUSED
    assert not integrity.delivery_allowed(fresh)
    issues = {i.kind: i.message for i in health.build(fresh).issues}
    assert "another connection" in issues["cd_binding_refused"]


def _foreign_certificate(rig: IntegrityRig) -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from bodyworn.evidence.signing import pem, system_certificate

    cert = system_certificate(Ed25519PrivateKey.generate(), rig.system_id(), rig.clock.now())
    return pem(cert).decode("ascii")
