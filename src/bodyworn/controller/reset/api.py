"""JSON twin of Support → System reset."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from bodyworn.controller.reset import service
from bodyworn.controller.web.routes import run, who

router = APIRouter(prefix="/api/v1/system/reset", tags=["system"])


class ResetOut(BaseModel):
    """Whether a reset may go ahead, and what holds it up."""

    allowed: bool
    pending: list[str]


class ResetBody(BaseModel):
    """The reset must be asked for in so many words."""

    model_config = ConfigDict(extra="forbid")
    # A strict boolean that must be true: Literal[True] took {"confirm": 1} for yes (1 ==
    # True to its lookup) and reset the system.
    confirm: StrictBool = Field(json_schema_extra={"const": True})

    @field_validator("confirm")
    @classmethod
    def _said_yes(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError("confirm the reset with true")
        return value


@router.get("", response_model=ResetOut)
async def reset_state(request: Request) -> ResetOut:
    """What holds a system reset up (empty: it may go ahead)."""
    state = await run(request).call(service.state)
    return ResetOut(allowed=not state.blockers, pending=state.blockers)


@router.post("", response_model=ResetOut)
async def reset_system(request: Request, _body: ResetBody) -> ResetOut:
    """Reset the system to the first-start wizard (`{"confirm": true}`; 409 with what is
    pending). A session only: an API token cannot reset the system."""
    await run(request).call(service.reset, **who(request))
    return ResetOut(allowed=True, pending=[])
