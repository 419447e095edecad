"""JSON API of evidence integrity: the system identity certificate, binding and anchors."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from bodyworn.controller.integrity import service
from bodyworn.controller.web.routes import run

router = APIRouter(prefix="/api/v1/integrity", tags=["integrity"])


@router.get("")
async def integrity_status(request: Request) -> dict[str, Any]:
    """The system identity (certificate and fingerprint), the CD binding and anchoring."""
    return await run(request).call(service.status)


@router.get("/cameras")
async def camera_certificates(request: Request) -> list[dict[str, Any]]:
    """The device certificates issued to cameras."""
    return await run(request).read(service.camera_certificates)
