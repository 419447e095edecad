"""Secrets kept in the database, sealed with a key that is not in it.

The key is 32 random bytes in a file of its own (`<data dir>/secrets.key` unless the
settings name another place), mode 0600, made at the first start. A copy of the database
alone (a dump, a backup, a PostgreSQL server on another host) then reveals no private key
and no password: it needs the key file too. A passphrase typed at each start would protect
even against someone who can read the data directory, but the controller must start by
itself after a power cut, so the key has to be on the host; keeping it in a file of its own
(which can live outside the data directory, e.g. in a credential store mounted at start)
is what keeps it out of every copy of the database.

Each value is AES-256-GCM sealed: a version byte, a 96-bit random nonce, the ciphertext
and its tag; the associated data names what the value is ("system_identity.private_key"),
so a sealed value moved into another column does not open.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from bodyworn.store.files import write_file_atomic
from bodyworn.store.private import StartRefused

KEY_FILE = "secrets.key"
KEY_BYTES = 32
_VERSION = b"\x01"
_NONCE_BYTES = 12
# Where a session finds the box (put there by session_factory).
SESSION_INFO_KEY = "secret_box"


class SecretsUnavailable(StartRefused):
    """The key file is missing, unreadable or not the one the secrets were sealed with."""


@dataclass(frozen=True)
class SecretBox:
    """Seals and opens values with one AES-256-GCM key."""

    key: bytes = field(repr=False)
    path: Path | None = None

    def seal(self, plaintext: bytes, purpose: str) -> bytes:
        """`plaintext` sealed for the column `purpose` names."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _VERSION + nonce + AESGCM(self.key).encrypt(nonce, plaintext, purpose.encode())

    def open(self, sealed: bytes, purpose: str) -> bytes:
        """The plaintext of a sealed value; SecretsUnavailable when this key cannot open it."""
        if sealed[:1] != _VERSION or len(sealed) < 1 + _NONCE_BYTES + 16:
            raise SecretsUnavailable(f"{purpose} is not a sealed value")
        nonce, body = sealed[1:1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES:]
        try:
            return AESGCM(self.key).decrypt(nonce, body, purpose.encode())
        except InvalidTag:
            where = f" with {self.path}" if self.path else ""
            raise SecretsUnavailable(
                f"the stored {purpose} cannot be opened{where}: the key file is not the one "
                "the secrets were sealed with") from None


def load_key(path: Path) -> SecretBox | None:
    """The box of an existing key file (made private if it was not), or None when there is none.

    Refuses a key file someone else could read or replace, or one of the wrong size.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SecretsUnavailable(f"cannot read the secrets key {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SecretsUnavailable(f"the secrets key {path} is not a file")
        if info.st_mode & 0o077:
            if info.st_uid != os.geteuid():
                raise SecretsUnavailable(
                    f"the secrets key {path} can be read by others and is not ours to fix: "
                    "make it mode 0600")
            os.fchmod(fd, 0o600)
        key = os.read(fd, KEY_BYTES + 1)
    finally:
        os.close(fd)
    if len(key) != KEY_BYTES:
        raise SecretsUnavailable(f"the secrets key {path} is not {KEY_BYTES} bytes long")
    return SecretBox(key, path)


def create_key(path: Path) -> SecretBox:
    """A new random key written to `path` (0600, durable); refuses to replace one."""
    if path.exists():
        raise SecretsUnavailable(f"the secrets key {path} exists already")
    key = secrets.token_bytes(KEY_BYTES)
    write_file_atomic(path, key, mode=0o600)
    return SecretBox(key, path)


def load_or_create_key(path: Path) -> tuple[SecretBox, bool]:
    """The box of the key file at `path`, made first if there is none; True when made now."""
    box = load_key(path)
    if box is not None:
        return box, False
    return create_key(path), True


def box_of(session: Session) -> SecretBox:
    """The secret box the session's factory was given."""
    box = session.info.get(SESSION_INFO_KEY)
    if not isinstance(box, SecretBox):
        raise SecretsUnavailable("this database session has no secrets key")
    return box
