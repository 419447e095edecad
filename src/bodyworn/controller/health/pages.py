"""The dashboard page, its live partial (htmx polling) and its API twin."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from bodyworn.controller.context import ctx_of, render
from bodyworn.controller.health import service
from bodyworn.controller.setup import service as setup

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1/dashboard", tags=["dashboard"])
POLL_SECONDS = 5


async def _context(request: Request) -> dict[str, Any]:
    ctx = ctx_of(request)
    board = await run_in_threadpool(service.build, ctx)
    return {"d": board, "now_local": ctx.clock.now().astimezone(ZoneInfo(board.timezone)),
            "cloud_locations": setup.CLOUD_LOCATIONS, "poll_seconds": POLL_SECONDS}


@router.get("/")
async def dashboard(request: Request) -> Response:
    """The dashboard: every controller, docking station and camera, and what needs care."""
    return render(request, "health/dashboard.html", await _context(request))


@router.get("/dashboard/live")
async def dashboard_live(request: Request) -> Response:
    """The dashboard's live part, which the page polls."""
    return render(request, "health/live.html", await _context(request))


@api.get("")
async def dashboard_api(request: Request) -> dict[str, Any]:
    """The dashboard as JSON: controllers, stations, cameras (with lamps) and issues."""
    board = await run_in_threadpool(service.build, ctx_of(request))
    return asdict(board)
