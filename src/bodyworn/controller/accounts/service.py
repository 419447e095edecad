"""Manager accounts: passwords (argon2id), login with lockout, sessions and CSRF tokens."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bodyworn.controller.accounts.models import Account, WebSession
from bodyworn.controller.audit.service import record
from bodyworn.controller.refusals import Refused
from bodyworn.domain.clock import Clock
from bodyworn.domain.passwords import password_problems

ROOT = "root"
_hasher = PasswordHasher()
# Verified against when the user name is unknown, so timing does not tell names apart.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))
BASE_LOCKOUT = timedelta(seconds=30)
MAX_LOCKOUT = timedelta(minutes=15)
LAST_SEEN_GRANULARITY = timedelta(seconds=30)


class PasswordRejected(Refused, ValueError):
    """The new password breaks a rule; `problems` says which."""

    status = 400

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class LoginFailed(Refused):
    """Wrong user name or password (deliberately not saying which)."""

    status = 401

    def __init__(self) -> None:
        super().__init__("wrong user name or password")


class LoginLocked(Refused):
    """Too many failed attempts: try again after `retry_after`."""

    status = 429

    def __init__(self, retry_after: timedelta) -> None:
        super().__init__("too many failed attempts")
        self.retry_after = retry_after

    @property
    def seconds(self) -> int:
        """Whole seconds to wait, rounded up."""
        return int(self.retry_after.total_seconds()) + 1

    def headers(self) -> dict[str, str]:
        """Retry-After."""
        return {"Retry-After": str(self.seconds)}


class PasswordChangeRefused(Refused):
    """A password change that did not happen; `problems` says why."""

    status = 400

    def __init__(self, problems: list[str], *, keep: bool = False) -> None:
        super().__init__("; ".join(problems), keep=keep)
        self.problems = problems

    def body(self) -> dict[str, Any]:
        """`{"detail": [problem, …]}`."""
        return {"detail": self.problems}


def hash_password(password: str) -> str:
    """An argon2id hash of a password."""
    return _hasher.hash(password)


def create_account(session: Session, clock: Clock, username: str, password: str) -> Account:
    """Create an account after checking the password rules."""
    problems = password_problems(password, username)
    if problems:
        raise PasswordRejected(problems)
    now = clock.now()
    account = Account(
        username=username,
        password_hash=hash_password(password),
        failed_logins=0,
        password_changed_at=now,
        created_at=now,
    )
    session.add(account)
    session.flush()
    return account


def lockout_for(failures: int, threshold: int) -> timedelta:
    """How long an account stays locked after `failures` consecutive failures."""
    if failures < threshold:
        return timedelta(0)
    # The exponent is capped so that a long run of failures cannot overflow.
    wait: timedelta = BASE_LOCKOUT * (2 ** min(failures - threshold, 16))
    return min(wait, MAX_LOCKOUT)


def authenticate(
    session: Session, clock: Clock, username: str, password: str, threshold: int
) -> Account:
    """Check a login; counts failures and locks with a growing back-off."""
    account = session.scalars(select(Account).where(Account.username == username)).first()
    if account is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        raise LoginFailed()
    now = clock.now()
    if account.locked_until is not None and account.locked_until > now:
        raise LoginLocked(account.locked_until - now)
    try:
        _hasher.verify(account.password_hash, password)
    except (VerificationError, InvalidHashError):
        account.failed_logins += 1
        wait = lockout_for(account.failed_logins, threshold)
        account.locked_until = now + wait if wait else None
        raise LoginFailed() from None
    account.failed_logins = 0
    account.locked_until = None
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    return account


def change_password(
    session: Session, clock: Clock, account: Account, current: str, new: str
) -> None:
    """Replace the password after checking the current one and the rules for the new one."""
    try:
        _hasher.verify(account.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise LoginFailed() from None
    problems = password_problems(new, account.username)
    if problems:
        raise PasswordRejected(problems)
    account.password_hash = hash_password(new)
    account.password_changed_at = clock.now()
    # Every other browser logged in as this account must log in again.
    session.execute(delete(WebSession).where(WebSession.account_id == account.id))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewSession:
    """The secret cookie value (shown once) and the session's CSRF token."""

    token: str
    csrf_token: str


def open_session(session: Session, clock: Clock, account: Account, source: str) -> NewSession:
    """Start a browser session; only the token's hash is stored."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = clock.now()
    session.add(
        WebSession(
            token_hash=_token_hash(token),
            csrf_token=csrf,
            account_id=account.id,
            created_at=now,
            last_seen_at=now,
            source=source[:64],
        )
    )
    session.flush()
    return NewSession(token, csrf)


def resolve_session(
    session: Session, clock: Clock, token: str, idle: timedelta
) -> tuple[WebSession, Account] | None:
    """The live session for a cookie value, touched; None when unknown or idle too long."""
    web = session.scalars(
        select(WebSession).where(WebSession.token_hash == _token_hash(token))
    ).first()
    if web is None:
        return None
    now = clock.now()
    if now - web.last_seen_at > idle:
        session.delete(web)
        return None
    if now - web.last_seen_at > LAST_SEEN_GRANULARITY:
        web.last_seen_at = now
    account = session.get(Account, web.account_id)
    if account is None:
        return None
    return web, account


def close_session(session: Session, token: str) -> None:
    """Log out: forget the session."""
    session.execute(delete(WebSession).where(WebSession.token_hash == _token_hash(token)))


def csrf_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison of CSRF tokens."""
    return bool(given) and secrets.compare_digest(expected, given or "")


def account_by_name(session: Session, username: str) -> Account | None:
    """Look an account up by user name."""
    return session.scalars(select(Account).where(Account.username == username)).first()


def login(session: Session, clock: Clock, username: str, password: str, threshold: int,
          source: str) -> NewSession:
    """Check credentials and open a session, audited; a refusal keeps its entry and count."""
    try:
        account = authenticate(session, clock, username, password, threshold)
    except (LoginFailed, LoginLocked) as exc:
        outcome = "denied" if isinstance(exc, LoginLocked) else "failure"
        record(session, clock, actor=username[:64] or "?", action="login", outcome=outcome,
               source=source)
        exc.keep = True  # the failure count and the audit entry stay
        raise
    new = open_session(session, clock, account, source)
    record(session, clock, actor=account.username, action="login", source=source)
    return new


def logout(session: Session, clock: Clock, token: str, *, actor: str, source: str) -> None:
    """End one browser session, audited."""
    close_session(session, token)
    record(session, clock, actor=actor, action="logout", source=source)


def _account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise LookupError(f"no account {account_id}")
    return account


def password_change(session: Session, clock: Clock, account_id: int, current: str, new: str,
                    confirm: str, *, source: str) -> None:
    """Change an account's password, audited either way (PasswordChangeRefused: why not)."""
    if new != confirm:
        raise PasswordChangeRefused(["The new passwords do not match."])
    account = _account(session, account_id)
    try:
        change_password(session, clock, account, current, new)
    except LoginFailed:
        problems = ["The current password is wrong."]
    except PasswordRejected as exc:
        problems = exc.problems
    else:
        record(session, clock, actor=account.username, action="password.change",
               source=source)
        return
    record(session, clock, actor=account.username, action="password.change",
           outcome="failure", source=source, detail=problems[0])
    raise PasswordChangeRefused(problems, keep=True)


def reopen_session(session: Session, clock: Clock, account_id: int, source: str) -> NewSession:
    """A new browser session for an account whose sessions a password change ended."""
    return open_session(session, clock, _account(session, account_id), source)
