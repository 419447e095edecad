"""JSON twins of the users pages, and the CSV import for scripts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from starlette.responses import JSONResponse, Response

from bodyworn.controller.refusals import FieldError, FieldsRefused
from bodyworn.controller.users import csvfile, service
from bodyworn.controller.web.params import OffsetQuery, RowIdField
from bodyworn.controller.web.routes import read_body, run, who

router = APIRouter(prefix="/api/v1/users", tags=["users"])


class UserCreate(BaseModel):
    """A new user; the default camera profile unless profile_id is given."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=256)
    user_id: str | None = Field(default=None, max_length=256,
                                description="unique; at most 32 bytes; the first 12 "
                                            "characters show in the visual watermark")
    cd_username: str | None = Field(default=None, max_length=512,
                                    description="only when the content destination takes "
                                                "user names; cannot change afterwards")
    profile_id: RowIdField | None = None


class UserUpdate(BaseModel):
    """Changes to a user (only the fields sent)."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=256)
    user_id: str | None = Field(default=None, max_length=256)
    cd_username: str | None = Field(default=None, max_length=512)
    profile_id: RowIdField | None = None


class UserOut(BaseModel):
    """A user; id is the uuid that names the user's object at the content destination."""

    id: str
    name: str
    user_id: str | None
    cd_username: str | None
    profile_id: RowIdField
    profile_name: str
    created_at: datetime
    updated_at: datetime


class UserPage(BaseModel):
    """A page of users, how many match, and where the pages on either side start."""

    total: int
    users: list[UserOut]
    after: str | None = Field(description="pass as `after` for the next page; null on the "
                                          "last page")
    before: str | None = Field(description="pass as `before` for the previous page; null "
                                           "on the first page")


def _out(v: service.UserView) -> UserOut:
    return UserOut(id=v.uuid, name=v.name, user_id=v.user_id, cd_username=v.cd_username,
                   profile_id=v.profile_id, profile_name=v.profile_name,
                   created_at=v.created_at, updated_at=v.updated_at)


def _missing(user_uuid: str) -> str:
    return f"no user {user_uuid}"


CURSOR_HELP = "a cursor from an earlier page's answer"


@router.get("", response_model=UserPage)
async def list_users(request: Request, q: str = Query("", max_length=64),
                     limit: int = Query(200, ge=1, le=1000),
                     after: str | None = Query(None, max_length=service.CURSOR_MAX,
                                               description=CURSOR_HELP),
                     before: str | None = Query(None, max_length=service.CURSOR_MAX,
                                                description=CURSOR_HELP),
                     offset: OffsetQuery = 0) -> Response:
    """Users by name (case and Unicode form folded), filtered by name or user ID; page on
    with `after` (or back with `before`); `offset` (rows to skip) still works, but a deep
    offset is read row by row."""
    try:
        page = await run(request).read(service.page_users, q, limit, after=after,
                                       before=before, offset=offset)
    except ValueError:
        raise FieldsRefused([FieldError("after" if after is not None else "before",
                                        "is not a position in this list")]) from None
    # Serialized here, once: FastAPI would check the model again and encode it field by
    # field, which costs more than the page's query with a few hundred users.
    body = UserPage(total=page.total, users=[_out(u) for u in page.users], after=page.after,
                    before=page.before)
    return Response(body.model_dump_json(), media_type="application/json")


@router.post("", response_model=UserOut, status_code=201)
async def create_user(request: Request, body: UserCreate) -> UserOut:
    """Add a user."""
    return _out(await run(request).write(
        service.create, name=body.name, user_id=body.user_id, cd_username=body.cd_username,
        profile_id=body.profile_id, **who(request)))


class ImportIssue(BaseModel):
    """Something the file must fix; row is the file's line number (null: the whole file)."""

    row: int | None
    field: str
    message: str


class ImportConflict(BaseModel):
    """A user ID that exists with other data: answer update or skip."""

    row: int
    user_id: str
    id: str
    changes: list[str]
    current: dict[str, str | None]
    incoming: dict[str, str | None]


class ImportReport(BaseModel):
    """What importing the file would do, and what stops it."""

    rows: int
    new: int
    unchanged: int
    conflicts: list[ImportConflict]
    issues: list[ImportIssue]
    unresolved: list[str] = []
    can_import: bool


class ImportDone(BaseModel):
    """What the import did."""

    created: int
    updated: int
    skipped: int
    unchanged: int


def _report(plan: service.ImportPlan, unresolved: list[service.Conflict] | None = None
            ) -> ImportReport:
    return ImportReport(
        rows=plan.rows, new=len(plan.create), unchanged=plan.unchanged,
        conflicts=[ImportConflict(row=c.row, user_id=c.user_id, id=c.uuid, changes=list(c.changes),
                                  current=c.current, incoming=c.incoming)
                   for c in plan.conflicts],
        issues=[ImportIssue(row=i.row, field=i.field, message=i.message) for i in plan.issues],
        unresolved=[c.user_id for c in unresolved or []], can_import=plan.ok,
    )


@router.post("/import", max_body_size=csvfile.MAX_BYTES,
             responses={200: {"model": ImportReport | ImportDone},
                        409: {"model": ImportReport}, 422: {"model": ImportReport}},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "text/csv": {"schema": {"type": "string"}}}}})
async def import_users(
    request: Request,
    commit_: bool = Query(False, alias="commit", description="import (else only report)"),
    on_conflict: Literal["update", "skip"] | None = Query(
        None, description="the answer for every conflict not named in update/skip"),
    update: list[str] = Query([], description="user IDs to update"),
    skip: list[str] = Query([], description="user IDs to skip"),
) -> Response:
    """Check a users CSV (the request body); with commit=true import it, all or nothing."""
    raw = await read_body(request, csvfile.MAX_BYTES)
    parsed, plan = await run(request).write(service.parse_and_plan, raw)
    if not commit_:
        return JSONResponse(_report(plan).model_dump(mode="json"),
                            status_code=200 if plan.ok else 422)
    resolutions: dict[str, Any] = {u: "skip" for u in skip}
    resolutions.update({u: "update" for u in update})
    try:
        result = await run(request).write(service.commit_import, parsed, resolutions,
                                          default_resolution=on_conflict, **who(request))
    except service.ImportRefused as exc:
        return JSONResponse(_report(exc.plan, exc.unresolved).model_dump(mode="json"),
                            status_code=exc.status)
    except IntegrityError:
        return JSONResponse({"detail": "users changed while importing; nothing was imported"},
                            status_code=409)
    return JSONResponse(ImportDone(created=result.created, updated=result.updated,
                                   skipped=result.skipped,
                                   unchanged=result.unchanged).model_dump())


@router.get("/{user_uuid}", response_model=UserOut)
async def get_user(request: Request, user_uuid: str) -> UserOut:
    """One user."""
    return _out(await run(request, _missing(user_uuid)).read(service.get, user_uuid))


@router.put("/{user_uuid}", response_model=UserOut)
async def update_user(request: Request, user_uuid: str, body: UserUpdate) -> UserOut:
    """Change a user's name, user ID or camera profile."""
    changes = body.model_dump(include=body.model_fields_set)
    return _out(await run(request, _missing(user_uuid)).write(
        service.update_user, user_uuid, changes, **who(request)))


@router.delete("/{user_uuid}", status_code=204)
async def delete_user(request: Request, user_uuid: str) -> Response:
    """Remove a user here; the content destination keeps it, marked inactive."""
    await run(request, _missing(user_uuid)).write(service.remove, user_uuid, **who(request))
    return Response(status_code=204)
