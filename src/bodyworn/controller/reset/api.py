"""JSON twin of Support → System reset."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from bodyworn.controller.reset import service
from bodyworn.controller.web.routes import run, who

router = APIRouter(prefix="/api/v1/system/reset", tags=["system"])


class ResetOut(BaseModel):
    """Whether a reset may go ahead, and what holds it up."""

    allowed: bool
    pending: list[str]


@router.get("", response_model=ResetOut)
async def reset_state(request: Request) -> ResetOut:
    """What holds a system reset up (empty: it may go ahead)."""
    state = await run(request).call(service.state)
    return ResetOut(allowed=not state.blockers, pending=state.blockers)


@router.post("", response_model=ResetOut)
async def reset_system(request: Request) -> ResetOut:
    """Reset the system to the first-start wizard (409 with what is pending)."""
    await run(request).call(service.reset, **who(request))
    return ResetOut(allowed=True, pending=[])
