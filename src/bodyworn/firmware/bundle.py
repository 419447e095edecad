"""A firmware bundle: one zip file holding a signed manifest and the images it lists.

    manifest.json   {"format", "version", "released", "notes", "contents": [...]}
    manifest.sig    Ed25519 signature over the exact bytes of manifest.json
    camera/...      the images the manifest lists, each with its size and sha256

Only the manifest is signed; every other entry is bound to it by its sha256, so one
signature covers the whole file. `read_bundle` checks, in this order, before anything
trusts a byte of it: the size, that it is a whole zip (a truncated download is not:
the zip's directory is at its end), the signature against the trusted release keys, the
manifest's shape, and then that the entries are exactly those listed, each of its size
and sha256. A bundle that fails any check raises BundleRefused with the reason in the
user's words. Comparing versions (no downgrade) is the installer's rule, not the format's.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

FORMAT = "bodyworn-firmware/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SUFFIX = ".bwfw"
MAX_BUNDLE_BYTES = 512 * 1024 * 1024
# A form or multipart body carrying a bundle: the file and a little room around it.
MAX_UPLOAD_BYTES = MAX_BUNDLE_BYTES + 64 * 1024
MAX_MANIFEST_BYTES = 64 * 1024
MAX_ENTRIES = 32
CAMERA_IMAGE = "camera-image"
KINDS = (CAMERA_IMAGE,)
# The system firmware this software is before any bundle is installed (what the simulated
# cameras ship with, too).
SHIPPED_VERSION = "10.2.0.3"
# Versions are dotted numbers, two to four of them (10.12.0.3), compared as numbers.
VERSION = re.compile(r"^\d{1,5}(\.\d{1,5}){1,3}$")
_PATH = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}(/[a-z0-9][a-z0-9._-]{0,63}){0,2}$")


class BundleRefused(ValueError):
    """The file is not a firmware bundle we may install; the message says why."""


def version_key(version: str) -> tuple[int, ...]:
    """A version as numbers, for comparing (ValueError when it is not one)."""
    if not VERSION.match(version):
        raise ValueError(f"{version!r} is not a firmware version such as 10.12.0.3")
    return tuple(int(part) for part in version.split("."))


def is_version(text: str) -> bool:
    """Whether `text` is a firmware version."""
    return bool(VERSION.match(text))


@dataclass(frozen=True)
class Part:
    """One image the manifest lists."""

    path: str
    kind: str
    models: tuple[str, ...]
    size: int
    sha256: str

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "kind": self.kind, "models": list(self.models),
                "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class Manifest:
    """What a bundle says it is."""

    version: str
    released: str
    notes: str
    contents: tuple[Part, ...]

    def to_json(self) -> dict[str, object]:
        return {"format": FORMAT, "version": self.version, "released": self.released,
                "notes": self.notes, "contents": [part.to_json() for part in self.contents]}

    def camera_image(self, model: str) -> Part | None:
        """The camera image for a camera model, if the bundle has one."""
        for part in self.contents:
            if part.kind == CAMERA_IMAGE and model in part.models:
                return part
        return None

    @property
    def camera_models(self) -> tuple[str, ...]:
        """Every camera model the bundle upgrades."""
        return tuple(m for p in self.contents if p.kind == CAMERA_IMAGE for m in p.models)


@dataclass(frozen=True)
class Bundle:
    """A bundle whose signature and contents held; `data` is the file as verified."""

    manifest: Manifest
    data: bytes
    sha256: str
    key_id: str

    @property
    def version(self) -> str:
        """The bundle's firmware version."""
        return self.manifest.version

    def read(self, part: Part) -> bytes:
        """One image's bytes, checked against the manifest again."""
        return _entry(self.data, part)


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short name of a release key: the first 16 hex digits of its raw bytes' sha256."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def build_bundle(private_key: Ed25519PrivateKey, version: str, *,
                 camera_images: Mapping[str, tuple[Sequence[str], bytes]],
                 released: date | None = None, notes: str = "") -> bytes:
    """A signed bundle: `camera_images` maps each image's file name to (models, bytes).

    For the release tool and the tests; a controller only ever reads bundles.
    """
    version_key(version)
    parts, blobs = [], {}
    for name, (models, image) in sorted(camera_images.items()):
        path = f"camera/{name}"
        parts.append(Part(path, CAMERA_IMAGE, tuple(models), len(image),
                          hashlib.sha256(image).hexdigest()))
        blobs[path] = image
    manifest = Manifest(version, (released or date.today()).isoformat(), notes, tuple(parts))
    _check_manifest(manifest)
    text = json.dumps(manifest.to_json(), indent=2, sort_keys=True).encode("utf-8")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(MANIFEST, text)
        zf.writestr(SIGNATURE, private_key.sign(text))
        for path, image in blobs.items():
            zf.writestr(path, image)
    return out.getvalue()


def read_bundle(data: bytes, trusted: Iterable[Ed25519PublicKey]) -> Bundle:
    """Verify a bundle whole (see the module's doc); BundleRefused says what is wrong."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleRefused(f"The file is larger than {MAX_BUNDLE_BYTES // 2**20} MiB: "
                            "it is not a firmware file.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
            text = _small(zf, MANIFEST)
            signature = _small(zf, SIGNATURE)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError):
        raise BundleRefused("The file is incomplete or not a firmware file. Download it "
                            "again.") from None
    if text is None or signature is None:
        raise BundleRefused("The file is not a firmware file: it has no signed manifest.")
    signer = _signer(text, signature, trusted)
    manifest = _parse_manifest(text)
    listed = {part.path for part in manifest.contents}
    extra = sorted(set(names) - listed - {MANIFEST, SIGNATURE})
    if extra or len(names) != len(set(names)):
        raise BundleRefused("The firmware file holds files its manifest does not list.")
    for part in manifest.contents:
        if part.path not in names:
            raise BundleRefused(f"The firmware file lacks {part.path}, which its manifest "
                                "lists. Download it again.")
        _entry(data, part)
    return Bundle(manifest, data, hashlib.sha256(data).hexdigest(), key_id(signer))


def _small(zf: zipfile.ZipFile, name: str) -> bytes | None:
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    if info.file_size > MAX_MANIFEST_BYTES:
        raise ValueError(f"{name} is too large")
    with zf.open(info) as handle:
        return handle.read(MAX_MANIFEST_BYTES + 1)[:MAX_MANIFEST_BYTES]


def _signer(text: bytes, signature: bytes,
            trusted: Iterable[Ed25519PublicKey]) -> Ed25519PublicKey:
    for key in trusted:
        try:
            key.verify(signature, text)
        except InvalidSignature:
            continue
        return key
    raise BundleRefused("The firmware file is not signed by a release key this system "
                        "trusts: it was changed, or it is not a release.")


def _entry(data: bytes, part: Part) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf, zf.open(part.path) as handle:
            blob = handle.read(part.size + 1)
    except (zipfile.BadZipFile, KeyError, EOFError, OSError):
        raise BundleRefused(f"{part.path} in the firmware file cannot be read. Download "
                            "the file again.") from None
    if len(blob) != part.size or hashlib.sha256(blob).hexdigest() != part.sha256:
        raise BundleRefused(f"{part.path} in the firmware file is not the one its signed "
                            "manifest lists.")
    return blob


def _parse_manifest(text: bytes) -> Manifest:
    def wrong(what: str) -> BundleRefused:
        return BundleRefused(f"The firmware file's manifest is not valid: {what}.")

    try:
        data = json.loads(text)
    except ValueError:
        raise wrong("it is not JSON") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise wrong(f"its format is not {FORMAT}")
    version, released, notes = data.get("version"), data.get("released"), data.get("notes", "")
    contents = data.get("contents")
    if not isinstance(version, str) or not is_version(version):
        raise wrong("the version must be dotted numbers such as 10.12.0.3")
    if not isinstance(released, str) or not isinstance(notes, str):
        raise wrong("released and notes must be text")
    if not isinstance(contents, list) or len(contents) > MAX_ENTRIES:
        raise wrong(f"contents must be a list of at most {MAX_ENTRIES} parts")
    parts = []
    for item in contents:
        if not isinstance(item, dict):
            raise wrong("each part must be an object")
        path, kind, models = item.get("path"), item.get("kind"), item.get("models")
        size, sha = item.get("size"), item.get("sha256")
        if not (isinstance(path, str) and isinstance(kind, str) and isinstance(sha, str)
                and isinstance(size, int) and not isinstance(size, bool)
                and isinstance(models, list) and all(isinstance(m, str) for m in models)):
            raise wrong("each part needs path, kind, models, size and sha256")
        parts.append(Part(path, kind, tuple(models), size, sha))
    manifest = Manifest(version, released, notes, tuple(parts))
    _check_manifest(manifest)
    return manifest


def _check_manifest(manifest: Manifest) -> None:
    seen: set[str] = set()
    for part in manifest.contents:
        if not _PATH.match(part.path) or part.path in (MANIFEST, SIGNATURE) \
                or part.path in seen:
            raise BundleRefused(f"The firmware file's manifest lists a bad path: {part.path!r}.")
        seen.add(part.path)
        if part.kind not in KINDS:
            raise BundleRefused(f"The firmware file holds a part of unknown kind {part.kind!r}.")
        if not 0 <= part.size <= MAX_BUNDLE_BYTES or not re.fullmatch(r"[0-9a-f]{64}",
                                                                        part.sha256):
            raise BundleRefused(f"The firmware file's manifest is not valid: {part.path}.")
        if not part.models:
            raise BundleRefused(f"The firmware file's manifest names no camera model for "
                                f"{part.path}.")
