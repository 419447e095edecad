"""The system's settings after setup: name, language, date and time, privacy, restore key
download."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bodyworn.controller.audit.service import record
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.events import SettingsChanged, emit
from bodyworn.controller.identity import service as identity
from bodyworn.controller.refusals import Refused
from bodyworn.controller.setup import service as setup
from bodyworn.controller.setup.models import SystemSettings
from bodyworn.controller.setup.service import FieldError, SetupAnswers, SetupInvalid
from bodyworn.domain.clock import Clock, utcnow

# What a change of Settings → Date and time changes (SettingsChanged.keys).
TIME_KEYS = frozenset({"timezone", "time_mode", "ntp_server", "ntp_fallback_server",
                       "manual_offset_seconds"})


def current(session: Session) -> SystemSettings:
    """The system's settings row (exists once setup has finished)."""
    row = session.get(SystemSettings, 1)
    if row is None:
        raise LookupError("the system has not been set up")
    return row


def settings_if_set_up(session: Session) -> SystemSettings | None:
    """The system's settings row, or None before setup."""
    return session.get(SystemSettings, 1)


def rename(session: Session, clock: Clock, name: str, actor: str, source: str) -> SystemSettings:
    """Change the system name (same rules as in setup)."""
    errors = setup.check_system_name(SetupAnswers(system_name=name))
    if errors:
        raise SetupInvalid(errors)
    row = current(session)
    old = row.system_name
    row.system_name = name.strip()
    record(session, clock, actor=actor, action="system.rename",
           detail=f"'{old}' -> '{row.system_name}'", source=source)
    emit(session, SettingsChanged(frozenset({"system_name"})))
    return row


def set_language(session: Session, clock: Clock, language: str, actor: str,
                 source: str) -> SystemSettings:
    """Change the language of the manager (and of notification mail)."""
    errors = setup.check_language(SetupAnswers(language=language))
    if errors:
        raise SetupInvalid(errors)
    row = current(session)
    old = row.language
    row.language = language
    record(session, clock, actor=actor, action="system.language",
           detail=f"{old} -> {language}", source=source)
    # The pages follow through SettingsChanged (app.py).
    emit(session, SettingsChanged(frozenset({"language"})))
    return row


def set_time(
    session: Session,
    clock: Clock,
    *,
    timezone: str,
    time_mode: str,
    ntp_server: str | None,
    ntp_fallback_server: str | None,
    manual_time: datetime | None,
    offset_seconds: float,
    actor: str,
    source: str,
) -> SystemSettings:
    """Change the time zone and time source; the caller has measured or computed the offset."""
    answers = SetupAnswers(
        timezone=timezone, time_mode=time_mode, ntp_server=ntp_server,
        ntp_fallback_server=ntp_fallback_server, manual_time=manual_time,
    )
    errors = setup.check_time(answers)
    if errors:
        raise SetupInvalid(errors)
    row = current(session)
    row.timezone = timezone
    row.time_mode = time_mode
    row.ntp_server = ntp_server if time_mode == "ntp" else None
    row.ntp_fallback_server = ntp_fallback_server if time_mode == "ntp" else None
    row.manual_offset_seconds = offset_seconds
    record(session, clock, actor=actor, action="system.time",
           detail=f"{time_mode}, {timezone}", source=source)
    emit(session, SettingsChanged(TIME_KEYS))
    return row


def set_privacy(
    session: Session, clock: Clock, consent: bool, actor: str, source: str
) -> SystemSettings:
    """Record the usage-data consent (nothing is ever sent anywhere by this system)."""
    row = current(session)
    row.usage_data_consent = consent
    record(session, clock, actor=actor, action="system.privacy",
           detail=f"usage data consent {'on' if consent else 'off'}", source=source)
    emit(session, SettingsChanged(frozenset({"usage_data_consent"})))
    return row


class CloudLocked(Refused):
    """Cloud extensions, once on, stay on with their location until a system reset."""

    def __init__(self) -> None:
        super().__init__("cloud extensions are on; only a system reset turns them off or "
                         "changes the location")


def enable_cloud(
    session: Session, clock: Clock, location: str, actor: str, source: str
) -> SystemSettings:
    """Turn cloud extensions on with a server location; refused when they are already on."""
    row = current(session)
    if row.cloud_extensions:
        raise CloudLocked()
    errors = setup.check_cloud(SetupAnswers(cloud_extensions=True, cloud_location=location))
    if errors:
        raise SetupInvalid(errors)
    row.cloud_extensions = True
    row.cloud_location = location
    record(session, clock, actor=actor, action="system.cloud",
           detail=f"cloud extensions on, location {location}", source=source)
    emit(session, SettingsChanged(frozenset({"cloud_extensions", "cloud_location"})))
    return row


class PassphraseWrong(Refused):
    """The super admin passphrase did not match."""

    status = 403

    def __init__(self, *, keep: bool = False) -> None:
        super().__init__("wrong super admin passphrase", keep=keep)


def restore_key_download(
    session: Session, clock: Clock, passphrase: str, actor: str, source: str
) -> tuple[str, bytes]:
    """A fresh System restore key file, after checking the super admin passphrase.

    A wrong passphrase is audited (and the entry kept).
    """
    row = current(session)
    sealed = identity.sealed_restore_key(session, passphrase, row.system_name,
                                         clock.now().astimezone(UTC))
    if sealed is None:
        record(session, clock, actor=actor, action="restore_key.download",
               outcome="denied", detail="wrong super admin passphrase", source=source)
        raise PassphraseWrong(keep=True)
    system_id, data = sealed
    record(session, clock, actor=actor, action="restore_key.download", source=source)
    return f"bodyworn-restore-key-{system_id}.json", data


def _manual_time(raw: str, timezone: str, now: datetime, *, naive_is_local: bool) -> datetime:
    if not raw.strip():  # empty keeps the system's current time
        raw = now.isoformat()
    try:
        manual = datetime.fromisoformat(raw)
    except ValueError:
        raise SetupInvalid([FieldError("manual_time", "must be a date and time")]) from None
    if manual.tzinfo is None and not naive_is_local:
        raise SetupInvalid([FieldError("manual_time", "must include a time zone offset")])
    if manual.tzinfo is None:
        try:
            manual = manual.replace(tzinfo=ZoneInfo(timezone))
        except (KeyError, ValueError):
            raise SetupInvalid([FieldError("timezone", "must be an IANA time zone")]) from None
    return manual


def _offset(ctx: ControllerContext, answers: SetupAnswers) -> float:
    if answers.time_mode == "manual":
        return setup.clock_offset(answers, utcnow(), None)
    if ctx.ntp is None:
        return 0.0
    try:
        return ctx.ntp(answers.ntp_server or "", answers.ntp_fallback_server)
    except Exception as exc:  # the NTP client's error names both servers
        raise SetupInvalid(setup.ntp_unreachable(exc)) from None


def change_time(ctx: ControllerContext, *, timezone: str, time_mode: str,
                ntp_server: str | None, ntp_fallback_server: str | None, manual_time: str,
                naive_is_local: bool, actor: str, source: str) -> None:
    """Validate, measure (NTP) or compute (manual) the offset, store it and move the clock.

    A manual time must carry its UTC offset, as setup's answers must (the REST API), unless
    the caller says a time without one is local time in `timezone` (`naive_is_local`: the
    page's date-time field, which has no offset). Every caller decides; none by default.
    """
    manual = _manual_time(manual_time, timezone, ctx.clock.now(),
                          naive_is_local=naive_is_local) if time_mode == "manual" else None
    answers = SetupAnswers(timezone=timezone, time_mode=time_mode, ntp_server=ntp_server,
                           ntp_fallback_server=ntp_fallback_server, manual_time=manual)
    errors = setup.check_time(answers)
    if errors:
        raise SetupInvalid(errors)
    offset = _offset(ctx, answers)
    with ctx.factory() as session, session.begin():
        set_time(session, ctx.clock, timezone=timezone, time_mode=time_mode,
                 ntp_server=ntp_server, ntp_fallback_server=ntp_fallback_server,
                 manual_time=manual, offset_seconds=offset, actor=actor, source=source)
    ctx.apply_offset(offset)


def field_errors(exc: SetupInvalid) -> list[FieldError]:
    """The errors of a refused change."""
    return exc.errors
