"""Queue user and device objects for the content destination; the offload engine delivers."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from bodyworn.controller.outbox.models import CdPendingObject
from bodyworn.domain.clock import Clock

Kind = Literal["user", "device"]
Action = Literal["upsert", "deactivate"]


def user_payload(*, name: str, user_id: str | None, cd_username: str | None,
                 active: bool = True) -> dict[str, Any]:
    """What the content destination is told about a body worn user."""
    return {"active": active, "name": name, "user_id": user_id, "cd_username": cd_username}


def device_payload(*, serial: str, model: str, firmware: str, user_uuid: str | None,
                   active: bool = True) -> dict[str, Any]:
    """What the content destination is told about a camera."""
    return {"active": active, "serial": serial, "model": model, "firmware": firmware,
            "user_uuid": user_uuid}


def _row(clock: Clock, kind: Kind, ref: str, action: Action,
         payload: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kind": kind, "ref": ref, "action": action,
        "payload_json": json.dumps(dict(payload), ensure_ascii=False, sort_keys=True),
        "created_at": clock.now(), "delivered_at": None,
    }


def enqueue(session: Session, clock: Clock, kind: Kind, ref: str, action: Action,
            payload: Mapping[str, Any]) -> None:
    """Queue one object in the caller's transaction (it is queued only if the change commits)."""
    session.execute(insert(CdPendingObject), [_row(clock, kind, ref, action, payload)])


def enqueue_many(session: Session, clock: Clock, kind: Kind, action: Action,
                 items: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
    """Queue many objects of one kind and action in one statement (bulk import)."""
    if items:
        session.execute(insert(CdPendingObject),
                        [_row(clock, kind, ref, action, payload) for ref, payload in items])


def pending(session: Session, limit: int = 500) -> Sequence[CdPendingObject]:
    """Undelivered objects, oldest first (deliver in this order: a later change wins)."""
    stmt = (select(CdPendingObject).where(CdPendingObject.delivered_at.is_(None))
            .order_by(CdPendingObject.id).limit(limit))
    return session.scalars(stmt).all()


def first_writes(session: Session, rows: Sequence[CdPendingObject]) -> set[int]:
    """Ids of the rows that are the first ever queued for their object: a create at the CD.

    The others update an object written before (the CD's answer decides if it is there).
    """
    refs = {r.ref for r in rows}
    if not refs:
        return set()
    first = session.execute(
        select(func.min(CdPendingObject.id))
        .where(CdPendingObject.ref.in_(refs))
        .group_by(CdPendingObject.kind, CdPendingObject.ref)
    ).scalars()
    return set(first) & {r.id for r in rows}


def mark_delivered(session: Session, clock: Clock, ids: Sequence[int]) -> None:
    """Record that the content destination acknowledged these objects."""
    for row in session.scalars(select(CdPendingObject).where(CdPendingObject.id.in_(ids))):
        row.delivered_at = clock.now()


def payload_of(row: CdPendingObject) -> dict[str, Any]:
    """The object's content as queued."""
    data: dict[str, Any] = json.loads(row.payload_json)
    return data
