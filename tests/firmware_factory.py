"""Firmware bundles signed by a test key made for the test run (never a release key)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bodyworn.firmware.bundle import build_bundle
from bodyworn.firmware.keys import new_private_key, private_key_from_pem

CAMERA_MODEL = "AXIS W100"


@cache
def signing_key_pems() -> tuple[bytes, bytes]:
    """(private PEM, public PEM) of this test run's signing key."""
    return new_private_key()


def signing_key() -> Ed25519PrivateKey:
    """The test run's signing key."""
    return private_key_from_pem(signing_key_pems()[0])


def write_trusted_key(folder: Path) -> Path:
    """The test key's public half as a file (the controller's firmware_key_file)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "firmware-test-key.pem"
    path.write_bytes(signing_key_pems()[1])
    return path


def camera_image(version: str) -> bytes:
    """A camera image: any bytes, different per version."""
    return (f"W100 firmware {version}\n".encode() * 512)[: 4096 + len(version)]


def make_bundle(version: str, *, key: Ed25519PrivateKey | None = None,
                models: tuple[str, ...] = (CAMERA_MODEL,)) -> bytes:
    """A bundle of `version` with one camera image, signed by the test key."""
    return build_bundle(key or signing_key(), version,
                        camera_images={"w100.img": (models, camera_image(version))},
                        notes=f"test release {version}")
