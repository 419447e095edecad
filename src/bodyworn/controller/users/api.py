"""JSON twins of the users pages, and the CSV import for scripts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from bodyworn.controller.context import ctx_of, source_of
from bodyworn.controller.users import csvfile, service
from bodyworn.controller.users.pages import commit, parse_and_plan
from bodyworn.controller.web.params import OffsetQuery, RowIdField

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
    """A page of users and how many match."""

    total: int
    users: list[UserOut]


def _out(v: service.UserView) -> UserOut:
    return UserOut(id=v.uuid, name=v.name, user_id=v.user_id, cd_username=v.cd_username,
                   profile_id=v.profile_id, profile_name=v.profile_name,
                   created_at=v.created_at, updated_at=v.updated_at)


def _errors(errors: list[service.FieldError]) -> JSONResponse:
    return JSONResponse({"detail": [{"field": e.field, "message": e.message} for e in errors]},
                        status_code=422)


def _missing(user_uuid: str) -> JSONResponse:
    return JSONResponse({"detail": f"no user {user_uuid}"}, status_code=404)


@router.get("", response_model=UserPage)
async def list_users(request: Request, q: str = Query("", max_length=64),
                     limit: int = Query(200, ge=1, le=1000),
                     offset: OffsetQuery = 0) -> UserPage:
    """Users by name, filtered by name or user ID."""
    ctx = ctx_of(request)

    def work() -> UserPage:
        with ctx.factory() as session:
            users, total = service.list_users(session, q, limit, offset)
            return UserPage(total=total, users=[_out(u) for u in users])

    return await run_in_threadpool(work)


@router.post("", response_model=UserOut, status_code=201)
async def create_user(request: Request, body: UserCreate) -> Response:
    """Add a user."""
    ctx = ctx_of(request)

    def work() -> UserOut:
        with ctx.factory() as session, session.begin():
            return _out(service.create(session, ctx.clock, name=body.name, user_id=body.user_id,
                                       cd_username=body.cd_username, profile_id=body.profile_id,
                                       actor=request.state.account.username,
                                       source=source_of(request)))

    try:
        out = await run_in_threadpool(work)
    except service.UserRefused as exc:
        return _errors(exc.errors)
    return JSONResponse(out.model_dump(mode="json"), status_code=201)


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


@router.post("/import", responses={200: {"model": ImportReport | ImportDone},
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
    ctx = ctx_of(request)
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > csvfile.MAX_BYTES:
            break
    parsed, plan = await run_in_threadpool(parse_and_plan, ctx, raw)
    if not commit_:
        return JSONResponse(_report(plan).model_dump(mode="json"),
                            status_code=200 if plan.ok else 422)
    resolutions: dict[str, Any] = {u: "skip" for u in skip}
    resolutions.update({u: "update" for u in update})
    try:
        result = await run_in_threadpool(commit, ctx, parsed, resolutions, on_conflict,
                                         request.state.account.username, source_of(request))
    except service.ImportRefused as exc:
        return JSONResponse(_report(exc.plan, exc.unresolved).model_dump(mode="json"),
                            status_code=409 if exc.plan.ok else 422)
    except IntegrityError:
        return JSONResponse({"detail": "users changed while importing; nothing was imported"},
                            status_code=409)
    return JSONResponse(ImportDone(created=result.created, updated=result.updated,
                                   skipped=result.skipped,
                                   unchanged=result.unchanged).model_dump())


@router.get("/{user_uuid}", response_model=UserOut)
async def get_user(request: Request, user_uuid: str) -> Response | UserOut:
    """One user."""
    ctx = ctx_of(request)

    def work() -> UserOut:
        with ctx.factory() as session:
            return _out(service.get(session, user_uuid))

    try:
        return await run_in_threadpool(work)
    except LookupError:
        return _missing(user_uuid)


@router.put("/{user_uuid}", response_model=UserOut)
async def update_user(request: Request, user_uuid: str, body: UserUpdate) -> Response | UserOut:
    """Change a user's name, user ID or camera profile."""
    ctx = ctx_of(request)
    changes = body.model_dump(include=body.model_fields_set)

    def work() -> UserOut:
        with ctx.factory() as session, session.begin():
            return _out(service.update_user(session, ctx.clock, user_uuid, changes,
                                            actor=request.state.account.username,
                                            source=source_of(request)))

    try:
        return await run_in_threadpool(work)
    except service.UserRefused as exc:
        return _errors(exc.errors)
    except LookupError:
        return _missing(user_uuid)


@router.delete("/{user_uuid}", status_code=204)
async def delete_user(request: Request, user_uuid: str) -> Response:
    """Remove a user here; the content destination keeps it, marked inactive."""
    ctx = ctx_of(request)

    try:
        await ctx.transact(service.remove, user_uuid, actor=request.state.account.username,
                           source=source_of(request))
    except LookupError:
        return _missing(user_uuid)
    return Response(status_code=204)
