"""The audit log page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from bodyworn.controller.audit import service
from bodyworn.controller.context import render
from bodyworn.controller.web.params import OffsetQuery
from bodyworn.controller.web.routes import run

router = APIRouter(include_in_schema=False)
PAGE = 200


@router.get("/audit")
async def audit_page(request: Request, offset: OffsetQuery = 0) -> Response:
    """The newest audit entries and whether the chain holds."""
    entries = await run(request).read(service.latest, PAGE, offset)
    chain = await run(request).read(service.verify_chain)
    return render(request, "audit/list.html", {"entries": entries, "chain": chain,
                                               "offset": offset})
