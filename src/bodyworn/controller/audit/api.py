"""JSON twin of the audit log page."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from bodyworn.controller.audit import service
from bodyworn.controller.web.params import OffsetQuery
from bodyworn.controller.web.routes import run

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


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


@router.get("", response_model=list[AuditItem])
async def audit_list(
    request: Request, limit: int = Query(100, ge=1, le=1000), offset: OffsetQuery = 0
) -> list[AuditItem]:
    """The newest audit entries first."""
    entries = await run(request).read(service.latest, limit, offset)
    return [AuditItem.model_validate(e, from_attributes=True) for e in entries]


@router.get("/verify", response_model=ChainStatus)
async def audit_verify(request: Request) -> ChainStatus:
    """Check the hash chain."""
    r = await run(request).read(service.verify_chain)
    return ChainStatus(ok=r.ok, entries=r.entries, broken_at=r.broken_at, reason=r.reason)
