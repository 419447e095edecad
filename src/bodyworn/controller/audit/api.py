"""JSON twin of the audit log page."""

from __future__ import annotations

from datetime import UTC, datetime

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
    request: Request, limit: int = Query(100, ge=1, le=1000), offset: OffsetQuery = 0,
    actor: str = Query("", max_length=64), action: str = Query("", max_length=64),
    since: datetime | None = None, until: datetime | None = None,
) -> list[AuditItem]:
    """The newest audit entries first; only those of `actor`, of `action`, at or after
    `since` and before `until` when given (times with a zone; UTC in the answer)."""
    where = service.AuditFilter(actor, action, _aware(since), _aware(until))
    entries, _total = await run(request).read(service.search, where, limit, offset)
    return [AuditItem.model_validate(e, from_attributes=True) for e in entries]


def _aware(moment: datetime | None) -> datetime | None:
    """A time given without a zone is taken as UTC, as the API answers in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@router.get("/verify", response_model=ChainStatus)
async def audit_verify(request: Request) -> ChainStatus:
    """Check the hash chain."""
    r = await run(request).read(service.verify_chain)
    return ChainStatus(ok=r.ok, entries=r.entries, broken_at=r.broken_at, reason=r.reason)
