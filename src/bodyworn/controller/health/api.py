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
    board = await run(request).call(service.build)
    answer = asdict(board)
    # The issues in words (English), their places filled, as the page shows them.
    answer["issues"] = [{"kind": i.kind, "message": i.text(str, _english_plural),
                         "link": i.link} for i in board.issues]
    return answer


def _english_plural(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural
