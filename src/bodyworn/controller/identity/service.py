"""The system identity as other parts of the controller use it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from bodyworn.controller.identity.keys import hash_passphrase, verify_passphrase
from bodyworn.controller.identity.models import PRIVATE_KEY_PURPOSE, SystemIdentity
from bodyworn.controller.identity.restore_key import seal_restore_key
from bodyworn.docklink.client import DockLinkClient, Identity
from bodyworn.domain.clock import Clock
from bodyworn.store.secrets import box_of


def seal_private_key(session: Session, private_key_pem: bytes) -> bytes:
    """The identity private key as it is stored: sealed with the secrets key."""
    return box_of(session).seal(private_key_pem, PRIVATE_KEY_PURPOSE)


def private_key_pem(session: Session, row: SystemIdentity) -> bytes:
    """The identity private key of the stored row (SecretsUnavailable with another key)."""
    return box_of(session).open(row.private_key_sealed, PRIVATE_KEY_PURPOSE)


def check_sealed(session: Session) -> None:
    """Open the stored private key once (SecretsUnavailable when the key at hand is another)."""
    row = session.get(SystemIdentity, 1)
    if row is not None:
        private_key_pem(session, row)


def signing_identity(session: Session) -> Identity:
    """The system ID and identity private key that sign requests to cameras."""
    row = session.get(SystemIdentity, 1)
    if row is None:
        raise LookupError("the system has not been set up")
    return Identity(system_id=row.system_id, private_key_pem=private_key_pem(session, row))


def public_key_pem(session: Session) -> str:
    """The identity public key cameras store when they are added."""
    row = session.get(SystemIdentity, 1)
    if row is None:
        raise LookupError("the system has not been set up")
    return row.public_key_pem.decode("ascii")


def create(session: Session, *, system_id: str, private_key_pem: bytes, public_key_pem: bytes,
           passphrase: str, now: datetime) -> None:
    """The system's identity, made once (by setup's one transaction)."""
    session.add(SystemIdentity(
        id=1, system_id=system_id,
        private_key_sealed=seal_private_key(session, private_key_pem),
        public_key_pem=public_key_pem, passphrase_hash=hash_passphrase(passphrase),
        created_at=now))


def sealed_restore_key(session: Session, passphrase: str, system_name: str,
                       created_at: datetime) -> tuple[str, bytes] | None:
    """(system ID, a fresh restore key file) when `passphrase` is the super admin's."""
    row = session.get(SystemIdentity, 1)
    if row is None or not verify_passphrase(row.passphrase_hash, passphrase):
        return None
    return row.system_id, seal_restore_key(
        private_key_pem=private_key_pem(session, row), public_key_pem=row.public_key_pem,
        system_id=row.system_id, system_name=system_name, created_at=created_at,
        passphrase=passphrase)


def passphrase_matches(session: Session, passphrase: str) -> bool:
    """Whether `passphrase` is the super admin passphrase (for unlocks and restores)."""
    row = session.get(SystemIdentity, 1)
    return row is not None and verify_passphrase(row.passphrase_hash, passphrase)


class SigningDockLinks:
    """Dock link clients that sign with the system identity (ports.DockLinkFactory)."""

    def __init__(self, factory: sessionmaker[Session], clock: Clock) -> None:
        self._factory = factory
        self._clock = clock

    def __call__(self, camera_url: str) -> DockLinkClient:
        """A client of one camera (the caller closes it); LookupError before setup."""
        with self._factory() as session:
            identity = signing_identity(session)
        return DockLinkClient(camera_url, identity, clock=self._clock)
