"""The firmware bundle format: what verifies, and every way a file is refused."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bodyworn.firmware.bundle import (
    MANIFEST,
    SIGNATURE,
    BundleRefused,
    read_bundle,
    version_key,
)
from bodyworn.firmware.keys import RELEASE_KEY_FILE, public_key_from_pem, trusted_keys
from tests.firmware_factory import CAMERA_MODEL, camera_image, make_bundle, signing_key

TRUSTED = [signing_key().public_key()]


def _rezip(data: bytes, change: dict[str, bytes | None]) -> bytes:
    """The bundle with entries replaced (None: removed) or added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(out, "w") as new:
        for name in old.namelist():
            if name in change:
                continue
            new.writestr(name, old.read(name))
        for name, blob in change.items():
            if blob is not None:
                new.writestr(name, blob)
    return out.getvalue()


def test_a_signed_bundle_verifies_and_gives_its_camera_image() -> None:
    bundle = read_bundle(make_bundle("10.3.0.0"), TRUSTED)
    assert bundle.version == "10.3.0.0"
    part = bundle.manifest.camera_image(CAMERA_MODEL)
    assert part is not None and bundle.read(part) == camera_image("10.3.0.0")
    assert bundle.manifest.camera_image("AXIS W110") is None
    assert bundle.manifest.camera_models == (CAMERA_MODEL,)
    assert len(bundle.sha256) == 64 and len(bundle.key_id) == 16


def test_another_key_is_refused() -> None:
    data = make_bundle("10.3.0.0", key=Ed25519PrivateKey.generate())
    with pytest.raises(BundleRefused, match="not signed by a release key"):
        read_bundle(data, TRUSTED)


def test_the_shipped_release_key_does_not_trust_test_bundles() -> None:
    assert trusted_keys() == [public_key_from_pem(RELEASE_KEY_FILE.read_bytes())]
    with pytest.raises(BundleRefused, match="not signed by a release key"):
        read_bundle(make_bundle("10.3.0.0"), trusted_keys())


@pytest.mark.parametrize("cut", [1, 100, 2000, 5000])
def test_a_truncated_file_is_refused(cut: int) -> None:
    data = make_bundle("10.3.0.0")
    with pytest.raises(BundleRefused, match="incomplete"):
        read_bundle(data[:-cut], TRUSTED)


def test_not_a_zip_is_refused() -> None:
    with pytest.raises(BundleRefused, match="incomplete or not a firmware file"):
        read_bundle(b"MZ\x90\x00 this is no bundle" * 40, TRUSTED)


def test_a_changed_manifest_breaks_the_signature() -> None:
    data = make_bundle("10.3.0.0")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        manifest = json.loads(zf.read(MANIFEST))
    manifest["version"] = "99.0.0.0"
    forged = _rezip(data, {MANIFEST: json.dumps(manifest).encode()})
    with pytest.raises(BundleRefused, match="not signed"):
        read_bundle(forged, TRUSTED)


def test_a_swapped_image_is_refused() -> None:
    data = make_bundle("10.3.0.0")
    swapped = _rezip(data, {"camera/w100.img": b"evil" * 1000})
    with pytest.raises(BundleRefused, match="not the one its signed manifest lists"):
        read_bundle(swapped, TRUSTED)


def test_a_missing_or_extra_entry_is_refused() -> None:
    data = make_bundle("10.3.0.0")
    with pytest.raises(BundleRefused, match=r"lacks camera/w100\.img"):
        read_bundle(_rezip(data, {"camera/w100.img": None}), TRUSTED)
    with pytest.raises(BundleRefused, match="does not list"):
        read_bundle(_rezip(data, {"camera/extra.img": b"x"}), TRUSTED)
    with pytest.raises(BundleRefused, match="no signed manifest"):
        read_bundle(_rezip(data, {SIGNATURE: None}), TRUSTED)


def test_versions_compare_as_numbers() -> None:
    assert version_key("10.12.0.0") > version_key("10.3.0.9")
    with pytest.raises(ValueError):
        version_key("10.3-beta")
