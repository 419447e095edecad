"""Keeping the controller's clock right after setup: NTP measured again on a schedule.

Setup (and a change on Settings → Date and time) measures the clock once; this runs the
measurement again every `ntp_interval_s` (and once when the controller starts), moves
the controller's clock by the new correction and keeps it for the next start. When the
connection file says ContentDestinationAsNTPServer, the content destination's host is
asked first (the system's own NTP servers are the fallback), whatever the time source
chosen, since the content destination asks every system to keep its time. The outcome,
good or not, is left in the health state for the dashboard and the system report.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import structlog

from bodyworn.controller.context import ControllerContext
from bodyworn.controller.destinations import service as destinations
from bodyworn.controller.health_state import NtpStatus
from bodyworn.controller.system import service as system

log = structlog.get_logger(__name__)
# A correction that moved less than this is not written again.
KEEP_CHANGE_S = 0.001


@dataclass(frozen=True)
class TimeSource:
    """Whom to ask: the server, its fallback, and whether the first is the CD."""

    server: str
    fallback: str | None
    from_cd: bool


def cd_ntp_host(ctx: ControllerContext) -> str | None:
    """The content destination's host when its connection file makes it the NTP server."""
    with ctx.factory() as session:
        try:
            cf = destinations.current_file(session)
        except LookupError:
            return None
    if not cf.content_destination_as_ntp_server or not cf.authentication_token_uris:
        return None
    host = urlsplit(cf.authentication_token_uris[0]).hostname
    if not host:
        return None
    return f"[{host}]" if ":" in host else host


def time_source(ctx: ControllerContext) -> TimeSource | None:
    """Whom the controller takes its time from now (None: manual time, or not set up)."""
    with ctx.factory() as session:
        row = system.settings_if_set_up(session)
        if row is None:
            return None
        mode, server, fallback = row.time_mode, row.ntp_server, row.ntp_fallback_server
    cd_host = cd_ntp_host(ctx)
    if cd_host is not None:
        return TimeSource(cd_host, server, True)
    if mode != "ntp" or not server:
        return None
    return TimeSource(server, fallback, False)


def remeasure(ctx: ControllerContext) -> NtpStatus | None:
    """Measure once, move the clock and keep the correction; what was found (None: the
    time is set by hand, or there is no NTP client)."""
    source = time_source(ctx)
    if source is None or ctx.ntp is None:
        return None
    now = ctx.clock.now()
    try:
        offset = ctx.ntp(source.server, source.fallback)
    except Exception as exc:  # the NTP client's error names the servers it tried
        status = NtpStatus(now, None, None, str(exc) or type(exc).__name__, source.from_cd)
        ctx.health.ntp = status
        log.warning("time.ntp_failed", server=source.server, error=status.error)
        return status
    ctx.apply_offset(offset)
    with ctx.factory() as session, session.begin():
        row = system.settings_if_set_up(session)
        if row is not None and abs(row.manual_offset_seconds - offset) > KEEP_CHANGE_S:
            row.manual_offset_seconds = offset
    status = NtpStatus(now, source.server, offset, None, source.from_cd)
    ctx.health.ntp = status
    log.info("time.ntp_measured", server=source.server, offset_s=round(offset, 6),
             from_cd=source.from_cd)
    return status
