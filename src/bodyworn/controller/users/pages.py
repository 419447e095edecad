"""Users pages: the list, add, edit, remove, and the CSV import with its status view."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from bodyworn.controller.context import ctx_of, render
from bodyworn.controller.users import csvfile, service
from bodyworn.controller.users.pending import ImportStore
from bodyworn.controller.users.rules import (
    CD_USERNAME_MAX,
    NAME_MAX_BYTES,
    USER_ID_MAX_BYTES,
    WATERMARK_CHARS,
)
from bodyworn.controller.users.service import FieldError
from bodyworn.controller.web.params import form_row_id
from bodyworn.controller.web.routes import actor_of, run, who

router = APIRouter(include_in_schema=False)
PAGE = 50
NO_USER = "No such user."
_store_lock = threading.Lock()


def imports_of(request: Request) -> ImportStore:
    """The app's pending imports (made on first use)."""
    with _store_lock:
        store: ImportStore | None = getattr(request.app.state, "user_imports", None)
        if store is None:
            store = ImportStore(ctx_of(request).clock)
            request.app.state.user_imports = store
        return store


def limits() -> dict[str, int]:
    """The field limits the forms show."""
    return {"name_max": NAME_MAX_BYTES, "user_id_max": USER_ID_MAX_BYTES,
            "watermark": WATERMARK_CHARS, "cd_username_max": CD_USERNAME_MAX}


@router.get("/users")
async def users_page(request: Request, q: str = Query("", max_length=64),
                     after: str | None = Query(None, max_length=service.CURSOR_MAX),
                     before: str | None = Query(None, max_length=service.CURSOR_MAX)
                     ) -> Response:
    """Users: a page of users, searchable by name or user ID, paged by keyset."""
    try:
        page = await run(request).read(service.page_users, q, PAGE, after=after, before=before)
    except ValueError:  # a cursor from a hand-made link: the first page
        page = await run(request).read(service.page_users, q, PAGE)
    cameras = await run(request).read(service.cameras_of, [u.uuid for u in page.users])
    return render(request, "users/list.html", {
        "users": page.users, "total": page.total, "q": q, "after": page.after,
        "before": page.before, "cameras": cameras,
        "imported": {k: request.query_params.get(k) for k in
                     ("created", "updated", "skipped", "unchanged")},
        "removed": request.query_params.get("removed", ""),
    })


async def _form(request: Request, user: Any = None, errors: list[FieldError] | None = None,
                values: dict[str, Any] | None = None, saved: bool = False,
                status_code: int | None = None) -> Response:
    choices, cd_supported = await run(request).write(service.form_choices)
    v: dict[str, Any] = {"name": "", "user_id": "", "cd_username": "",
                         "profile_id": next((p.id for p in choices if p.is_default), None)}
    if user is not None:
        v.update(name=user.name, user_id=user.user_id or "", cd_username=user.cd_username or "",
                 profile_id=user.profile_id)
    v.update(values or {})
    return render(request, "users/form.html", {
        "user": user, "v": v, "profiles": choices, "cd_supported": cd_supported,
        "errors": {e.field: e.message for e in errors or []}, "error_list": errors or [],
        "saved": saved, **limits(),
    }, status_code=status_code or (400 if errors else 200))


@router.get("/users/new")
async def user_new(request: Request) -> Response:
    """The add-user form."""
    return await _form(request)


def _profile_id(raw: Any) -> int | None:
    # Not a row id at all: 0 names no profile, so the service refuses it by name.
    if not str(raw or ""):
        return None
    return form_row_id(raw) or 0


@router.post("/users")
async def user_create(request: Request) -> Response:
    """Add a user."""
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in ("name", "user_id", "cd_username", "profile_id")}
    try:
        user = await run(request).write(
            service.create, name=values["name"], user_id=values["user_id"],
            cd_username=values["cd_username"], profile_id=_profile_id(values["profile_id"]),
            **who(request))
    except service.UserRefused as exc:
        return await _form(request, errors=exc.errors, values=values)
    return RedirectResponse(f"/users/{user.uuid}?created=1", status_code=303)


# The import routes come before /users/{user_uuid} so "import" is not taken for a uuid.
@router.get("/users/import")
async def import_page(request: Request) -> Response:
    """Import users: the template and the file upload."""
    return await _import_page(request)


async def _import_page(request: Request, error: str = "", status_code: int = 200) -> Response:
    cd_supported = await run(request).read(service.cd_username_supported)
    return render(request, "users/import.html", {"cd_supported": cd_supported, "error": error,
                                                 **limits()}, status_code=status_code)


@router.get("/users/import/template.csv")
async def import_template(request: Request) -> Response:
    """The CSV template to fill in."""
    cd_supported = await run(request).read(service.cd_username_supported)
    return Response(csvfile.template(cd_supported), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="users.csv"'})


async def _status(request: Request, token: str, filename: str, plan: service.ImportPlan,
                  unresolved: list[service.Conflict] | None = None, error: str = "",
                  status_code: int = 200) -> Response:
    return render(request, "users/import_status.html", {
        "token": token, "filename": filename, "plan": plan,
        "unresolved": {c.row for c in unresolved or []}, "error": error,
    }, status_code=status_code)


@router.post("/users/import", max_body_size=csvfile.FORM_MAX_BYTES)
async def import_upload(request: Request) -> Response:
    """Upload a CSV file: keep it aside and show what importing it would do."""
    form = await request.form()
    upload = form.get("csv_file")
    if not isinstance(upload, UploadFile):
        return await _import_page(request, "Choose a CSV file.", 400)
    raw = await upload.read(csvfile.MAX_BYTES + 1)
    parsed, plan = await run(request).write(service.parse_and_plan, raw)
    pending = imports_of(request).put(parsed, upload.filename or "users.csv", actor_of(request))
    return await _status(request, pending.token, pending.filename, plan,
                         status_code=200 if plan.ok else 400)


@router.post("/users/import/commit")
async def import_commit(request: Request) -> Response:
    """Import the pending file with the administrator's choices, all or nothing."""
    form = await request.form()
    token = str(form.get("token") or "")
    store = imports_of(request)
    pending = store.get(token, actor_of(request))
    if pending is None:
        return await _import_page(request, "The uploaded file has expired; upload it again.", 410)
    current = await run(request).write(service.plan_import, pending.parsed)
    resolutions: dict[str, str] = {}
    for c in current.conflicts:
        choice = str(form.get(f"resolution_{c.row}") or "")
        if choice in service.RESOLUTIONS:
            resolutions[c.user_id] = choice
    try:
        result = await run(request).write(service.commit_import, pending.parsed, resolutions,
                                          **who(request))
    except service.ImportRefused as exc:
        return await _status(request, token, pending.filename, exc.plan, exc.unresolved,
                             status_code=409 if exc.plan.ok else 400)
    except IntegrityError:
        return await _status(request, token, pending.filename, current,
                             error="Users changed while importing; nothing was imported. "
                                   "Try again.", status_code=409)
    store.drop(token)
    return RedirectResponse(
        f"/users?created={result.created}&updated={result.updated}&skipped={result.skipped}"
        f"&unchanged={result.unchanged}", status_code=303)


@router.get("/users/{user_uuid}")
async def user_page(request: Request, user_uuid: str) -> Response:
    """One user: edit, or remove."""
    user = await run(request, NO_USER).read(service.get, user_uuid)
    return await _form(request, user, saved=request.query_params.get("created") == "1")


@router.post("/users/{user_uuid}")
async def user_save(request: Request, user_uuid: str) -> Response:
    """Save a user's name, user ID and camera profile."""
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in ("name", "user_id", "profile_id")}
    changes = {"name": values["name"], "user_id": values["user_id"],
               "profile_id": _profile_id(values["profile_id"])}
    user = await run(request, NO_USER).read(service.get, user_uuid)
    try:
        user = await run(request, NO_USER).write(service.update_user, user_uuid, changes,
                                                 **who(request))
    except service.UserRefused as exc:
        return await _form(request, user, exc.errors, values)
    return await _form(request, user, saved=True)


@router.post("/users/{user_uuid}/remove")
async def user_remove(request: Request, user_uuid: str) -> Response:
    """Remove a user (confirmed); the content destination marks it inactive."""
    form = await request.form()
    user = await run(request, NO_USER).read(service.get, user_uuid)
    if form.get("confirm") != "on":
        return await _form(request, user,
                           [FieldError("confirm", "Tick the box to confirm the removal.")])
    await run(request, NO_USER).write(service.remove, user_uuid, **who(request))
    return RedirectResponse("/users?" + urlencode({"removed": user.name}), status_code=303)
