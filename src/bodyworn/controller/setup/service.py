"""First-run setup: validate every answer, then write the whole system in one transaction."""

from __future__ import annotations

import ipaddress
import re
import uuid
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bodyworn.controller.accounts.service import ROOT, create_account
from bodyworn.controller.audit.service import record
from bodyworn.controller.clock.ntp import NtpError, split_server
from bodyworn.controller.destinations import service as destinations
from bodyworn.controller.events import SettingsChanged, emit
from bodyworn.controller.identity import service as identities
from bodyworn.controller.identity.keys import (
    generate_identity_keypair,
    validate_passphrase,
)
from bodyworn.controller.identity.restore_key import seal_restore_key
from bodyworn.controller.ports import FirmwareInstaller, NtpMeasurer
from bodyworn.controller.refusals import FieldError as FieldError  # for setup's callers
from bodyworn.controller.refusals import FieldsRefused
from bodyworn.controller.setup.models import SystemSettings
from bodyworn.domain.clock import Clock, utcnow
from bodyworn.domain.connection_file import (
    ConnectionFile,
    ConnectionFileError,
    parse_connection_file,
)
from bodyworn.domain.passwords import password_problems
from bodyworn.domain.text import has_control_characters
from bodyworn.firmware.bundle import Bundle
from bodyworn.i18n.catalog import LANGUAGES

# Where cloud extension data may be kept (the manual's three regions).
CLOUD_LOCATIONS: dict[str, str] = {
    "global": "Global",
    "eu-de": "Europe (Germany)",
    "us-east": "North America (US)",
}
POWER_LINE_FREQUENCIES = (50, 60)
CAMERA_ASSIGNMENTS = ("fixed", "self-assign")
TIME_MODES = ("ntp", "manual")
SYSTEM_NAME_MAX = 64
MANUAL_TIME_RANGE = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2099, 12, 31, 23, 59, tzinfo=UTC))
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")


class SetupInvalid(FieldsRefused):
    """Answers that break rules; nothing was written."""

    errors: list[FieldError]


class AlreadySetUp(Exception):
    """The system has been set up; only a reset starts setup again."""


# Everything setup decides (SettingsChanged.keys when it commits).
SETUP_KEYS = frozenset({
    "language", "system_name", "listen_host", "listen_port", "timezone", "time_mode",
    "ntp_server", "ntp_fallback_server", "manual_offset_seconds", "cloud_extensions",
    "cloud_location", "connection_file", "power_line_frequency", "camera_assignment",
})


@dataclass
class SetupAnswers:
    """Everything the wizard (or an answers file) decides about a new system."""

    language: str = "en"
    root_password: str = ""
    root_password_confirm: str | None = None
    super_admin_passphrase: str = ""
    super_admin_passphrase_confirm: str | None = None
    system_name: str = ""
    listen_host: str = "127.0.0.1"
    listen_port: int = 8443
    timezone: str = "UTC"
    time_mode: str = "ntp"
    ntp_server: str | None = None
    ntp_fallback_server: str | None = None
    manual_time: datetime | None = None
    cloud_extensions: bool = False
    cloud_location: str | None = None
    connection_file: bytes = b""
    power_line_frequency: int = 50
    camera_assignment: str = "fixed"


@dataclass
class Identity:
    """The identity made for a new system before it is committed."""

    system_id: str
    private_key_pem: bytes
    public_key_pem: bytes

    @classmethod
    def generate(cls) -> Identity:
        """A fresh system ID and identity key pair."""
        private_pem, public_pem = generate_identity_keypair()
        return cls(str(uuid.uuid4()), private_pem, public_pem)


@cache
def timezones() -> tuple[str, ...]:
    """The IANA time zones this machine knows."""
    return tuple(sorted(zoneinfo.available_timezones()))


def _hostname_ok(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return bool(_HOSTNAME.match(value))


def _ntp_server_ok(value: str) -> bool:
    """A host name or address, optionally with a port (host:port, [v6]:port)."""
    try:
        host, port = split_server(value, 123)
    except NtpError:
        return False
    return 1 <= port <= 65535 and _hostname_ok(host)


# Each step's checks; the wizard runs one step's, unattended setup runs them all.


def check_language(a: SetupAnswers) -> list[FieldError]:
    """The language must be one with a catalog."""
    if a.language not in LANGUAGES:
        return [FieldError("language", f"must be one of {', '.join(LANGUAGES)}")]
    return []


def check_admin(a: SetupAnswers) -> list[FieldError]:
    """The root password follows the password rules and was typed the same twice."""
    errors = [FieldError("root_password", p) for p in password_problems(a.root_password, ROOT)]
    if a.root_password_confirm is not None and a.root_password_confirm != a.root_password:
        errors.append(FieldError("root_password_confirm", "does not match the password"))
    return errors


def check_passphrase(a: SetupAnswers) -> list[FieldError]:
    """The super admin passphrase follows its rules and was typed the same twice."""
    errors = [
        FieldError("super_admin_passphrase", p)
        for p in validate_passphrase(a.super_admin_passphrase)
    ]
    if a.super_admin_passphrase == a.root_password and a.root_password:
        errors.append(FieldError("super_admin_passphrase", "must differ from the root password"))
    if (
        a.super_admin_passphrase_confirm is not None
        and a.super_admin_passphrase_confirm != a.super_admin_passphrase
    ):
        errors.append(FieldError("super_admin_passphrase_confirm", "does not match the passphrase"))
    return errors


def check_system_name(a: SetupAnswers) -> list[FieldError]:
    """A non-empty name of at most 64 characters, without control characters."""
    name = a.system_name.strip()
    if not name:
        return [FieldError("system_name", "is required")]
    if len(name) > SYSTEM_NAME_MAX:
        return [FieldError("system_name", f"must be at most {SYSTEM_NAME_MAX} characters")]
    if has_control_characters(name):
        return [FieldError("system_name", "must not contain control characters")]
    return []


def check_network(a: SetupAnswers) -> list[FieldError]:
    """A listening address (IP or host name) and a TCP port."""
    errors = []
    if not a.listen_host or not _hostname_ok(a.listen_host):
        errors.append(FieldError("listen_host", "must be an IP address or a host name"))
    if not isinstance(a.listen_port, int) or not 1 <= a.listen_port <= 65535:
        errors.append(FieldError("listen_port", "must be a port number from 1 to 65535"))
    return errors


def check_time(a: SetupAnswers) -> list[FieldError]:
    """An IANA time zone, and either NTP servers or a manual time."""
    errors = []
    if a.timezone not in timezones():
        errors.append(FieldError("timezone", "must be an IANA time zone such as Europe/Stockholm"))
    if a.time_mode not in TIME_MODES:
        errors.append(FieldError("time_mode", "must be ntp or manual"))
    elif a.time_mode == "ntp":
        if not a.ntp_server or not _ntp_server_ok(a.ntp_server):
            errors.append(FieldError("ntp_server", "must be a host name or IP address"))
        if a.ntp_fallback_server and not _ntp_server_ok(a.ntp_fallback_server):
            errors.append(FieldError("ntp_fallback_server", "must be a host name or IP address"))
    else:
        if a.manual_time is None:
            errors.append(FieldError("manual_time", "is required with manual time"))
        elif a.manual_time.tzinfo is None:
            errors.append(FieldError("manual_time", "must include a time zone offset"))
        elif not MANUAL_TIME_RANGE[0] <= a.manual_time <= MANUAL_TIME_RANGE[1]:
            # A clock set decades off would stamp evidence wrongly and break time arithmetic.
            errors.append(FieldError("manual_time", "must be between the years 2000 and 2099"))
    return errors


def check_cloud(a: SetupAnswers) -> list[FieldError]:
    """A cloud server location is required exactly when cloud extensions are on."""
    if a.cloud_extensions and a.cloud_location not in CLOUD_LOCATIONS:
        return [FieldError("cloud_location", f"must be one of {', '.join(CLOUD_LOCATIONS)}")]
    if not a.cloud_extensions and a.cloud_location:
        return [FieldError("cloud_location", "only applies with cloud extensions on")]
    return []


def check_connection_file(a: SetupAnswers) -> list[FieldError]:
    """The content destination connection file follows the specification."""
    if not a.connection_file:
        return [FieldError("connection_file", "is required")]
    try:
        # Certificates are judged by the host's clock, the one TLS checks them with.
        parse_connection_file(a.connection_file, now=utcnow())
    except ConnectionFileError as exc:
        return [FieldError(f"connection_file.{e.field}", e.rule) for e in exc.errors]
    return []


def connection_file_warnings(a: SetupAnswers) -> list[str]:
    """What the connection file leaves out that the specification requires, as sentences.

    Empty when there is no file or it is refused (its errors say why).
    """
    if not a.connection_file:
        return []
    try:
        return [str(w) for w in parse_connection_file(a.connection_file).warnings]
    except ConnectionFileError:
        return []


def check_power_line(a: SetupAnswers) -> list[FieldError]:
    """50 or 60 Hz."""
    if a.power_line_frequency not in POWER_LINE_FREQUENCIES:
        return [FieldError("power_line_frequency", "must be 50 or 60")]
    return []


def check_assignment(a: SetupAnswers) -> list[FieldError]:
    """Fixed or self-assign."""
    if a.camera_assignment not in CAMERA_ASSIGNMENTS:
        return [FieldError("camera_assignment", "must be fixed or self-assign")]
    return []


ALL_CHECKS: tuple[Callable[[SetupAnswers], list[FieldError]], ...] = (
    check_language,
    check_admin,
    check_passphrase,
    check_system_name,
    check_network,
    check_time,
    check_cloud,
    check_connection_file,
    check_power_line,
    check_assignment,
)


def validate(answers: SetupAnswers) -> list[FieldError]:
    """Every rule every answer breaks."""
    errors: list[FieldError] = []
    for check in ALL_CHECKS:
        errors.extend(check(answers))
    return errors


NTP_UNREACHABLE = "ntp_unreachable"
OFFLINE_ADVICE = ("No NTP server answered. A site without internet access should use Manual "
                  "time, or an NTP server on its own network (give its address as the NTP "
                  "server).")


def ntp_unreachable(exc: Exception) -> list[FieldError]:
    """What to say when no NTP server answered: which, and what an offline site does."""
    return [FieldError("ntp_server", f"did not answer: {exc}"),
            FieldError(NTP_UNREACHABLE, OFFLINE_ADVICE)]


def clock_offset(answers: SetupAnswers, host_now: datetime, ntp: NtpMeasurer | None) -> float:
    """The correction to the host clock the answers ask for, in seconds."""
    if answers.time_mode == "manual":
        assert answers.manual_time is not None
        return (answers.manual_time.astimezone(UTC) - host_now).total_seconds()
    if ntp is None:
        return 0.0
    assert answers.ntp_server is not None
    return ntp(answers.ntp_server, answers.ntp_fallback_server)


def is_set_up(session: Session) -> bool:
    """True once setup has committed."""
    return session.scalars(select(SystemSettings.id)).first() is not None


def restore_key_bytes(answers: SetupAnswers, identity: Identity, clock: Clock) -> bytes:
    """The System restore key file for a system being set up."""
    return seal_restore_key(
        private_key_pem=identity.private_key_pem,
        public_key_pem=identity.public_key_pem,
        system_id=identity.system_id,
        system_name=answers.system_name.strip() or "(not named yet)",
        created_at=clock.now(),
        passphrase=answers.super_admin_passphrase,
    )


def commit(
    factory: sessionmaker[Session],
    clock: Clock,
    answers: SetupAnswers,
    identity: Identity,
    *,
    offset_seconds: float,
    source: str,
    then: Callable[[Session, Clock], None] | None = None,
    restored: str = "",
    firmware: Bundle | None = None,
    installer: FirmwareInstaller | None = None,
) -> SystemSettings:
    """Validate everything again and write the whole system in one transaction.

    `then` writes more in the same transaction (what a system backup restores);
    `restored` says where the identity came from, for the audit log; `firmware`: a
    verified bundle to install with the system through `installer` (any version: a new
    system is the way back to an older one).
    """
    errors = validate(answers)
    if errors:
        raise SetupInvalid(errors)
    connection: ConnectionFile = parse_connection_file(answers.connection_file)
    now = clock.now()
    if firmware is not None and installer is None:
        raise ValueError("a firmware install needs the installer")
    with factory() as session, session.begin():
        if is_set_up(session):
            raise AlreadySetUp()
        settings = SystemSettings(
            id=1,
            system_id=identity.system_id,
            system_name=answers.system_name.strip(),
            language=answers.language,
            timezone=answers.timezone,
            time_mode=answers.time_mode,
            ntp_server=answers.ntp_server if answers.time_mode == "ntp" else None,
            ntp_fallback_server=(
                answers.ntp_fallback_server if answers.time_mode == "ntp" else None
            ),
            manual_offset_seconds=offset_seconds,
            listen_host=answers.listen_host,
            listen_port=answers.listen_port,
            cloud_extensions=answers.cloud_extensions,
            cloud_location=answers.cloud_location if answers.cloud_extensions else None,
            power_line_frequency=answers.power_line_frequency,
            camera_assignment=answers.camera_assignment,
            usage_data_consent=False,
            created_at=now,
        )
        session.add(settings)
        identities.create(session, system_id=identity.system_id,
                          private_key_pem=identity.private_key_pem,
                          public_key_pem=identity.public_key_pem,
                          passphrase=answers.super_admin_passphrase, now=now)
        destinations.lock_to(session, connection, now)
        create_account(session, clock, ROOT, answers.root_password)
        record(
            session,
            clock,
            actor=ROOT,
            action="setup.completed",
            detail=(
                f"system {identity.system_id} '{settings.system_name}', "
                f"assignment {settings.camera_assignment}"
                + (f"; identity restored from {restored}" if restored else "")
            ),
            source=source,
        )
        if then is not None:
            then(session, clock)
        if firmware is not None and installer is not None:
            installer.install_in_setup(session, clock, firmware, actor=ROOT, source=source)
        emit(session, SettingsChanged(SETUP_KEYS))
    return settings


def offset_timedelta(seconds: float) -> timedelta:
    """Seconds as a timedelta."""
    return timedelta(seconds=seconds)


@dataclass
class UnattendedResult:
    """What unattended setup produced."""

    system_id: str
    restore_key_path: Path | None  # None: restored, the old System restore key stays valid
    warnings: list[str] = field(default_factory=list)
    restored_from: str = ""
