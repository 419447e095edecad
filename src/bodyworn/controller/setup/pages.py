"""The setup wizard's pages: one form per step, the whole system written at Finish."""

from __future__ import annotations

import socket
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.responses import RedirectResponse, Response

from bodyworn.controller.accounts.guard import WIZARD_COOKIE
from bodyworn.controller.context import ControllerContext, ctx_of, render, source_of
from bodyworn.controller.setup import service
from bodyworn.controller.setup.service import FieldError, Identity
from bodyworn.controller.setup.wizard import SLUGS, STEPS, Draft
from bodyworn.i18n.catalog import LANGUAGES

router = APIRouter(prefix="/setup", include_in_schema=False)
MAX_CONNECTION_FILE = 64 * 1024


def _draft(request: Request) -> Draft | None:
    draft: Draft | None = ctx_of(request).wizard.get(request.cookies.get(WIZARD_COOKIE))
    return draft


def _page(
    request: Request, draft: Draft, slug: str, errors: list[FieldError] | None = None,
    status_code: int = 200,
) -> Response:
    errors = errors or []
    a = draft.answers
    context: dict[str, Any] = {
        "steps": STEPS,
        "slug": slug,
        "step_index": SLUGS.index(slug),
        "done": draft.done,
        "draft": draft,
        "a": a,
        "errors": {e.field: e.message for e in errors},
        "error_list": errors,
        "languages": LANGUAGES,
        "hostname": socket.gethostname(),
        "timezones": service.timezones(),
        "cloud_locations": service.CLOUD_LOCATIONS,
        "csrf_token": draft.csrf_token,
        "connection_warnings": (
            service.connection_file_warnings(a) if slug in ("destination", "summary") else []
        ),
    }
    return render(request, f"setup/{slug}.html", context, status_code, language=a.language)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


@router.get("")
async def wizard_home(request: Request) -> Response:
    """Continue where this browser left off, starting a draft if it has none."""
    ctx = ctx_of(request)
    draft = _draft(request)
    if draft is None:
        draft = ctx.wizard.new()
        draft.answers.listen_host = ctx.settings.host
        draft.answers.listen_port = ctx.settings.port
        response = RedirectResponse(f"/setup/{SLUGS[0]}", status_code=303)
        response.set_cookie(
            WIZARD_COOKIE, draft.token, httponly=True, samesite="strict",
            secure=request.url.scheme == "https", path="/setup",
        )
        return response
    return RedirectResponse(f"/setup/{draft.first_open_step()}", status_code=303)


@router.get("/restore-key/download")
async def download_restore_key(request: Request) -> Response:
    """The System restore key file; the wizard continues only after this."""
    draft = _draft(request)
    if draft is None or draft.identity is None or "passphrase" not in draft.done:
        return RedirectResponse("/setup", status_code=303)
    ctx = ctx_of(request)
    data = await run_in_threadpool(
        service.restore_key_bytes, draft.answers, draft.identity, ctx.clock
    )
    draft.restore_key_downloaded = True
    name = f"bodyworn-restore-key-{draft.identity.system_id}.json"
    return Response(
        data,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/{slug}")
async def show_step(request: Request, slug: str) -> Response:
    """Show one step (only once the steps before it are done)."""
    draft = _draft(request)
    if draft is None or slug not in SLUGS:
        return RedirectResponse("/setup", status_code=303)
    if not draft.may_open(slug):
        return RedirectResponse(f"/setup/{draft.first_open_step()}", status_code=303)
    return _page(request, draft, slug)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _raw(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def _apply(request: Request, ctx: ControllerContext, draft: Draft, slug: str,
                 form: FormData) -> list[FieldError]:
    a = draft.answers
    if slug == "start":
        mode = _text(form, "mode")
        a.language = _text(form, "language") or "en"
        start_errors = service.check_language(a)
        if mode == "extend":
            start_errors.append(FieldError(
                "mode",
                "Extending an existing system is not available yet: it comes with support "
                "for several system controllers.",
            ))
        elif mode != "create":
            start_errors.append(FieldError("mode", "choose Create a new system"))
        return start_errors
    if slug == "admin":
        a.root_password = _raw(form, "root_password")
        a.root_password_confirm = _raw(form, "root_password_confirm")
        return service.check_admin(a)
    if slug == "passphrase":
        new = _raw(form, "super_admin_passphrase")
        a.super_admin_passphrase_confirm = _raw(form, "super_admin_passphrase_confirm")
        changed = new != a.super_admin_passphrase
        a.super_admin_passphrase = new
        pass_errors = service.check_passphrase(a)
        if not pass_errors and (changed or draft.identity is None):
            # A new passphrase means a new key file: the old download no longer counts.
            draft.identity = await run_in_threadpool(Identity.generate)
            draft.restore_key_downloaded = False
            draft.done.discard("restore-key")
        return pass_errors
    if slug == "restore-key":
        if not draft.restore_key_downloaded:
            return [FieldError("restore_key", "download the System restore key first")]
        return []
    if slug == "name":
        a.system_name = _text(form, "system_name")
        return service.check_system_name(a)
    if slug == "network":
        a.listen_host = _text(form, "listen_host")
        port = _text(form, "listen_port")
        a.listen_port = int(port) if port.isdigit() else -1
        return service.check_network(a)
    if slug == "time":
        a.timezone = _text(form, "timezone")
        a.time_mode = _text(form, "time_mode")
        a.ntp_server = _text(form, "ntp_server") or None
        a.ntp_fallback_server = _text(form, "ntp_fallback_server") or None
        a.manual_time = None
        errors: list[FieldError] = []
        if a.time_mode == "manual":
            raw = _text(form, "manual_time")
            # An empty field keeps the current time; a prefilled value would be read in a
            # time zone the user may change on the same form.
            if not raw:
                raw = _host_now(ctx).isoformat()
            try:
                local = datetime.fromisoformat(raw)
                a.manual_time = local.replace(tzinfo=_zone(a.timezone)) if local.tzinfo is None \
                    else local
            except ValueError:
                errors.append(FieldError("manual_time", "must be a date and time"))
        errors += [e for e in service.check_time(a) if e.field != "manual_time" or not errors]
        if errors:
            return errors
        if a.time_mode == "manual":
            draft.offset_seconds = service.clock_offset(a, _host_now(ctx), None)
        elif ctx.ntp is not None:
            try:
                draft.offset_seconds = await run_in_threadpool(
                    ctx.ntp, a.ntp_server or "", a.ntp_fallback_server
                )
            except Exception as exc:  # the NTP client's own error names both servers
                return [FieldError("ntp_server", f"no answer: {exc}")]
        return []
    if slug == "cloud":
        a.cloud_extensions = _text(form, "cloud_extensions") == "on"
        a.cloud_location = (_text(form, "cloud_location") or None) if a.cloud_extensions else None
        return service.check_cloud(a)
    if slug == "destination":
        upload = form.get("connection_file")
        if isinstance(upload, UploadFile) and upload.filename:
            data = await upload.read(MAX_CONNECTION_FILE + 1)
            a.connection_file = data
            draft.connection_file_name = upload.filename[:128]
            draft.connection_file_warned = False
        elif not a.connection_file:
            return [FieldError("connection_file", "is required")]
        return service.check_connection_file(a)
    if slug == "power":
        value = _text(form, "power_line_frequency")
        a.power_line_frequency = int(value) if value.isdigit() else -1
        return service.check_power_line(a)
    if slug == "assignment":
        a.camera_assignment = _text(form, "camera_assignment")
        return service.check_assignment(a)
    return []


def _host_now(ctx: ControllerContext) -> datetime:
    from bodyworn.domain.clock import utcnow

    return utcnow()


@router.post("/finish")
async def finish(request: Request) -> Response:
    """Write the whole system in one transaction, then send the browser to the login."""
    ctx = ctx_of(request)
    draft = _draft(request)
    if draft is None:
        return RedirectResponse("/setup", status_code=303)
    if not all(s in draft.done for s in SLUGS[:-1]) or draft.identity is None:
        return RedirectResponse(f"/setup/{draft.first_open_step()}", status_code=303)
    try:
        settings = await run_in_threadpool(
            service.commit, ctx.factory, ctx.clock, draft.answers, draft.identity,
            offset_seconds=draft.offset_seconds, source=source_of(request),
        )
    except service.SetupInvalid as exc:
        return _page(request, draft, "summary", exc.errors, status_code=400)
    except service.AlreadySetUp:
        return RedirectResponse("/login", status_code=303)
    ctx.apply_system(settings)
    ctx.wizard.clear()
    response = RedirectResponse("/login?setup=done", status_code=303)
    response.delete_cookie(WIZARD_COOKIE, path="/setup")
    return response


@router.post("/{slug}")
async def submit_step(request: Request, slug: str) -> Response:
    """Validate one step's answers; go on when they hold, show the errors when not."""
    ctx = ctx_of(request)
    draft = _draft(request)
    if draft is None or slug not in SLUGS or slug == "summary":
        return RedirectResponse("/setup", status_code=303)
    if not draft.may_open(slug):
        return RedirectResponse(f"/setup/{draft.first_open_step()}", status_code=303)
    form = await request.form()
    errors = await _apply(request, ctx, draft, slug, form)
    if errors:
        draft.done.discard(slug)
        return _page(request, draft, slug, errors, status_code=400)
    draft.done.add(slug)
    if (slug == "destination" and not draft.connection_file_warned
            and service.connection_file_warnings(draft.answers)):
        # Accepted, but say what the file leaves out before going on (Next goes on).
        draft.connection_file_warned = True
        return _page(request, draft, slug)
    return RedirectResponse(f"/setup/{SLUGS[SLUGS.index(slug) + 1]}", status_code=303)
