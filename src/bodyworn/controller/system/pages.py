"""Settings → System name, Date and time, Privacy; Support → System restore key."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from bodyworn.controller.audit.service import record
from bodyworn.controller.context import ControllerContext, ctx_of, render, source_of
from bodyworn.controller.setup import service as setup
from bodyworn.controller.setup.service import FieldError, SetupInvalid
from bodyworn.controller.system import service
from bodyworn.domain.clock import utcnow

router = APIRouter(include_in_schema=False)


def _settings(ctx: ControllerContext) -> Any:
    with ctx.factory() as session:
        return service.current(session)


@router.get("/settings")
async def settings_home(request: Request) -> Response:
    """Settings opens on the system name page."""
    return await system_page(request)


@router.get("/settings/system")
async def system_page(request: Request, errors: list[FieldError] | None = None,
                      saved: bool = False) -> Response:
    """Settings → System name."""
    row = await run_in_threadpool(_settings, ctx_of(request))
    return render(request, "system/name.html", {
        "s": row, "errors": {e.field: e.message for e in errors or []}, "saved": saved,
    }, status_code=400 if errors else 200)


@router.post("/settings/system")
async def system_submit(request: Request, system_name: str = Form("")) -> Response:
    """Rename the system."""
    ctx = ctx_of(request)

    def work() -> None:
        with ctx.factory() as session, session.begin():
            service.rename(session, ctx.clock, system_name, request.state.account.username,
                           source_of(request))

    try:
        await run_in_threadpool(work)
    except SetupInvalid as exc:
        return await system_page(request, exc.errors)
    ctx.system_name = system_name.strip()
    return await system_page(request, saved=True)


@router.get("/settings/time")
async def time_page(request: Request, errors: list[FieldError] | None = None,
                    saved: bool = False) -> Response:
    """Settings → Date and time."""
    ctx = ctx_of(request)
    row = await run_in_threadpool(_settings, ctx)
    return render(request, "system/time.html", {
        "s": row, "timezones": setup.timezones(),
        "errors": {e.field: e.message for e in errors or []}, "saved": saved,
        "now_local": ctx.clock.now().astimezone(ZoneInfo(row.timezone)),
    }, status_code=400 if errors else 200)


@router.post("/settings/time")
async def time_submit(
    request: Request,
    timezone: str = Form(""),
    time_mode: str = Form(""),
    ntp_server: str = Form(""),
    ntp_fallback_server: str = Form(""),
    manual_time: str = Form(""),
) -> Response:
    """Change the time zone and the time source."""
    ctx = ctx_of(request)
    try:
        await apply_time(
            ctx, timezone, time_mode, ntp_server or None, ntp_fallback_server or None,
            manual_time, request.state.account.username, source_of(request),
        )
    except SetupInvalid as exc:
        return await time_page(request, exc.errors)
    return await time_page(request, saved=True)


async def apply_time(
    ctx: ControllerContext, timezone: str, time_mode: str, ntp_server: str | None,
    ntp_fallback: str | None, manual_raw: str, actor: str, source: str,
) -> tuple[float, datetime | None]:
    """Validate, measure (NTP) or compute (manual) the offset, store it and move the clock."""
    manual: datetime | None = None
    if time_mode == "manual":
        if not manual_raw.strip():  # empty keeps the system's current time
            manual_raw = ctx.clock.now().isoformat()
        try:
            manual = datetime.fromisoformat(manual_raw)
        except ValueError:
            raise SetupInvalid([FieldError("manual_time", "must be a date and time")]) from None
        if manual.tzinfo is None:
            try:
                manual = manual.replace(tzinfo=ZoneInfo(timezone))
            except (KeyError, ValueError):
                raise SetupInvalid([FieldError("timezone", "must be an IANA time zone")]) from None
    answers = setup.SetupAnswers(timezone=timezone, time_mode=time_mode, ntp_server=ntp_server,
                                 ntp_fallback_server=ntp_fallback, manual_time=manual)
    errors = setup.check_time(answers)
    if errors:
        raise SetupInvalid(errors)
    offset = 0.0
    if time_mode == "manual":
        offset = setup.clock_offset(answers, utcnow(), None)
    elif ctx.ntp is not None:
        try:
            offset = await run_in_threadpool(ctx.ntp, ntp_server or "", ntp_fallback)
        except Exception as exc:  # the NTP client's error names both servers
            raise SetupInvalid([FieldError("ntp_server", f"no answer: {exc}")]) from None

    def work() -> None:
        with ctx.factory() as session, session.begin():
            service.set_time(session, ctx.clock, timezone=timezone, time_mode=time_mode,
                             ntp_server=ntp_server, ntp_fallback_server=ntp_fallback,
                             manual_time=manual, offset_seconds=offset, actor=actor,
                             source=source)

    await run_in_threadpool(work)
    ctx.apply_offset(offset)
    return offset, manual


@router.get("/settings/privacy")
async def privacy_page(request: Request, saved: bool = False) -> Response:
    """Settings → Privacy."""
    row = await run_in_threadpool(_settings, ctx_of(request))
    return render(request, "system/privacy.html", {"s": row, "saved": saved})


@router.post("/settings/privacy")
async def privacy_submit(request: Request, usage_data_consent: str = Form("")) -> Response:
    """Record the usage-data consent."""
    ctx = ctx_of(request)

    def work() -> None:
        with ctx.factory() as session, session.begin():
            service.set_privacy(session, ctx.clock, usage_data_consent == "on",
                                request.state.account.username, source_of(request))

    await run_in_threadpool(work)
    return await privacy_page(request, saved=True)


@router.get("/settings/cloud")
async def cloud_page(request: Request, errors: list[FieldError] | None = None,
                     saved: bool = False, status_code: int = 200) -> Response:
    """Settings → Cloud: turn cloud extensions on (only a reset turns them off)."""
    row = await run_in_threadpool(_settings, ctx_of(request))
    return render(request, "system/cloud.html", {
        "s": row, "cloud_locations": setup.CLOUD_LOCATIONS,
        "errors": {e.field: e.message for e in errors or []}, "saved": saved,
    }, status_code=400 if errors else status_code)


def turn_cloud_on(ctx: ControllerContext, location: str, actor: str, source: str) -> None:
    """Enable cloud extensions (audited)."""
    with ctx.factory() as session, session.begin():
        service.enable_cloud(session, ctx.clock, location, actor, source)


@router.post("/settings/cloud")
async def cloud_submit(request: Request, cloud_location: str = Form("")) -> Response:
    """Turn cloud extensions on with a server location."""
    ctx = ctx_of(request)
    try:
        await run_in_threadpool(turn_cloud_on, ctx, cloud_location,
                                request.state.account.username, source_of(request))
    except SetupInvalid as exc:
        return await cloud_page(request, exc.errors)
    except service.CloudLocked:
        return await cloud_page(request, status_code=409)
    return await cloud_page(request, saved=True)


@router.get("/support/restore-key")
async def restore_key_page(request: Request, error: str | None = None) -> Response:
    """Support → System restore key."""
    return render(request, "system/restore_key.html", {"error": error},
                  status_code=403 if error else 200)


def restore_key_for(ctx: ControllerContext, passphrase: str, actor: str,
                    source: str) -> tuple[str, bytes]:
    """Check the passphrase and seal a fresh restore key file; audits failures too."""
    try:
        with ctx.factory() as session, session.begin():
            return service.restore_key_download(session, ctx.clock, passphrase, actor, source)
    except service.PassphraseWrong:
        with ctx.factory() as session, session.begin():
            record(session, ctx.clock, actor=actor, action="restore_key.download",
                   outcome="denied", detail="wrong super admin passphrase", source=source)
        raise


@router.post("/support/restore-key")
async def restore_key_submit(request: Request, passphrase: str = Form("")) -> Response:
    """Download the System restore key again (super admin passphrase required)."""
    ctx = ctx_of(request)
    try:
        name, data = await run_in_threadpool(
            restore_key_for, ctx, passphrase, request.state.account.username, source_of(request)
        )
    except service.PassphraseWrong:
        return await restore_key_page(request, "The Super admin passphrase is wrong.")
    return Response(data, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
    })
