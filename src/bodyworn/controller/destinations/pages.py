"""Settings → Content destination: what the system is locked to, and a new connection file."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response

from bodyworn.controller.audit.service import record
from bodyworn.controller.context import ControllerContext, ctx_of, render, source_of
from bodyworn.controller.destinations import service
from bodyworn.domain.connection_file import ConnectionFile, FieldError

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1/destination", tags=["content destination"])
MAX_UPLOAD = 64 * 1024


def _summary(cf: ConnectionFile) -> dict[str, object]:
    return {
        "site_name": cf.site_name,
        "application_name": cf.application_name,
        "application_version": cf.application_version,
        "authentication_token_uris": list(cf.authentication_token_uris),
        "certificates": len(cf.https_certificates),
        "container_type": cf.container_type,
        "full_store_and_read_support": cf.full_store_and_read_support,
        "want_encryption": cf.want_encryption,
        "public_key_id": cf.public_key_id,
        # What the file leaves out that the specification requires (accepted anyway).
        "warnings": [str(w) for w in cf.warnings],
    }


def _current(ctx: ControllerContext) -> dict[str, object]:
    with ctx.factory() as session:
        return _summary(service.current_file(session))


def _replace(ctx: ControllerContext, raw: bytes, actor: str, source: str) -> dict[str, object]:
    try:
        with ctx.factory() as session, session.begin():
            return _summary(service.replace(session, ctx.clock, raw, actor, source))
    except service.UpdateRefused as exc:
        with ctx.factory() as session, session.begin():
            record(session, ctx.clock, actor=actor, action="destination.replace",
                   outcome="failure", detail=str(exc)[:500], source=source)
        raise


@router.get("/settings/destination")
async def destination_page(request: Request, errors: list[FieldError] | None = None,
                           saved: bool = False) -> Response:
    """What the system is locked to, and a form for a new connection file."""
    cf = await run_in_threadpool(_current, ctx_of(request))
    return render(request, "destinations/destination.html",
                  {"cf": cf, "errors": errors or [], "saved": saved},
                  status_code=400 if errors else 200)


@router.post("/settings/destination")
async def destination_submit(request: Request) -> Response:
    """Replace the connection file within what the lock allows."""
    form = await request.form()
    upload = form.get("connection_file")
    if not isinstance(upload, UploadFile):
        return await destination_page(request, [FieldError("connection_file", "is required")])
    raw = await upload.read(MAX_UPLOAD + 1)
    try:
        await run_in_threadpool(_replace, ctx_of(request), raw,
                                request.state.account.username, source_of(request))
    except service.UpdateRefused as exc:
        return await destination_page(request, exc.errors)
    return await destination_page(request, saved=True)


@api.get("")
async def api_destination(request: Request) -> dict[str, object]:
    """What the system is locked to (the key and password are never shown)."""
    return await run_in_threadpool(_current, ctx_of(request))


@api.put("/connection-file")
async def api_replace(request: Request) -> Response:
    """Replace the connection file (body: the file's JSON) within what the lock allows."""
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_UPLOAD:
            break
    try:
        summary = await run_in_threadpool(_replace, ctx_of(request), raw,
                                          request.state.account.username, source_of(request))
    except service.UpdateRefused as exc:
        return JSONResponse({"detail": [{"field": e.field, "message": e.rule}
                                        for e in exc.errors]}, status_code=422)
    return JSONResponse(summary)
