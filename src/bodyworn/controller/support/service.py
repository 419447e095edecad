"""Support → System report: one zip of what support needs, with every secret removed.

What goes in (docs/operations.md lists it): versions, settings, devices and their last
known state, the dashboard's issues, transfer history, the audit log's tail, how the
clock is kept, the background services, this controller's log files and the last log of
each camera docked here (read now over the dock link when it is docked, else the copy
kept at its last docking).

Secrets are kept out twice. What is exported is chosen field by field, and no password,
key, token, hash or sealed value is among the fields. Then every file, the log files
too, is searched for every secret the controller holds or knows (the secrets key, the
dock port token, the identity key, the content destination's key and connection file,
the SMTP password, the certificates' keys, pending Assistant pairing codes and PINs, the
system backup's key), and each occurrence is replaced by `[removed]`, so that one slipped
into a log line by mistake does not leave with the report either.
"""

from __future__ import annotations

import base64
import io
import json
import platform
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bodyworn import __version__
from bodyworn.controller.assignment import service as assignment
from bodyworn.controller.assistant_pairing import service as assistant_pairing
from bodyworn.controller.audit import service as audit
from bodyworn.controller.audit.service import record
from bodyworn.controller.backup import service as backup
from bodyworn.controller.cameras import service as cameras
from bodyworn.controller.cameras.states import CameraState
from bodyworn.controller.certificates import service as certificates
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.destinations import service as destinations
from bodyworn.controller.docks import service as docks
from bodyworn.controller.firmware import service as firmware
from bodyworn.controller.health import service as health
from bodyworn.controller.identity import service as identity
from bodyworn.controller.identity.models import SystemIdentity
from bodyworn.controller.notifications import service as notifications
from bodyworn.controller.offload import service as offload
from bodyworn.controller.profiles import service as profiles
from bodyworn.controller.system import service as system
from bodyworn.controller.system.timekeeping import time_source
from bodyworn.controller.tokens import service as tokens
from bodyworn.docklink.wire import profile_to_json
from bodyworn.domain.clock import Clock
from bodyworn.logs import LOG_DIR, log_files

log = structlog.get_logger(__name__)
REMOVED = "[removed]"
AUDIT_TAIL = 500
# Shorter values would be removed wherever the same characters happen to appear.
MIN_SECRET = 6


# ---- the secrets ---------------------------------------------------------------------------


def _forms(value: bytes | str) -> set[str]:
    """A secret as it could appear in text: itself, hex, base64, and each line of a PEM."""
    raw = value.encode() if isinstance(value, str) else value
    found = {base64.b64encode(raw).decode(), raw.hex()}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if text:
        found.add(text.strip())
    if "-----BEGIN" in text:  # a key in PEM: each line of it is a piece of the secret
        found |= {line.strip() for line in text.splitlines()
                  if len(line.strip()) >= 16 and not line.startswith("-----")}
    return {f for f in found if len(f) >= MIN_SECRET}


def _database_secrets(session: Session) -> list[bytes | str]:
    found: list[bytes | str] = []
    row = session.get(SystemIdentity, 1)
    if row is not None:
        found.append(identity.private_key_pem(session, row))
    try:
        cf = destinations.current_file(session)
        found += [cf.raw, cf.blob_api_key]
    except LookupError:
        pass
    smtp = notifications.smtp_config(session)
    if smtp is not None and smtp.password:
        found.append(smtp.password)
    found += [certificates.private_key_pem(session, c) for c in certificates.certificates(session)]
    found += assistant_pairing.pending_secrets(session)
    backup_key = backup.key_in_force(session)
    if backup_key is not None:
        found.append(backup_key)
    return found


def known_secrets(ctx: ControllerContext) -> list[str]:
    """Every secret this controller holds, in every form it could be written in, longest
    first (so that a secret inside another is removed with it)."""
    found: list[bytes | str] = [ctx.settings.secrets_key_path.read_bytes(),
                                docks.ensure_token(ctx.data_dir)]
    with ctx.factory() as session:
        found += _database_secrets(session)
    forms: set[str] = set()
    for value in found:
        if value:
            forms |= _forms(value)
    return sorted(forms, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with each secret replaced by [removed]."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REMOVED)
    return text


# ---- what the report holds ----------------------------------------------------------------


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _json(value: Any) -> str:
    return json.dumps(_plain(value), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _columns(row: Any, skip: Iterable[str] = ()) -> dict[str, Any]:
    left_out = set(skip)
    return {c.key: getattr(row, c.key) for c in row.__table__.columns if c.key not in left_out}


def versions(session: Session, system_name: str) -> dict[str, Any]:
    """The software, the system firmware, the installs, every camera's firmware."""
    v = firmware.versions(session, system_name)
    return {"software": f"bodyworn {__version__}", "python": sys.version.split()[0],
            "platform": platform.platform(), "system_firmware": v.system,
            "controllers": v.controllers, "cameras": v.cameras, "firmware_installs": v.history}


def settings(ctx: ControllerContext, session: Session) -> dict[str, Any]:
    """The system's settings, start-up settings, and the operations settings, no secret."""
    startup = ctx.settings.model_dump(mode="json")
    if ctx.settings.database_url:
        startup["database_url"] = make_url(ctx.settings.database_url).render_as_string(
            hide_password=True)
    mail = notifications.current(session)
    try:
        connection: dict[str, object] | None = destinations.current_summary(session)
    except LookupError:
        connection = None
    return {
        "system": _columns(system.current(session)),
        "startup": startup,
        "connection_file": connection,
        "notifications": {**_columns(mail, {"smtp_password_sealed"}),
                          "password_set": mail.smtp_password_sealed is not None},
        "certificates": [_columns(c, {"key_sealed", "chain_pem"})
                         for c in certificates.certificates(session)],
        "api_tokens": [_columns(t, {"token_hash", "hint", "name_key"})
                       for t in tokens.tokens(session)],
        "self_assign_readiness": assignment.policy(session),
        "profiles": {name: profile_to_json(p) for name, p in (
            (name, profiles.camera_profile(session, pid))
            for pid, name in profiles.names_by_id(session).items()) if p is not None},
    }


def devices(session: Session) -> dict[str, Any]:
    """Docking stations and cameras, as last known (a camera's last info included)."""
    return {"stations": docks.list_stations(session),
            "cameras": cameras.list_cameras(session)}


def audit_tail(session: Session) -> list[dict[str, Any]]:
    """The newest entries of the audit log, newest first."""
    return [_columns(e, {"prev_hash"}) for e in audit.latest(session, AUDIT_TAIL)]


def clock_state(ctx: ControllerContext) -> dict[str, Any]:
    """How the clock is kept and what was last found."""
    source = time_source(ctx)
    seen = ctx.health.cd_clock
    return {"now": ctx.clock.now(), "source": source, "last_ntp": ctx.health.ntp,
            "cd_clock": {"cd_time": seen.cd_time, "seen_at": seen.seen_at,
                         "skew_s": seen.skew_s} if seen else None,
            "skew_warning_above_s": ctx.settings.clock_skew_warn_s}


def services_state(ctx: ControllerContext) -> dict[str, Any]:
    """The background services and what they found."""
    services = ctx.services
    return {"started_at": getattr(services, "started_at", None),
            "restarts": getattr(services, "restarts", None),
            "last_restart_reason": getattr(services, "last_reason", None),
            "names": getattr(services, "names", None),
            "cd": ctx.health.cd, "cd_storage_full": ctx.health.cd_storage_full,
            "spool_trouble": ctx.health.spool_trouble, "storage_low": ctx.health.storage_low}


def camera_logs(ctx: ControllerContext) -> dict[str, str]:
    """Each added camera's last log (JSON lines): read now from the docked ones (and kept),
    the copy of its last docking for the others."""
    with ctx.factory() as session:
        known = [(c.serial, c.docked) for c in cameras.list_cameras(session, CameraState.ADDED)]
    found = {}
    for serial, docked in known:
        if docked:
            try:
                client, _row = cameras.client_for(ctx, serial)
            except (LookupError, cameras.CameraRefused):
                client = None
            if client is not None:
                with client:
                    cameras.save_log(ctx, serial, client)
        path = cameras.log_path(ctx.data_dir, serial)
        if path.is_file():
            found[serial] = path.read_text(encoding="utf-8", errors="replace")
    return found


def _files(ctx: ControllerContext, by: str) -> dict[str, str]:
    with ctx.factory() as session:
        identity_row = session.get(SystemIdentity, 1)
        files = {
            "report.json": _json({"generated_at": ctx.clock.now(), "generated_by": by,
                                  "system_name": ctx.system_name,
                                  "system_id": identity_row.system_id if identity_row else None}),
            "versions.json": _json(versions(session, ctx.system_name)),
            "settings.json": _json(settings(ctx, session)),
            "devices.json": _json(devices(session)),
            "transfers.json": _json({"recordings": offload.transfers(session),
                                     "pending": offload.any_pending(session)}),
            "audit.json": _json(audit_tail(session)),
        }
    files["dashboard.json"] = _json(health.in_words(health.build(ctx)))
    files["time.json"] = _json(clock_state(ctx))
    files["services.json"] = _json(services_state(ctx))
    for path in log_files(ctx.data_dir / LOG_DIR):
        files[f"logs/{path.name}"] = path.read_text(encoding="utf-8", errors="replace")
    for serial, text in camera_logs(ctx).items():
        files[f"cameras/{serial}.log"] = text
    return files


def build_report(ctx: ControllerContext, *, actor: str, source: str) -> tuple[str, bytes]:
    """The system report as (file name, zip bytes); the download is audited."""
    files = _files(ctx, actor)
    secrets = known_secrets(ctx)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, text in sorted(files.items()):
            zf.writestr(name, scrub(text, secrets))
    stamp = ctx.clock.now().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    ctx.write(_audited, len(files), actor=actor, source=source)
    log.info("support.system_report", files=len(files), bytes=out.tell())
    return f"bodyworn-system-report-{stamp}.zip", out.getvalue()


def _audited(session: Session, clock: Clock, count: int, *, actor: str, source: str) -> None:
    record(session, clock, actor=actor, action="support.system_report",
           detail=f"{count} files", source=source)
