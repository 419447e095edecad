"""A sealed restore key shared by the identity tests (Argon2id at full cost takes time)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from bodyworn.controller.identity.keys import generate_identity_keypair
from bodyworn.controller.identity.restore_key import seal_restore_key

PASSPHRASE = "correct horse battery staple"


@dataclass(frozen=True)
class Sealed:
    data: bytes
    private_key_pem: bytes
    public_key_pem: bytes
    system_id: str
    system_name: str
    created_at: datetime
    passphrase: str


@pytest.fixture(scope="session")
def sealed() -> Sealed:
    private_pem, public_pem = generate_identity_keypair()
    system_id = str(uuid.uuid4())
    created_at = datetime(2026, 11, 27, 7, 30, 5, tzinfo=UTC)
    data = seal_restore_key(
        private_key_pem=private_pem,
        public_key_pem=public_pem,
        system_id=system_id,
        system_name="Malmö Police — Station 3",
        created_at=created_at,
        passphrase=PASSPHRASE,
    )
    return Sealed(
        data, private_pem, public_pem, system_id, "Malmö Police — Station 3", created_at, PASSPHRASE
    )
