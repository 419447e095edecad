"""JSON twin of the dashboard."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from bodyworn.controller.health import service
from bodyworn.controller.web.routes import run

router = APIRouter(prefix="/api/v1/dashboard", tags=["dashboard"])


@router.get("")
async def dashboard_api(request: Request) -> dict[str, Any]:
    """The dashboard as JSON: controllers, stations, cameras (with lamps) and issues."""
    board = await run(request).call(service.build)
    # The issues and the lamps in words (English), their places filled, as the page
    # shows them.
    return service.in_words(board)
