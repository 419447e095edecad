"""Settings → System backup (configure, back up now), and the wizard's restore from a backup."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from bodyworn.controller.backup import service, targets
from bodyworn.controller.backup.format import MAX_FILE_SIZE
from bodyworn.controller.context import ctx_of, render
from bodyworn.controller.refusals import FieldError, FieldsRefused
from bodyworn.controller.setup.pages import draft_of, step_page
from bodyworn.controller.web.routes import run, who
from bodyworn.domain.clock import utcnow

router = APIRouter(include_in_schema=False)


@router.get("/settings/backup")
async def backup_page(request: Request, notice: str = "", error: str = "") -> Response:
    """Settings → System backup: where it goes, how the last one went."""
    status = await run(request).read(service.status)
    labels = {t.key: t.label for t in targets.choices(ctx_of(request))}
    status = replace(status, target_label=labels.get(status.target, status.target_label))
    return render(request, "backup/settings.html", {"b": status, "notice": notice,
                                                    "error": error})


@router.get("/settings/backup/configure")
async def configure_page(request: Request, errors: list[FieldError] | None = None,
                         kind: str = "", folder: str = "", status_code: int = 200) -> Response:
    """Configure: a system controller (extension) or a folder, and the interval."""
    status = await run(request).read(service.status)
    choices = targets.choices(ctx_of(request))
    if not kind:
        kind = "folder" if status.target.startswith(targets.FOLDER) or not choices \
            else "controller"
    if not folder and status.target.startswith(targets.FOLDER):
        folder = status.target[len(targets.FOLDER):]
    return render(request, "backup/configure.html", {
        "b": status, "choices": choices, "kind": kind, "folder": folder,
        "errors": {e.field: e.message for e in errors or []},
    }, status_code=status_code)


@router.post("/settings/backup/configure")
async def configure_submit(request: Request, kind: str = Form(""), target: str = Form(""),
                           folder: str = Form(""), interval_hours: str = Form("24"),
                           passphrase: str = Form("")) -> Response:
    """Save the configuration (the super admin passphrase required)."""
    ctx = ctx_of(request)
    try:
        try:
            hours = float(interval_hours)
        except ValueError:
            raise FieldsRefused([FieldError("interval_hours", "must be a number of hours")]) \
                from None
        key = service.target_of(ctx, kind, folder, target)
        await run(request).call(service.configure, target=key, interval_hours=hours,
                                passphrase=passphrase, **who(request))
    except FieldsRefused as exc:
        return await configure_page(request, exc.errors, kind, folder, 400)
    except service.PassphraseWrong as exc:
        return await configure_page(request, [FieldError("passphrase", exc.message)], kind,
                                    folder, 403)
    return RedirectResponse("/settings/backup", status_code=303)


@router.post("/settings/backup/run")
async def run_now(request: Request) -> Response:
    """Back up now."""
    outcome = await run(request).call(service.run_backup, **who(request))
    if outcome.ok:
        return await backup_page(request, notice="The backup was sent.")
    return await backup_page(request, error=outcome.detail)


@router.post("/setup/restore-key/backup")
async def wizard_restore(request: Request) -> Response:
    """The wizard's restore-key step: restore from a system backup file."""
    draft = draft_of(request)
    if draft is None or not draft.may_open("restore-key"):
        return RedirectResponse("/setup", status_code=303)
    form = await request.form()
    passphrase = form.get("backup_passphrase")
    upload = form.get("backup_file")
    data = await upload.read(MAX_FILE_SIZE + 1) \
        if isinstance(upload, UploadFile) and upload.filename else None
    errors = await run_in_threadpool(
        service.restore_into_draft, draft, passphrase if isinstance(passphrase, str) else "",
        data, utcnow())
    if errors:
        return step_page(request, draft, "restore-key", errors, status_code=400)
    return RedirectResponse("/setup/restore-key", status_code=303)
