"""JSON twin of the dashboard."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request

from bodyworn.controller.health import service
from bodyworn.controller.web.routes import run

router = APIRouter(prefix="/api/v1/dashboard", tags=["dashboard"])


@router.get("")
async def dashboard_api(request: Request) -> dict[str, Any]:
    """The dashboard as JSON: controllers, stations, cameras (with lamps) and issues."""
    return asdict(await run(request).call(service.build))
