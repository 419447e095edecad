"""JSON twin of the transfer status page."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from bodyworn.controller.context import ctx_of
from bodyworn.controller.offload import service

router = APIRouter(prefix="/api/v1/transfers", tags=["transfers"])


@router.get("")
async def list_transfers(request: Request, camera: str | None = None) -> dict[str, Any]:
    """Transfer state per camera, recording and clip (optionally of one camera)."""
    ctx = ctx_of(request)

    def load() -> list[dict[str, Any]]:
        with ctx.factory() as session:
            return [asdict(c) for c in service.transfers(session, camera)]

    engine = getattr(ctx, "offload", None)
    return {"cameras": await run_in_threadpool(load),
            "cd_storage_full": getattr(engine, "cd_storage_full", None)}
