"""The setup wizard's pages: one form per step, the whole system written at Finish."""

from __future__ import annotations

import socket
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from bodyworn.controller.accounts.guard import WIZARD_COOKIE
from bodyworn.controller.context import ctx_of, render, source_of
from bodyworn.controller.setup import service, steps
from bodyworn.controller.setup.service import FieldError
from bodyworn.controller.setup.wizard import SLUGS, STEPS, Draft, DraftStore
from bodyworn.controller.web.routes import secret_download
from bodyworn.firmware.bundle import MAX_UPLOAD_BYTES
from bodyworn.i18n.catalog import LANGUAGES

router = APIRouter(prefix="/setup", include_in_schema=False)


def drafts_of(request: Request) -> DraftStore:
    # The context sees the store through ports.WizardDrafts; the wizard knows it whole.
    store = ctx_of(request).wizard
    assert isinstance(store, DraftStore)
    return store


def draft_of(request: Request) -> Draft | None:
    """This browser's wizard draft (None: it has none, or it expired)."""
    return drafts_of(request).get(request.cookies.get(WIZARD_COOKIE))


def step_page(
    request: Request, draft: Draft, slug: str, errors: list[FieldError] | None = None,
    status_code: int = 200,
) -> Response:
    """One step's page, with the errors of its last submission."""
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


def _resume(draft: Draft) -> Response:
    return RedirectResponse(f"/setup/{draft.first_open_step()}", status_code=303)


@router.get("")
async def wizard_home(request: Request) -> Response:
    """Continue where this browser left off, starting a draft if it has none."""
    ctx = ctx_of(request)
    draft = draft_of(request)
    if draft is None:
        draft = drafts_of(request).new()
        draft.answers.listen_host = ctx.settings.host
        draft.answers.listen_port = ctx.settings.port
        response = RedirectResponse(f"/setup/{SLUGS[0]}", status_code=303)
        response.set_cookie(
            WIZARD_COOKIE, draft.token, httponly=True, samesite="strict",
            secure=request.url.scheme == "https", path="/setup",
        )
        return response
    return _resume(draft)


@router.get("/restore-key/download")
async def download_restore_key(request: Request) -> Response:
    """The System restore key file; the wizard continues only after this."""
    draft = draft_of(request)
    if draft is None or draft.identity is None or "passphrase" not in draft.done:
        return RedirectResponse("/setup", status_code=303)
    data = await run_in_threadpool(
        service.restore_key_bytes, draft.answers, draft.identity, ctx_of(request).clock
    )
    draft.restore_key_downloaded = True
    return secret_download(f"bodyworn-restore-key-{draft.identity.system_id}.json", data)


@router.post("/restore-key/upload")
async def upload_restore_key(request: Request) -> Response:
    """Restore the identity of an existing system from its System restore key."""
    draft = draft_of(request)
    if draft is None or not draft.may_open("restore-key"):
        return RedirectResponse("/setup", status_code=303)
    errors = await run_in_threadpool(steps.restore_identity, await submitted(request), draft)
    if errors:
        return step_page(request, draft, "restore-key", errors, status_code=400)
    return RedirectResponse("/setup/restore-key", status_code=303)


@router.get("/{slug}")
async def show_step(request: Request, slug: str) -> Response:
    """Show one step (only once the steps before it are done)."""
    draft = draft_of(request)
    if draft is None or slug not in SLUGS:
        return RedirectResponse("/setup", status_code=303)
    if not draft.may_open(slug):
        return _resume(draft)
    return step_page(request, draft, slug)


@router.post("/finish")
async def finish(request: Request) -> Response:
    """Write the whole system in one transaction, then send the browser to the login."""
    ctx = ctx_of(request)
    draft = draft_of(request)
    if draft is None:
        return RedirectResponse("/setup", status_code=303)
    if not all(s in draft.done for s in SLUGS[:-1]) or draft.identity is None:
        return _resume(draft)
    try:
        settings = await run_in_threadpool(
            service.commit, ctx.factory, ctx.clock, draft.answers, draft.identity,
            offset_seconds=draft.offset_seconds, source=source_of(request),
            then=draft.then, restored=draft.restored_from,
            firmware=draft.firmware, installer=ctx.firmware,
        )
    except service.SetupInvalid as exc:
        return step_page(request, draft, "summary", exc.errors, status_code=400)
    except service.AlreadySetUp:
        return RedirectResponse("/login", status_code=303)
    ctx.apply_system(settings)
    drafts_of(request).clear()
    response = RedirectResponse("/login?setup=done", status_code=303)
    response.delete_cookie(WIZARD_COOKIE, path="/setup")
    return response


async def submitted(request: Request) -> steps.Submitted:
    """The form of a step (files read no further than a step takes)."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    files = {k: (v.filename, await v.read(steps.FILE_LIMITS.get(k, steps.MAX_CONNECTION_FILE)
                                          + 1))
             for k, v in form.items() if isinstance(v, UploadFile) and v.filename}
    return steps.Submitted(fields, files)


def _tools(request: Request) -> steps.StepTools:
    ctx = ctx_of(request)
    return steps.StepTools(ctx.ntp, ctx.firmware.verify if ctx.firmware else None)


@router.post("/start", max_body_size=MAX_UPLOAD_BYTES)
async def submit_start(request: Request) -> Response:
    """The first step, which may carry a firmware file (the one step with a large body)."""
    return await submit_step(request, "start")


@router.post("/{slug}")
async def submit_step(request: Request, slug: str) -> Response:
    """Validate one step's answers; go on when they hold, show the errors when not."""
    draft = draft_of(request)
    step = steps.STEPS.get(slug)
    if draft is None or step is None:
        return RedirectResponse("/setup", status_code=303)
    if not draft.may_open(slug):
        return _resume(draft)
    form = await submitted(request)
    errors = await run_in_threadpool(steps.apply, step, form, draft, _tools(request))
    if errors:
        draft.done.discard(slug)
        return step_page(request, draft, slug, errors, status_code=400)
    draft.done.add(slug)
    if (slug == "destination" and not draft.connection_file_warned
            and service.connection_file_warnings(draft.answers)):
        # Accepted, but say what the file leaves out before going on (Next goes on).
        draft.connection_file_warned = True
        return step_page(request, draft, slug)
    return RedirectResponse(f"/setup/{step.next}", status_code=303)
