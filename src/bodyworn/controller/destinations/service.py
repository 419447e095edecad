"""The content destination the system is locked to, and replacing its connection file."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bodyworn.cdclient.client import CDClient, RetryPolicy
from bodyworn.cdclient.config import CDConnection
from bodyworn.controller.audit.service import record
from bodyworn.controller.destinations.models import CONNECTION_FILE_PURPOSE, ContentDestination
from bodyworn.controller.events import SettingsChanged, emit
from bodyworn.controller.refusals import FieldsRefused
from bodyworn.domain.clock import Clock, utcnow
from bodyworn.domain.connection_file import (
    ConnectionFile,
    ConnectionFileError,
    check_update,
    parse_connection_file,
)
from bodyworn.store.secrets import box_of

MAX_FILE = 64 * 1024  # bytes of a connection file read from a request


class UpdateRefused(FieldsRefused):
    """The new file is invalid or changes what the lock forbids; nothing was written."""

    @staticmethod
    def describe(error: Any) -> str:
        """The rule the field breaks."""
        return str(error.rule)


def seal_connection_file(session: Session, file: ConnectionFile) -> bytes:
    """The file as stored: its uploaded text (BOM dropped), sealed with the secrets key."""
    text = file.raw.decode("utf-8-sig")
    return box_of(session).seal(text.encode("utf-8"), CONNECTION_FILE_PURPOSE)


def _stored(session: Session, row: ContentDestination) -> ConnectionFile:
    raw = box_of(session).open(row.connection_file_sealed, CONNECTION_FILE_PURPOSE)
    return parse_connection_file(raw)


def current_file(session: Session) -> ConnectionFile:
    """The connection file in force."""
    row = session.get(ContentDestination, 1)
    if row is None:
        raise LookupError("no content destination: setup has not finished")
    return _stored(session, row)


class ConnectionFileClients:
    """Clients of the CD the connection file in force names (ports.CdClientFactory)."""

    def __init__(self, factory: sessionmaker[Session], clock: Clock) -> None:
        self._factory = factory
        self._clock = clock
        # Told of each answer of the CD (status, Date header): app.py gives the health
        # state's, which compares the CD's clock with ours.
        self.on_answer: Callable[[int | None, str | None], None] | None = None

    def _file(self) -> ConnectionFile:
        with self._factory() as session:
            return current_file(session)

    def key(self) -> str:
        """The connection file's text (a replaced file means a new client)."""
        return self._file().raw.decode("utf-8", "replace")

    def make(self, retry: RetryPolicy) -> CDClient:
        """A client of the CD the file names; LookupError before setup."""
        return CDClient(CDConnection.from_parsed(self._file()), retry=retry, clock=self._clock,
                        on_answer=self.on_answer)


def lock_to(session: Session, connection: ConnectionFile, now: datetime) -> None:
    """The content destination the system is locked to, set once (by setup)."""
    session.add(ContentDestination(
        id=1, connection_file_sealed=seal_connection_file(session, connection),
        site_name=connection.site_name,
        application_name=connection.application_name,
        full_store_and_read=connection.full_store_and_read_support,
        want_encryption=connection.want_encryption, updated_at=now))


def summary(cf: ConnectionFile) -> dict[str, object]:
    """What the manager shows of a connection file (the key and password never)."""
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


def current_summary(session: Session) -> dict[str, object]:
    """The summary of the connection file in force."""
    return summary(current_file(session))


def _checked(session: Session, row: ContentDestination, raw: bytes) -> ConnectionFile:
    try:
        # Certificates are judged by the host's clock, the one TLS checks them with.
        new = parse_connection_file(raw, now=utcnow())
    except ConnectionFileError as exc:
        raise UpdateRefused(exc.errors) from None
    errors = check_update(_stored(session, row), new)
    if errors:
        raise UpdateRefused(errors)
    return new


def replace(
    session: Session, clock: Clock, raw: bytes, actor: str, source: str
) -> ConnectionFile:
    """Replace the connection file when the new one is valid and the lock allows it.

    A refusal is audited (and the entry kept).
    """
    row = session.get(ContentDestination, 1)
    if row is None:
        raise LookupError("no content destination: setup has not finished")
    try:
        new = _checked(session, row, raw)
    except UpdateRefused as exc:
        record(session, clock, actor=actor, action="destination.replace",
               outcome="failure", detail=str(exc)[:500], source=source)
        exc.keep = True
        raise
    row.connection_file_sealed = seal_connection_file(session, new)
    row.site_name = new.site_name
    row.application_name = new.application_name
    row.full_store_and_read = new.full_store_and_read_support
    row.want_encryption = new.want_encryption
    row.updated_at = clock.now()
    record(session, clock, actor=actor, action="destination.replace",
           detail=f"site '{new.site_name}', application '{new.application_name}'", source=source)
    emit(session, SettingsChanged(frozenset({"connection_file"})))
    return new
