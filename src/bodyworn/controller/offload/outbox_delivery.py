"""Outbox delivery: queued users and devices to the CD, oldest first, before any recording."""

from __future__ import annotations

from functools import partial
from typing import Any

import structlog
from sqlalchemy.orm import Session

from bodyworn.cdclient.client import CDClient
from bodyworn.cdclient.errors import ContentRejected
from bodyworn.cdclient.records import CDDevice, CDUser
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.offload.base import in_transaction
from bodyworn.controller.outbox import service as outbox

log = structlog.get_logger(__name__)
Queued = tuple[int, str, str, str, dict[str, Any], bool]


def _queued(session: Session) -> list[Queued]:
    rows = outbox.pending(session)
    # A new object is created with one PUT; only a later change is a POST.
    first = outbox.first_writes(session, rows)
    return [(r.id, r.kind, r.ref, r.action, outbox.payload_of(r), r.id not in first)
            for r in rows]


async def deliver_outbox(ctx: ControllerContext, cd: CDClient) -> None:
    """Write queued users and devices to the CD, each marked delivered once it is there."""
    for row_id, kind, ref, action, payload, update in await in_transaction(
            ctx.factory, _queued):
        active = action != "deactivate"
        try:
            if kind == "user":
                await cd.put_user(CDUser(ref, str(payload.get("name", "")),
                                         payload.get("user_id"), active=active),
                                  update=update)
            else:
                await cd.put_device(CDDevice(ref, str(payload.get("name", ref)),
                                             str(payload.get("model", "")), active=active),
                                    update=update)
        except ContentRejected as exc:
            # Never storable as it is: holding the queue for it would hold every
            # recording too; its recordings then follow the rejected-content rules.
            log.warning("offload.object_rejected", kind=kind, ref=ref, error=str(exc))
        await in_transaction(ctx.factory, partial(outbox.mark_delivered, clock=ctx.clock,
                                                  ids=[row_id]))
