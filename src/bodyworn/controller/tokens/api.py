"""JSON twins of Settings → API tokens (a logged-in person only: a token cannot make tokens)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from bodyworn.controller.tokens import service
from bodyworn.controller.web.params import RowIdPath
from bodyworn.controller.web.routes import run, who

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])


class TokenInfo(BaseModel):
    """A token as listed (never its value)."""

    id: int
    name: str
    access: str
    hint: str
    created_by: str
    created_at: datetime
    last_used_at: datetime | None


class NewToken(TokenInfo):
    """A token just made: `token` is shown this once."""

    token: str


class TokenBody(BaseModel):
    """A name and `read` or `read-write`."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=service.NAME_MAX)
    access: str = Field(default=service.READ, max_length=12)


def _info(row: object) -> dict[str, object]:
    return {k: getattr(row, k) for k in TokenInfo.model_fields}


@router.get("", response_model=list[TokenInfo])
async def list_tokens(request: Request) -> list[TokenInfo]:
    """Every token (names, access, when last used)."""
    rows = await run(request).read(service.tokens)
    return [TokenInfo.model_validate(_info(r)) for r in rows]


@router.post("", response_model=NewToken, status_code=201)
async def create_token(request: Request, body: TokenBody) -> Response:
    """Make a token; the answer holds its value, which is not kept and not shown again."""
    row, value = await run(request).write(service.create, body.name, body.access,
                                          **who(request))
    new = NewToken.model_validate({**_info(row), "token": value})
    return JSONResponse(new.model_dump(mode="json"), status_code=201,
                        headers={"Cache-Control": "no-store"})


@router.delete("/{token_id}", status_code=204)
async def revoke_token(request: Request, token_id: RowIdPath) -> Response:
    """Revoke a token."""
    await run(request, f"no token {token_id}").write(service.revoke, token_id, **who(request))
    return Response(status_code=204)
