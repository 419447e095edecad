"""Setup rules: each answer's checks, and the one transaction that writes the system."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bodyworn.controller.accounts.models import Account
from bodyworn.controller.audit.models import AuditEntry
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.destinations.models import ContentDestination
from bodyworn.controller.identity.keys import verify_passphrase
from bodyworn.controller.identity.models import SystemIdentity
from bodyworn.controller.setup import service
from bodyworn.controller.setup.models import SystemSettings
from bodyworn.controller.setup.service import Identity
from tests.controller.conftest import PASSPHRASE, good_answers
from tests.domain.connection_factory import connection_file_bytes


def fields(**overrides: object) -> set[str]:
    return {e.field for e in service.validate(good_answers(**overrides))}


def test_good_answers_pass() -> None:
    assert service.validate(good_answers()) == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"language": "xx"}, "language"),
        ({"root_password": "short"}, "root_password"),
        ({"root_password": "password123"}, "root_password"),  # common-password list
        ({"root_password": "x" * 129}, "root_password"),
        ({"root_password_confirm": "something else entirely"}, "root_password_confirm"),
        ({"super_admin_passphrase": "too short"}, "super_admin_passphrase"),
        ({"super_admin_passphrase_confirm": "not the same phrase"},
         "super_admin_passphrase_confirm"),
        ({"super_admin_passphrase": "correct horse battery staple"}, "super_admin_passphrase"),
        ({"system_name": ""}, "system_name"),
        ({"system_name": "n" * 65}, "system_name"),
        ({"system_name": "bad\x07name"}, "system_name"),
        ({"listen_host": "not a host!"}, "listen_host"),
        ({"listen_port": 0}, "listen_port"),
        ({"listen_port": 70000}, "listen_port"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"time_mode": "sundial"}, "time_mode"),
        ({"time_mode": "ntp", "ntp_server": None}, "ntp_server"),
        ({"time_mode": "ntp", "ntp_server": "bad host!"}, "ntp_server"),
        ({"time_mode": "ntp", "ntp_server": "ntp.example", "ntp_fallback_server": "bad host!"},
         "ntp_fallback_server"),
        ({"manual_time": None}, "manual_time"),
        ({"manual_time": datetime(2026, 1, 1, 12, 0)}, "manual_time"),  # naive
        ({"manual_time": datetime(1, 1, 1, tzinfo=UTC)}, "manual_time"),
        ({"manual_time": datetime(2100, 1, 1, tzinfo=UTC)}, "manual_time"),
        ({"cloud_extensions": True, "cloud_location": None}, "cloud_location"),
        ({"cloud_extensions": True, "cloud_location": "moon"}, "cloud_location"),
        ({"cloud_extensions": False, "cloud_location": "global"}, "cloud_location"),
        ({"connection_file": b""}, "connection_file"),
        ({"connection_file": b"{not json"}, "connection_file.file"),
        ({"connection_file": connection_file_bytes(SiteName="s" * 65)},
         "connection_file.SiteName"),
        ({"power_line_frequency": 55}, "power_line_frequency"),
        ({"camera_assignment": "random"}, "camera_assignment"),
    ],
)
def test_each_rule_names_its_field(overrides: dict[str, object], field: str) -> None:
    assert field in fields(**overrides)


def test_long_passwords_without_composition_rules_pass() -> None:
    assert fields(root_password="all lowercase words only here") == set()
    assert fields(root_password="p" * 60 + "q" * 4) == set()  # 64 characters


def test_every_error_is_listed_at_once() -> None:
    found = fields(language="xx", system_name="", power_line_frequency=1, camera_assignment="?")
    assert {"language", "system_name", "power_line_frequency", "camera_assignment"} <= found


def _counts(ctx: ControllerContext) -> dict[str, int]:
    with ctx.factory() as s:
        return {m.__tablename__: s.scalar(select(func.count()).select_from(m)) or 0
                for m in (SystemSettings, SystemIdentity, ContentDestination, Account, AuditEntry)}


def test_commit_writes_the_whole_system(ctx: ControllerContext) -> None:
    identity = Identity.generate()
    service.commit(ctx.factory, ctx.clock, good_answers(), identity, offset_seconds=3.5,
                   source="test")
    assert set(_counts(ctx).values()) == {1}
    with ctx.factory() as s:
        row = s.get(SystemSettings, 1)
        ident = s.get(SystemIdentity, 1)
        assert row is not None and ident is not None
        assert row.system_id == ident.system_id == identity.system_id
        assert row.manual_offset_seconds == 3.5
        assert verify_passphrase(ident.passphrase_hash, PASSPHRASE)
        root = s.scalars(select(Account)).one()
        assert root.username == "root" and root.password_hash.startswith("$argon2id$")


def test_invalid_answers_write_nothing(ctx: ControllerContext) -> None:
    with pytest.raises(service.SetupInvalid) as exc:
        service.commit(ctx.factory, ctx.clock, good_answers(power_line_frequency=42),
                       Identity.generate(), offset_seconds=0, source="test")
    assert exc.value.errors[0].field == "power_line_frequency"
    assert set(_counts(ctx).values()) == {0}


def test_a_failure_inside_the_transaction_leaves_nothing(
    ctx: ControllerContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(service, "create_account", boom)
    with pytest.raises(RuntimeError):
        service.commit(ctx.factory, ctx.clock, good_answers(), Identity.generate(),
                       offset_seconds=0, source="test")
    assert set(_counts(ctx).values()) == {0}


def test_setup_runs_once(ctx: ControllerContext) -> None:
    service.commit(ctx.factory, ctx.clock, good_answers(), Identity.generate(),
                   offset_seconds=0, source="test")
    with pytest.raises(service.AlreadySetUp):
        service.commit(ctx.factory, ctx.clock, good_answers(), Identity.generate(),
                       offset_seconds=0, source="test")


@pytest.mark.parametrize("name", ["Depot\u202e", "\u2067Depot", "De\u200fpot", "De\x00pot"])
def test_setup_refuses_a_system_name_with_control_characters(name: str) -> None:
    assert service.check_system_name(good_answers(system_name=name)) == [
        service.FieldError("system_name", "must not contain control characters")]


def test_setup_refuses_a_connection_file_with_credentials_in_a_uri() -> None:
    answers = good_answers(connection_file=connection_file_bytes(
        AuthenticationTokenURI=["https://user:pw@cd.example.test:8443/auth/v1.0"]))
    assert service.check_connection_file(answers) == [service.FieldError(
        "connection_file.AuthenticationTokenURI[0]", "no user name or password in the URI")]
