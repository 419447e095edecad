"""Settings → API tokens: create (shown once), list, revoke."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from bodyworn.controller.context import render
from bodyworn.controller.refusals import FieldError, FieldsRefused
from bodyworn.controller.tokens import service
from bodyworn.controller.web.params import RowIdPath
from bodyworn.controller.web.routes import run, who

router = APIRouter(include_in_schema=False)


async def _page(request: Request, *, errors: list[FieldError] | None = None,
                created: tuple[str, str] | None = None, saved: str | None = None,
                status_code: int = 200) -> Response:
    rows = await run(request).read(service.tokens)
    response = render(request, "tokens/tokens.html", {
        "tokens": rows, "labels": service.ACCESS_LABELS, "created": created, "saved": saved,
        "errors": {e.field: e.message for e in errors or []},
    }, status_code=status_code)
    if created:
        response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/settings/api-tokens")
async def tokens_page(request: Request) -> Response:
    """Settings → API tokens."""
    return await _page(request)


@router.post("/settings/api-tokens")
async def tokens_create(request: Request, name: str = Form(""),
                        access: str = Form(service.READ)) -> Response:
    """Make a token and show it this once."""
    try:
        row, value = await run(request).write(service.create, name, access, **who(request))
    except FieldsRefused as exc:
        return await _page(request, errors=exc.errors, status_code=400)
    return await _page(request, created=(row.name, value))


@router.post("/settings/api-tokens/{token_id}/revoke")
async def tokens_revoke(request: Request, token_id: RowIdPath) -> Response:
    """Revoke a token."""
    await run(request, "No such token.").write(service.revoke, token_id, **who(request))
    return await _page(request, saved="The token was revoked.")
