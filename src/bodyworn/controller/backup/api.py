"""JSON twins of Settings → System backup."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from bodyworn.controller.backup import service, targets
from bodyworn.controller.context import ctx_of
from bodyworn.controller.web.routes import run, who

router = APIRouter(prefix="/api/v1/backup", tags=["backup"])


class BackupOut(BaseModel):
    """The backup's configuration and its last outcome."""

    configured: bool
    target: str
    target_label: str
    interval_hours: float
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_size: int | None
    last_error: str | None
    failing: bool
    next_due_at: datetime | None
    choices: dict[str, str]


class ConfigureBody(BaseModel):
    """Where backups go ("folder:<absolute path>" or a listed target) and how often."""

    model_config = ConfigDict(extra="forbid")
    target: str = Field(max_length=1024)
    interval_hours: float = Field(default=24.0, ge=1, le=168)
    passphrase: str = Field(max_length=4096)


class RunOut(BaseModel):
    """How one backup went."""

    ok: bool
    detail: str
    size: int


def _out(request: Request, status: service.BackupStatus) -> BackupOut:
    choices = {t.key: t.label for t in targets.choices(ctx_of(request))}
    return BackupOut(**status.__dict__, choices=choices)


@router.get("", response_model=BackupOut)
async def get_backup(request: Request) -> BackupOut:
    """The backup's configuration, its last outcome and the targets there are to choose."""
    return _out(request, await run(request).read(service.status))


@router.put("", response_model=BackupOut)
async def configure_backup(request: Request, body: ConfigureBody) -> BackupOut:
    """Configure the backup (the super admin passphrase required)."""
    ctx = ctx_of(request)
    kind, _, folder = body.target.partition(":")
    key = service.target_of(ctx, "folder" if kind == "folder" else "controller", folder,
                            body.target)
    status = await run(request).call(service.configure, target=key,
                                     interval_hours=body.interval_hours,
                                     passphrase=body.passphrase, **who(request))
    return _out(request, status)


@router.post("/run", response_model=RunOut)
async def run_backup(request: Request) -> RunOut:
    """Back up now; the outcome says how it went (a failed send is not an HTTP error)."""
    outcome = await run(request).call(service.run_backup, **who(request))
    return RunOut(ok=outcome.ok, detail=outcome.detail, size=outcome.size)
