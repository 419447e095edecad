"""The dashboard page and its live partial (htmx polling)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from bodyworn.controller.context import ctx_of, render
from bodyworn.controller.health import legend, service
from bodyworn.controller.setup import service as setup
from bodyworn.controller.web.routes import run

router = APIRouter(include_in_schema=False)
POLL_SECONDS = 5


async def _context(request: Request) -> dict[str, Any]:
    board = await run(request).call(service.build)
    now = ctx_of(request).clock.now()
    return {"d": board, "now": now, "legend": legend.LEGEND,
            "cloud_locations": setup.CLOUD_LOCATIONS, "poll_seconds": POLL_SECONDS}


@router.get("/")
async def dashboard(request: Request) -> Response:
    """The dashboard: every controller, docking station and camera, and what needs care."""
    return render(request, "health/dashboard.html", await _context(request))


@router.get("/dashboard/live")
async def dashboard_live(request: Request) -> Response:
    """The dashboard's live part, which the page polls."""
    return render(request, "health/live.html", await _context(request))
