"""The evidence browser's one login: an argon2id password hash in the data dir, sessions, CSRF.

The password is generated at first start (and printed once by the CLI) or set from a
file; only its argon2id hash is kept. Sessions live in memory, so a restart logs
everyone out, which is acceptable for a single-admin browser.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bodyworn.domain.clock import Clock
from bodyworn.domain.user_files import UserFileError, read_user_text
from bodyworn.store.files import make_dirs_durable, write_file_atomic

PASSWORD_FILE = "browser-password.argon2"  # noqa: S105 - a file name, not a password
MIN_PASSWORD_LENGTH = 12
# Wrong passwords in a row before the browser locks (then 30 s, doubling up to 15 min).
LOGIN_THRESHOLD = 5
SESSION_TTL = timedelta(hours=8)

_hasher = PasswordHasher()  # argon2id with the library's current parameters


class PasswordRefused(ValueError):
    """A browser password that is too short or unreadable."""


def set_browser_password(data_dir: Path, password: str) -> None:
    """Store the argon2id hash of `password` (owner-readable only), replacing any old one."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRefused(
            f"the browser password needs at least {MIN_PASSWORD_LENGTH} characters"
        )
    # Durably (the folder fsynced too): after a power cut a CD that found no password
    # would make a new one.
    make_dirs_durable(data_dir)
    write_file_atomic(data_dir / PASSWORD_FILE, (_hasher.hash(password) + "\n").encode("ascii"))


def ensure_browser_password(data_dir: Path, password_file: Path | None = None) -> str | None:
    """Set the password from `password_file`, or generate one if none exists; return a new one."""
    if password_file is not None:
        try:
            text = read_user_text(password_file, limit=64 * 1024, what="password file")
        except UserFileError as exc:
            raise PasswordRefused(str(exc)) from exc
        lines = text.splitlines()
        set_browser_password(data_dir, lines[0] if lines else "")
        return None
    if (data_dir / PASSWORD_FILE).is_file():
        return None
    password = secrets.token_urlsafe(18)
    set_browser_password(data_dir, password)
    return password


def verify_browser_password(data_dir: Path, password: str) -> bool:
    """True when `password` matches the stored hash (False when none is stored)."""
    try:
        stored = (data_dir / PASSWORD_FILE).read_text(encoding="ascii").strip()
        return _hasher.verify(stored, password)
    except (OSError, VerificationError, InvalidHashError):
        return False


@dataclass
class Session:
    """A logged-in browser session and its CSRF token."""

    token: str = field(repr=False)
    csrf: str = field(repr=False)
    expires: datetime


class Sessions:
    """Sessions by cookie token, expiring by the injected clock."""

    def __init__(self, clock: Clock, ttl: timedelta = SESSION_TTL) -> None:
        self._clock = clock
        self._ttl = ttl
        self._by_token: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self) -> Session:
        """Start a session."""
        now = self._clock.now()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now + self._ttl)
        with self._lock:
            self._by_token = {t: s for t, s in self._by_token.items() if s.expires > now}
            self._by_token[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        """The live session of a cookie token, or None."""
        if not token:
            return None
        with self._lock:
            session = self._by_token.get(token)
        if session is None or session.expires <= self._clock.now():
            return None
        return session

    def drop(self, token: str | None) -> None:
        """End a session (logout)."""
        with self._lock:
            self._by_token.pop(token or "", None)


def same_secret(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two tokens; False when either is missing."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())
