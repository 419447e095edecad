"""REST API tokens: made by an administrator, shown once, stored as a hash, revoked by name.

A token is `bwt_` and 43 characters of a 256-bit random value. Only its sha256 is kept
(the value is random, so a fast hash cannot be searched back), with its first characters
as a hint. A read-only token may only read (GET); a read-write token may also change what
the API changes, except the tokens themselves and the account's password, which need a
person logged in (accounts/guard.py).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bodyworn.controller.audit.service import record
from bodyworn.controller.refusals import FieldError, FieldsRefused
from bodyworn.controller.tokens.models import ApiToken
from bodyworn.domain.clock import Clock
from bodyworn.domain.text import fold

PREFIX = "bwt_"
READ, READ_WRITE = "read", "read-write"
ACCESS_LABELS: dict[str, str] = {READ: "Read only", READ_WRITE: "Read and write"}
NAME_MAX = 64
TOKEN_MAX = 128
HINT_CHARS = 8
USED_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenCaller:
    """Who a request with a valid token is, in the place of a logged-in account."""

    token_id: int
    name: str
    access: str

    @property
    def username(self) -> str:
        """The actor in the audit log."""
        return f"token:{self.name}"

    @property
    def can_write(self) -> bool:
        """Whether the token may change things."""
        return self.access == READ_WRITE


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> list[FieldError]:
    """A token's name: one line, 1 to 64 characters."""
    if not name or len(name) > NAME_MAX or not name.isprintable():
        return [FieldError("name", "must be 1 to 64 characters on one line")]
    return []


def create(session: Session, clock: Clock, name: str, access: str, *, actor: str,
           source: str) -> tuple[ApiToken, str]:
    """A new token; its value is returned this once and never stored."""
    name = name.strip()
    errors = check_name(name)
    if access not in ACCESS_LABELS:
        errors.append(FieldError("access", "must be read or read-write"))
    if not errors and session.scalar(select(ApiToken.id).where(ApiToken.name_key == fold(name))):
        errors.append(FieldError("name", "is taken by another token"))
    if errors:
        raise FieldsRefused(errors)
    value = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, token_hash=_hash(value), hint=value[:len(PREFIX) + HINT_CHARS],
                   access=access, created_by=actor[:64], created_at=clock.now())
    session.add(row)
    session.flush()
    record(session, clock, actor=actor, action="token.create",
           detail=f"'{name}', {ACCESS_LABELS[access].lower()}", source=source)
    return row, value


def revoke(session: Session, clock: Clock, token_id: int, *, actor: str, source: str) -> None:
    """Revoke a token: it stops working at once (LookupError when there is none)."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise LookupError(f"no token {token_id}")
    session.delete(row)
    record(session, clock, actor=actor, action="token.revoke", detail=f"'{row.name}'",
           source=source)


def tokens(session: Session) -> Sequence[ApiToken]:
    """Every token, by name."""
    return session.scalars(select(ApiToken).order_by(ApiToken.name_key)).all()


def resolve(session: Session, clock: Clock, token: str) -> TokenCaller | None:
    """The caller a presented token stands for (its use noted), or None."""
    if not token.startswith(PREFIX) or len(token) > TOKEN_MAX:
        return None
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == _hash(token))).first()
    if row is None:
        return None
    now = clock.now()
    if row.last_used_at is None or now - row.last_used_at > USED_GRANULARITY:
        row.last_used_at = now
    return TokenCaller(row.id, row.name, row.access)
