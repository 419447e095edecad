"""The secrets key: AES-256-GCM seals bound to their column, a private key file of its own."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bodyworn.store.secrets import (
    KEY_BYTES,
    SecretsUnavailable,
    create_key,
    load_key,
    load_or_create_key,
)


def test_seal_and_open(tmp_path: Path) -> None:
    box, made = load_or_create_key(tmp_path / "secrets.key")
    assert made and stat.S_IMODE((tmp_path / "secrets.key").stat().st_mode) == 0o600
    sealed = box.seal(b"-----BEGIN PRIVATE KEY-----", "t.private_key")
    assert b"PRIVATE" not in sealed and sealed != box.seal(b"-----BEGIN PRIVATE KEY-----",
                                                           "t.private_key")
    assert box.open(sealed, "t.private_key") == b"-----BEGIN PRIVATE KEY-----"
    again, made = load_or_create_key(tmp_path / "secrets.key")
    assert not made and again.open(sealed, "t.private_key") == b"-----BEGIN PRIVATE KEY-----"


def test_a_seal_opens_only_with_its_key_and_for_its_column(tmp_path: Path) -> None:
    box = create_key(tmp_path / "a.key")
    other = create_key(tmp_path / "b.key")
    sealed = box.seal(b"secret", "t.one")
    with pytest.raises(SecretsUnavailable, match=r"b\.key"):
        other.open(sealed, "t.one")
    with pytest.raises(SecretsUnavailable):
        box.open(sealed, "t.two")
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SecretsUnavailable):
        box.open(tampered, "t.one")
    with pytest.raises(SecretsUnavailable, match="not a sealed value"):
        box.open(b"-----BEGIN PRIVATE KEY-----", "t.one")


def test_a_key_file_others_could_read_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "secrets.key"
    create_key(path)
    os.chmod(path, 0o644)
    assert load_key(path) is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("content", [b"", b"short", os.urandom(KEY_BYTES + 1)])
def test_a_key_file_of_the_wrong_size_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "secrets.key"
    path.write_bytes(content)
    with pytest.raises(SecretsUnavailable, match="not 32 bytes"):
        load_key(path)


def test_a_link_is_not_followed(tmp_path: Path) -> None:
    create_key(tmp_path / "real.key")
    (tmp_path / "secrets.key").symlink_to(tmp_path / "real.key")
    with pytest.raises(SecretsUnavailable):
        load_key(tmp_path / "secrets.key")
    with pytest.raises(SecretsUnavailable, match="exists already"):
        create_key(tmp_path / "real.key")
