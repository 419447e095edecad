"""Manager accounts: passwords (argon2id), login with lockout, sessions and CSRF tokens."""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import case, delete, literal, null, or_, select, update
from sqlalchemy.orm import Session

from bodyworn.controller.accounts.models import Account, WebSession
from bodyworn.controller.audit.service import record
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.refusals import Refused
from bodyworn.domain.clock import Clock
from bodyworn.domain.passwords import password_problems
from bodyworn.domain.throttle import MAX_LOCKOUT, lockout_steps
from bodyworn.store.types import UTCDateTime

ROOT = "root"
_hasher = PasswordHasher()
# Verified against when no password is to be checked (an unknown name, a locked account),
# so that every failed login costs the same hashing time.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))
# Each verification takes tens of megabytes: a burst of logins is hashed a few at a time,
# so memory stays bounded (every kind of answer waits its turn alike).
_HASH_SLOTS = threading.BoundedSemaphore(4)
LAST_SEEN_GRANULARITY = timedelta(seconds=30)
NAME_MAX = 64  # Account.username


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


def _verify(password_hash: str, password: str) -> bool:
    with _HASH_SLOTS:
        try:
            return bool(_hasher.verify(password_hash, password))
        except (VerificationError, InvalidHashError):
            return False


@dataclass(frozen=True)
class _Charged:
    account_id: int
    password_hash: str


def _charge_account(session: Session, clock: Clock, username: str,
                    threshold: int) -> _Charged | None:
    """Count a guess against the named account before it is checked, in one atomic
    UPDATE … RETURNING that also sets the lock this failure would earn; None when there is
    no such account or it is locked (nothing is changed then)."""
    now = clock.now()
    failures = Account.failed_logins + 1

    def at(wait: timedelta) -> object:
        return literal(now + wait, UTCDateTime())

    lock = case(
        (failures < threshold, null()),
        *[(failures == n, at(wait)) for n, wait in lockout_steps(threshold)],
        else_=at(MAX_LOCKOUT),
    )
    stmt = (
        update(Account)
        .where(Account.username == username,
               or_(Account.locked_until.is_(None), Account.locked_until <= now))
        .values(failed_logins=failures, locked_until=lock)
        .returning(Account.id, Account.password_hash)
        .execution_options(synchronize_session=False)
    )
    row = session.execute(stmt).first()
    return _Charged(row[0], row[1]) if row else None


def login(ctx: ControllerContext, username: str, password: str, source: str) -> NewSession:
    """Check a login, audited; a new session on success.

    The guess is counted (and the lock it would earn set) and committed before the
    password hash is checked, outside any transaction; a right password clears the count.
    Names without an account are counted the same way in `throttle`, and a locked account
    or an unknown name costs the same hash as a wrong password: no answer and no timing
    tells whether a name exists. Runs its own transactions: a route calls it with
    `run(request).call`.
    """
    factory, clock, throttle = ctx.factory, ctx.clock, ctx.login_throttle
    threshold = ctx.settings.lockout_threshold
    wait: timedelta | None = None
    with factory() as session, session.begin():
        charged = _charge_account(session, clock, username, threshold)
        if charged is None:
            now = clock.now()
            known = session.execute(
                select(Account.id, Account.locked_until).where(Account.username == username)
            ).first()
            if known is None:
                # No account name is longer; the bound keeps the throttle's memory small.
                wait = throttle.charge(username[:NAME_MAX], now, threshold)
            else:  # locked (or unlocked by a login an instant ago: try again)
                locked_until = known[1]
                wait = max(locked_until - now if locked_until else timedelta(0),
                           timedelta(seconds=1))
    ok = _verify(charged.password_hash if charged and wait is None else _DUMMY_HASH, password)
    ok = ok and charged is not None and wait is None
    with factory() as session, session.begin():
        account = session.get(Account, charged.account_id) if ok and charged else None
        if account is not None:
            account.failed_logins = 0
            account.locked_until = None
            if _hasher.check_needs_rehash(account.password_hash):
                account.password_hash = hash_password(password)
            new = open_session(session, clock, account, source)
            record(session, clock, actor=account.username, action="login", source=source)
            return new
        record(session, clock, actor=username[:64] or "?", action="login",
               outcome="denied" if wait is not None else "failure", source=source)
    if wait is not None:
        raise LoginLocked(wait)
    raise LoginFailed()


def change_password(
    session: Session, clock: Clock, account: Account, current: str, new: str
) -> None:
    """Replace the password after checking the current one and the rules for the new one."""
    if not _verify(account.password_hash, current):
        raise LoginFailed()
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
