"""The audit log page and its JSON twin."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from bodyworn.controller.audit import service
from bodyworn.controller.context import ControllerContext, ctx_of, render
from bodyworn.controller.web.params import OffsetQuery

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class AuditItem(BaseModel):
    """One audit entry."""

    id: int
    at: datetime
    actor: str
    action: str
    detail: str
    source: str
    outcome: str
    entry_hash: str


class ChainStatus(BaseModel):
    """Whether the hash chain holds."""

    ok: bool
    entries: int
    broken_at: int | None
    reason: str | None


def _entries(ctx: ControllerContext, limit: int, offset: int) -> list[AuditItem]:
    with ctx.factory() as session:
        return [AuditItem.model_validate(e, from_attributes=True)
                for e in service.latest(session, limit, offset)]


def _verify(ctx: ControllerContext) -> ChainStatus:
    with ctx.factory() as session:
        r = service.verify_chain(session)
        return ChainStatus(ok=r.ok, entries=r.entries, broken_at=r.broken_at, reason=r.reason)


@router.get("/audit")
async def audit_page(request: Request, offset: OffsetQuery = 0) -> Response:
    """The newest audit entries and whether the chain holds."""
    ctx = ctx_of(request)
    entries = await run_in_threadpool(_entries, ctx, 200, offset)
    status = await run_in_threadpool(_verify, ctx)
    return render(request, "audit/list.html", {"entries": entries, "chain": status,
                                               "offset": offset})


@api.get("", response_model=list[AuditItem])
async def audit_list(
    request: Request, limit: int = Query(100, ge=1, le=1000), offset: OffsetQuery = 0
) -> list[AuditItem]:
    """The newest audit entries first."""
    return await run_in_threadpool(_entries, ctx_of(request), limit, offset)


@api.get("/verify", response_model=ChainStatus)
async def audit_verify(request: Request) -> ChainStatus:
    """Check the hash chain."""
    return await run_in_threadpool(_verify, ctx_of(request))
