"""The content destination the system is locked to, and replacing its connection file."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bodyworn.controller.audit.service import record
from bodyworn.controller.destinations.models import ContentDestination
from bodyworn.domain.clock import Clock
from bodyworn.domain.connection_file import (
    ConnectionFile,
    ConnectionFileError,
    FieldError,
    check_update,
    parse_connection_file,
)


class UpdateRefused(Exception):
    """The new file is invalid or changes what the lock forbids; nothing was written."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.rule}" for e in errors))
        self.errors = errors


def current_file(session: Session) -> ConnectionFile:
    """The connection file in force."""
    row = session.get(ContentDestination, 1)
    if row is None:
        raise LookupError("no content destination: setup has not finished")
    return parse_connection_file(row.raw_json.encode("utf-8"))


def replace(
    session: Session, clock: Clock, raw: bytes, actor: str, source: str
) -> ConnectionFile:
    """Replace the connection file when the new one is valid and the lock allows it."""
    try:
        new = parse_connection_file(raw)
    except ConnectionFileError as exc:
        raise UpdateRefused(exc.errors) from None
    row = session.get(ContentDestination, 1)
    if row is None:
        raise LookupError("no content destination: setup has not finished")
    errors = check_update(parse_connection_file(row.raw_json.encode("utf-8")), new)
    if errors:
        raise UpdateRefused(errors)
    row.raw_json = new.raw.decode("utf-8-sig")
    row.site_name = new.site_name
    row.application_name = new.application_name
    row.full_store_and_read = new.full_store_and_read_support
    row.want_encryption = new.want_encryption
    row.updated_at = clock.now()
    record(session, clock, actor=actor, action="destination.replace",
           detail=f"site '{new.site_name}', application '{new.application_name}'", source=source)
    return new
