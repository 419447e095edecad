"""The audit log page: readable entries, filters by who, what and when, CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session
from starlette.concurrency import iterate_in_threadpool
from starlette.responses import Response, StreamingResponse

from bodyworn.controller import display
from bodyworn.controller.audit import service, words
from bodyworn.controller.context import ControllerContext, ctx_of, render
from bodyworn.controller.web.params import OffsetQuery
from bodyworn.controller.web.routes import run

router = APIRouter(include_in_schema=False)
PAGE = 200


def _text() -> Any:
    # A Query each: FastAPI keeps a parameter's name on its Query, so none is shared.
    return Query("", max_length=64)


def _date() -> Any:
    return Query("", max_length=10)


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _filter(ctx: ControllerContext, actor: str, action: str, since: str, until: str
            ) -> service.AuditFilter:
    """The filter of the form: days are whole days in the system's time zone."""
    zone = display.zone_of(ctx.timezone)
    first, last = _day(since), _day(until)
    return service.AuditFilter(
        actor=actor, action=action,
        since=datetime.combine(first, time(), zone) if first else None,
        until=datetime.combine(last + timedelta(days=1), time(), zone) if last else None)


def _page(session: Session, where: service.AuditFilter, offset: int) -> dict[str, Any]:
    entries, total = service.search(session, where, PAGE, offset)
    names = service.user_names(session, words.uuids_in([e.detail for e in entries]))
    actors, actions = service.choices(session)
    return {"entries": [{"e": e, "detail": words.readable_detail(e.detail, names)}
                        for e in entries],
            "total": total, "actors": actors, "actions": actions}


@router.get("/audit")
async def audit_page(request: Request, offset: OffsetQuery = 0, actor: str = _text(),
                     action: str = _text(), since: str = _date(),
                     until: str = _date()) -> Response:
    """The audit log, newest first, and whether its hash chain holds."""
    where = _filter(ctx_of(request), actor, action, since, until)
    found = await run(request).read(_page, where, offset)
    chain = await run(request).read(service.verify_chain)
    query = {"actor": actor, "action": action, "since": since, "until": until}
    return render(request, "audit/list.html", {
        **found, "chain": chain, "offset": offset, "page": PAGE, "q": query,
        "action_words": words.action_words, "outcomes": words.OUTCOMES,
        "actor_words": words.ACTORS})


CSV_COLUMNS = ("entry", "time_utc", "time_local", "who", "action", "what", "outcome", "from",
               "detail", "entry_hash")


def _csv_lines(ctx: ControllerContext, where: service.AuditFilter) -> Iterator[str]:
    """The export, a line at a time, read in one transaction."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    with ctx.factory() as session:
        for e in service.every(session, where):
            writer.writerow([
                e.id, e.at.isoformat().replace("+00:00", "Z"),
                display.local_time(e.at, ctx.timezone, seconds=True), e.actor, e.action,
                words.action_words(e.action), e.outcome, e.source, _safe(e.detail),
                e.entry_hash])
            if out.tell() > 64 * 1024:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
    yield out.getvalue()


def _safe(text: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get("/audit.csv")
async def audit_csv(request: Request, actor: str = _text(), action: str = _text(),
                    since: str = _date(), until: str = _date()) -> Response:
    """The entries the filters let through as CSV (times in UTC and in the system's zone)."""
    ctx = ctx_of(request)
    where = _filter(ctx, actor, action, since, until)
    stamp = ctx.clock.now().strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        iterate_in_threadpool(_csv_lines(ctx, where)), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"',
                 "Cache-Control": "no-store"})
