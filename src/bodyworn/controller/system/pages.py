"""Settings → System name and language, Date and time, Privacy, Cloud; Support → System
restore key."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from bodyworn.controller.context import ctx_of, render
from bodyworn.controller.setup import service as setup
from bodyworn.controller.setup.service import FieldError, SetupInvalid
from bodyworn.controller.system import service, timekeeping
from bodyworn.controller.web.routes import run, secret_download, who
from bodyworn.i18n.catalog import LANGUAGES

router = APIRouter(include_in_schema=False)


def _errors(errors: list[FieldError] | None) -> dict[str, str]:
    return {e.field: e.message for e in errors or []}


@router.get("/settings")
async def settings_home(request: Request) -> Response:
    """Settings opens on the system name page."""
    return await system_page(request)


@router.get("/settings/system")
async def system_page(request: Request, errors: list[FieldError] | None = None,
                      saved: str | None = None) -> Response:
    """Settings → System name and language."""
    row = await run(request).read(service.current)
    return render(request, "system/name.html", {
        "s": row, "errors": _errors(errors), "saved": saved, "languages": LANGUAGES,
    }, status_code=400 if errors else 200)


@router.post("/settings/system")
async def system_submit(request: Request, system_name: str = Form("")) -> Response:
    """Rename the system."""
    try:
        # The page header follows through SettingsChanged (app.py).
        await run(request).write(service.rename, system_name, **who(request))
    except SetupInvalid as exc:
        return await system_page(request, exc.errors)
    return await system_page(request, saved="name")


@router.post("/settings/language")
async def language_submit(request: Request, language: str = Form("")) -> Response:
    """Change the language; the page answers in the new one."""
    try:
        await run(request).write(service.set_language, language, **who(request))
    except SetupInvalid as exc:
        return await system_page(request, exc.errors)
    return await system_page(request, saved="language")


@router.get("/settings/time")
async def time_page(request: Request, errors: list[FieldError] | None = None,
                    saved: bool = False) -> Response:
    """Settings → Date and time."""
    row = await run(request).read(service.current)
    ctx = ctx_of(request)
    source = await run(request).call(timekeeping.time_source)
    return render(request, "system/time.html", {
        "s": row, "timezones": setup.timezones(), "errors": _errors(errors), "saved": saved,
        "now": ctx.clock.now(),
        "source": source, "ntp": ctx.health.ntp, "cd_clock": ctx.health.cd_clock,
        "skew_limit": ctx.settings.clock_skew_warn_s,
        "interval_min": round(ctx.settings.ntp_interval_s / 60),
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
    try:
        await run(request).call(service.change_time, timezone=timezone, time_mode=time_mode,
                                ntp_server=ntp_server or None,
                                ntp_fallback_server=ntp_fallback_server or None,
                                # The page's date-time field has no offset: local time.
                                manual_time=manual_time, naive_is_local=True,
                                **who(request))
    except SetupInvalid as exc:
        return await time_page(request, exc.errors)
    return await time_page(request, saved=True)


@router.get("/settings/privacy")
async def privacy_page(request: Request, saved: bool = False) -> Response:
    """Settings → Privacy."""
    row = await run(request).read(service.current)
    return render(request, "system/privacy.html", {"s": row, "saved": saved})


@router.post("/settings/privacy")
async def privacy_submit(request: Request, usage_data_consent: str = Form("")) -> Response:
    """Record the usage-data consent."""
    await run(request).write(service.set_privacy, usage_data_consent == "on", **who(request))
    return await privacy_page(request, saved=True)


@router.get("/settings/cloud")
async def cloud_page(request: Request, errors: list[FieldError] | None = None,
                     saved: bool = False, status_code: int = 200) -> Response:
    """Settings → Cloud: turn cloud extensions on (only a reset turns them off)."""
    row = await run(request).read(service.current)
    return render(request, "system/cloud.html", {
        "s": row, "cloud_locations": setup.CLOUD_LOCATIONS, "errors": _errors(errors),
        "saved": saved,
    }, status_code=400 if errors else status_code)


@router.post("/settings/cloud")
async def cloud_submit(request: Request, cloud_location: str = Form("")) -> Response:
    """Turn cloud extensions on with a server location."""
    try:
        await run(request).write(service.enable_cloud, cloud_location, **who(request))
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


@router.post("/support/restore-key")
async def restore_key_submit(request: Request, passphrase: str = Form("")) -> Response:
    """Download the System restore key again (super admin passphrase required)."""
    try:
        name, data = await run(request).write(service.restore_key_download, passphrase,
                                              **who(request))
    except service.PassphraseWrong:
        return await restore_key_page(request, "The Super admin passphrase is wrong.")
    return secret_download(name, data)

