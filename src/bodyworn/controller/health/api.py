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
    # The issues and the lamps in words (English), their places filled, as the page
    # shows them.
    answer["issues"] = [{"kind": i.kind, "message": i.english(), "link": i.link}
                        for i in board.issues]
    for group in ("controllers", "stations", "cameras"):
        for shown, device in zip(answer[group], getattr(board, group), strict=True):
            lamp = device["lamp"]
            shown["lamp"] = {"colour": lamp.colour, "pattern": lamp.pattern,
                             "title": lamp.said(str)}
    return answer
