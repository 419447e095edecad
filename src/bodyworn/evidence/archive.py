"""Evidence archives: one or more recordings with everything needed to check them offline.

An archive is a zip file:

    manifest.json                 format, export id, time, case, recordings, and the
                                  sha256 and size of every other file
    manifest.json.sig             a JWS by the exporting CD over the manifest's sha256
    README.txt                    what this is and how to check it
    certificates/system-<id>.pem  the system identity certificates the evidence leads to
    certificates/exporter.pem     the exporting CD's certificate
    recordings/<container>/container.json           the recording container's metadata
    recordings/<container>/objects/<object>         every object (clips decrypted when the
                                                    exporter held the key, else with their
                                                    key objects)
    recordings/<container>/metadata/<object>.json   each object's metadata, stored hashes
    people/users.json, people/devices.json          the users and cameras named
    audit/entries.json            audit entries about these recordings and their cameras
    audit/anchors/<seq>.jws       the signed audit anchors that hold those entries' hashes

`verify_archive` checks all of it without a network: every file against the manifest
(any edit is named), the manifest against its signature, each clip, the recording's
metadata, bookmarks and track against what the camera signed, the cameras' certificates
against the system identity, and the audit entries against the anchors the system signed.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from bodyworn.domain import strict_json
from bodyworn.evidence.anchors import signed_by_system
from bodyworn.evidence.audit_chain import GENESIS, ChainedEntry
from bodyworn.evidence.crypto import (
    EvidenceCryptoError,
    KeyFile,
    decrypt_chunks,
    open_key_file,
)
from bodyworn.evidence.metadata import key_object_name
from bodyworn.evidence.signing import (
    AUDIT_ANCHOR,
    EXPORT_MANIFEST,
    SignatureProblem,
    common_name,
    fingerprint,
    load_pem_chain,
    normal_fingerprint,
    parse_jws,
    public_key_of,
    same_key,
    sign_jws,
    verify_jws,
)
from bodyworn.evidence.verify import (
    CLIP_SUFFIXES,
    GNSS_SUFFIX,
    Material,
    RecordingMaterial,
    Verdict,
    check_recording,
)

FORMAT = "bodyworn-evidence-export-v1"
MANIFEST = "manifest.json"
MANIFEST_SIGNATURE = "manifest.json.sig"
README = "README.txt"
EXPORTER_CERT = "certificates/exporter.pem"
ENTRIES = "audit/entries.json"
_BLOCK = 1 << 20
# Objects read whole (signatures, bookmarks, tracks) are at most this big.
_SMALL = 4 << 20

README_TEXT = """\
Evidence exported by a bodyworn content destination.

Check it offline with:  bodyworn evidence verify THIS-FILE.zip
or by hand with openssl, following docs/integrity.md ("Checking by hand").

Every file's sha256 is in manifest.json; manifest.json.sig is the exporter's signature
over manifest.json. Clips, metadata and bookmarks are signed by the camera that made
them (each recording's _signatures.json); each camera's certificate is issued by the
system identity in certificates/. The audit entries about these recordings are in
audit/entries.json; the anchors in audit/anchors/ are signed by the system identity and
hold each entry's hash.
"""


def recording_dir(container: str) -> str:
    """Where a recording's files go in an archive."""
    return f"recordings/{container}"


def safe_member(name: str) -> bool:
    """Whether a path is one an archive may hold (no absolute paths, no '..')."""
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts and "\\" not in name


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json_bytes(doc: object) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


# ---- writing -----------------------------------------------------------------------------


class ArchiveWriter:
    """Builds an archive file by file, then seals it with the manifest and its signature."""

    def __init__(self, target: io.BufferedIOBase | Any) -> None:
        self._zip = zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED,
                                    compresslevel=1)
        self.files: dict[str, dict[str, Any]] = {}

    def add_bytes(self, name: str, data: bytes) -> None:
        """Add one file."""
        self._check(name)
        self._zip.writestr(_member(name), data)
        self.files[name] = {"sha256": _sha256(data), "size": len(data)}

    def add_json(self, name: str, doc: object) -> None:
        """Add one JSON file (indented, keys sorted)."""
        self.add_bytes(name, _json_bytes(doc))

    def add_stream(self, name: str, blocks: Iterable[bytes]) -> None:
        """Add one file from blocks (a clip), hashing as it goes."""
        self._check(name)
        digest, size = hashlib.sha256(), 0
        with self._zip.open(_member(name), "w", force_zip64=True) as out:
            for block in blocks:
                out.write(block)
                digest.update(block)
                size += len(block)
        self.files[name] = {"sha256": digest.hexdigest(), "size": size}

    def _check(self, name: str) -> None:
        if not safe_member(name) or name in (MANIFEST, MANIFEST_SIGNATURE):
            raise ValueError(f"not a name an archive may hold: {name!r}")
        if name in self.files:
            raise ValueError(f"{name} twice in the archive")

    def seal(self, manifest: Mapping[str, Any], key: Ed25519PrivateKey,
             cert: x509.Certificate) -> str:
        """Write the manifest (with every file's sha256) and its signature; its sha256."""
        doc = {**manifest, "format": FORMAT, "files": dict(sorted(self.files.items()))}
        data = _json_bytes(doc)
        digest = _sha256(data)
        self._zip.writestr(_member(MANIFEST), data)
        signature = sign_jws({"type": EXPORT_MANIFEST, "manifest_sha256": digest,
                              "export": doc.get("export_id")}, key, [cert])
        self._zip.writestr(_member(MANIFEST_SIGNATURE), signature + "\n")
        self._zip.close()
        return digest

    def abandon(self) -> None:
        """Close without a manifest (the caller removes the file)."""
        self._zip.close()


def _member(name: str) -> zipfile.ZipInfo:
    # A fixed time: the same evidence exported twice differs only in what it says.
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16
    return info


# ---- checking ----------------------------------------------------------------------------


@dataclass
class Report:
    """What verifying an archive found: failures name the file, notes say what held."""

    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failures

    def fail(self, where: str, why: str) -> None:
        self.failures.append(f"{where}: {why}")

    def lines(self) -> list[str]:
        """The report as printed: what held, then warnings, then failures."""
        out = [f"ok    {n}" for n in self.notes]
        out += [f"warn  {w}" for w in self.warnings]
        out += [f"FAIL  {f}" for f in self.failures]
        out.append("RESULT: " + ("the archive verifies" if self.ok else
                                 f"{len(self.failures)} problem(s) found"))
        return out


class _Archive:
    """Reads members of an open zip, remembering which were checked against the manifest."""

    def __init__(self, zf: zipfile.ZipFile, files: Mapping[str, Any], report: Report) -> None:
        self.zf = zf
        self.files = files
        self.report = report
        self.names = set(zf.namelist())
        self.bad: set[str] = set()

    def read(self, name: str) -> bytes | None:
        if name not in self.names:
            return None
        return self.zf.read(name)

    def sha256_of(self, name: str) -> tuple[str, int]:
        digest, size = hashlib.sha256(), 0
        with self.zf.open(name) as handle:
            for block in iter(lambda: handle.read(_BLOCK), b""):
                digest.update(block)
                size += len(block)
        return digest.hexdigest(), size


def _load_json(data: bytes | None, where: str, report: Report) -> Any:
    if data is None:
        report.fail(where, "missing")
        return None
    try:
        return strict_json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        report.fail(where, f"not JSON ({exc})")
        return None


def verify_archive(
    source: Any,
    *,
    system_fingerprint: str | None = None,
    private_key: RSAPrivateKey | None = None,
) -> Report:
    """Check an archive offline (a path or file object); every failure names its file.

    `system_fingerprint`: the system identity to trust (as the controller shows it);
    without it, the system certificate in the archive is trusted and its fingerprint is
    reported for comparison. `private_key`: the CD's content key, to open clips exported
    still encrypted.
    """
    report = Report()
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        report.fail("archive", f"not a readable zip file ({exc})")
        return report
    with zf:
        for name in zf.namelist():
            if not safe_member(name):
                report.fail(name, "a path outside the archive")
                return report
        manifest = _check_manifest(zf, report)
        if manifest is None:
            return report
        archive = _Archive(zf, manifest.get("files", {}), report)
        _check_files(archive)
        trusted = _trusted_systems(archive, system_fingerprint)
        for container in manifest.get("recordings", []):
            _check_recording(archive, str(container), trusted, private_key)
        _check_audit(archive, trusted)
    return report


def _check_manifest(zf: zipfile.ZipFile, report: Report) -> dict[str, Any] | None:
    names = set(zf.namelist())
    if MANIFEST not in names:
        report.fail(MANIFEST, "missing: not an evidence archive")
        return None
    data = zf.read(MANIFEST)
    if MANIFEST_SIGNATURE not in names:
        report.fail(MANIFEST_SIGNATURE, "missing: nothing vouches for the manifest")
        return None
    try:
        jws = parse_jws(zf.read(MANIFEST_SIGNATURE))
        verify_jws(jws, EXPORT_MANIFEST)
    except SignatureProblem as exc:
        report.fail(MANIFEST_SIGNATURE, str(exc))
        return None
    if jws.payload.get("manifest_sha256") != _sha256(data):
        report.fail(MANIFEST, "edited after the export was signed (its sha256 is not the"
                              " one in manifest.json.sig)")
        return None
    exporter = jws.chain[0]
    stored = zf.read(EXPORTER_CERT) if EXPORTER_CERT in names else None
    try:
        if stored is None or not same_key(public_key_of(load_pem_chain(stored)[0]),
                                          public_key_of(exporter)):
            report.fail(EXPORTER_CERT, "is not the certificate that signed the manifest")
    except SignatureProblem as exc:
        report.fail(EXPORTER_CERT, str(exc))
    manifest = _load_json(data, MANIFEST, report)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        report.fail(MANIFEST, f"not a {FORMAT} manifest")
        return None
    if not isinstance(manifest.get("files"), dict):
        report.fail(MANIFEST, "lists no files")
        return None
    report.notes.append(
        f"manifest signed by the exporter {common_name(exporter)!r}"
        f" (certificate SHA-256 {fingerprint(exporter)})")
    return manifest


def _check_files(archive: _Archive) -> None:
    report = archive.report
    listed = archive.files
    for name in sorted(archive.names - {MANIFEST, MANIFEST_SIGNATURE}):
        if name.endswith("/"):
            continue
        entry = listed.get(name)
        if not isinstance(entry, dict):
            report.fail(name, "not in the manifest (added after the export)")
            archive.bad.add(name)
            continue
        digest, size = archive.sha256_of(name)
        if digest != entry.get("sha256") or size != entry.get("size"):
            report.fail(name, "edited: its sha256 is not the one in the manifest")
            archive.bad.add(name)
    for name in sorted(set(listed) - archive.names):
        report.fail(name, "listed in the manifest but missing from the archive")
        archive.bad.add(name)
    if not any(n in archive.bad for n in listed):
        report.notes.append(f"all {len(listed)} files match the manifest")


def _trusted_systems(archive: _Archive, pinned: str | None) -> dict[str, x509.Certificate]:
    report = archive.report
    found: dict[str, x509.Certificate] = {}
    for name in sorted(archive.names):
        if not (name.startswith("certificates/system-") and name.endswith(".pem")):
            continue
        try:
            cert = load_pem_chain(archive.zf.read(name))[0]
        except SignatureProblem as exc:
            report.fail(name, str(exc))
            continue
        found[common_name(cert)] = cert
    if pinned is not None:
        want = normal_fingerprint(pinned)
        kept = {sid: c for sid, c in found.items() if fingerprint(c) == want}
        if not kept:
            report.fail("certificates/", f"no system identity with fingerprint {want}")
        for sid, cert in kept.items():
            report.notes.append(f"system identity {sid} is the one given ({fingerprint(cert)})")
        return kept
    for sid, cert in found.items():
        report.warnings.append(
            f"trusting the system identity {sid} found in the archive (certificate SHA-256"
            f" {fingerprint(cert)}); compare it with the one the system controller shows,"
            " or pass --system-fingerprint")
    return found


class _ArchiveObject:
    """One object of a recording in the archive, read lazily (clips hashed in blocks)."""

    def __init__(self, archive: _Archive, base: str, name: str,
                 private_key: RSAPrivateKey | None) -> None:
        self.archive, self.member = archive, f"{base}/objects/{name}"
        key_data = archive.read(f"{base}/objects/{key_object_name(name)}")
        self.encrypted = key_data is not None and name.endswith((*CLIP_SUFFIXES, GNSS_SUFFIX))
        self.content_key = None
        if self.encrypted and key_data is not None and private_key is not None:
            try:
                self.content_key = open_key_file(KeyFile.from_bytes(key_data), private_key)
            except (EvidenceCryptoError, ValueError):
                self.content_key = None
        self._digest: tuple[str, int] | None = None

    def _blocks(self) -> Iterator[bytes]:
        with self.archive.zf.open(self.member) as handle:
            blocks = iter(lambda: handle.read(_BLOCK), b"")
            if self.content_key is not None:
                yield from decrypt_chunks(blocks, self.content_key)
            else:
                yield from blocks

    def _plain(self) -> tuple[str, int] | None:
        if self.encrypted and self.content_key is None:
            return None
        if self._digest is None:
            digest, size = hashlib.sha256(), 0
            try:
                for block in self._blocks():
                    digest.update(block)
                    size += len(block)
            except (EvidenceCryptoError, ValueError):
                return None
            self._digest = digest.hexdigest(), size
        return self._digest

    def sha256(self) -> str | None:
        found = self._plain()
        return found[0] if found else None

    def size(self) -> int | None:
        found = self._plain()
        return found[1] if found else None

    def body(self) -> bytes | None:
        if self.encrypted and self.content_key is None:
            return None
        if self.archive.zf.getinfo(self.member).file_size > _SMALL:
            return None
        try:
            return b"".join(self._blocks())
        except (EvidenceCryptoError, ValueError):
            return None


def _check_recording(archive: _Archive, container: str, trusted: Mapping[str, x509.Certificate],
                     private_key: RSAPrivateKey | None) -> None:
    report = archive.report
    base = recording_dir(container)
    meta_doc = _load_json(archive.read(f"{base}/container.json"), f"{base}/container.json",
                          report)
    if not isinstance(meta_doc, dict):
        return
    users = _load_json(archive.read("people/users.json"), "people/users.json", report) or {}
    user_ids = {uuid: str(u.get("UserID", "")) for uuid, u in users.items()
                if isinstance(u, dict) and u.get("UserID")}
    objects: dict[str, Material] = {}
    prefix = f"{base}/objects/"
    for member in sorted(n for n in archive.names if n.startswith(prefix)):
        name = member[len(prefix):]
        meta = _load_json(archive.read(f"{base}/metadata/{name}.json"),
                          f"{base}/metadata/{name}.json", report)
        metadata = meta.get("metadata", {}) if isinstance(meta, dict) else {}
        obj = _ArchiveObject(archive, base, name, private_key)
        objects[name] = Material(name, dict(metadata), obj.sha256, obj.body, obj.size)
    material = RecordingMaterial(container, dict(meta_doc.get("metadata", {})), objects,
                                 user_ids)
    findings = check_recording(material, trusted)
    for finding in findings.all():
        where = f"{base}: {finding.subject}"
        if finding.subject.startswith("clip "):
            where = f"{prefix}{finding.subject[5:]}"
        if finding.verdict is Verdict.INVALID:
            report.fail(where, finding.detail)
        elif finding.verdict is Verdict.VALID:
            report.notes.append(f"{where}: {finding.detail}")
        else:
            report.warnings.append(f"{where}: {finding.verdict.value}: {finding.detail}")


def _check_audit(archive: _Archive, trusted: Mapping[str, x509.Certificate]) -> None:
    report = archive.report
    data = archive.read(ENTRIES)
    if data is None:
        report.warnings.append("no audit entries in the archive (the CD keeps no anchors)")
        return
    doc = _load_json(data, ENTRIES, report)
    if not isinstance(doc, list):
        return
    entries: list[ChainedEntry] = []
    for item in doc:
        try:
            entries.append(ChainedEntry.from_json(item))
        except (ValueError, TypeError) as exc:
            report.fail(ENTRIES, str(exc))
    for entry in entries:
        if entry.computed_hash() != entry.entry_hash:
            report.fail(ENTRIES, f"audit entry {entry.id} was edited (its content does not"
                                 " give its hash)")
    held: dict[str, tuple[int, str]] = {}  # entry hash → (anchor seq, the hash before it)
    for name in sorted(n for n in archive.names if n.startswith("audit/anchors/")):
        try:
            jws = parse_jws(archive.zf.read(name))
            verify_jws(jws, AUDIT_ANCHOR)
            signed_by_system(jws, trusted)
            payload = jws.payload
            hashes = [str(h) for h in payload["hashes"]]
            before = [str(payload.get("prev_hash") or GENESIS), *hashes[:-1]]
        except (SignatureProblem, KeyError, TypeError) as exc:
            report.fail(name, f"not a valid audit anchor: {exc}")
            continue
        for h, prev in zip(hashes, before, strict=True):
            held[h] = (int(payload.get("seq", 0)), prev)
    missing = 0
    for entry in entries:
        found = held.get(entry.entry_hash)
        if found is None:
            missing += 1
        elif found[1] != entry.prev_hash:
            report.fail(ENTRIES, f"audit entry {entry.id} does not follow the entry before it"
                                 " in the signed anchor")
    if missing:
        report.warnings.append(f"{missing} audit entries are newer than the last anchor"
                               " (not yet vouched for by the system)")
    if entries and not any(f.startswith(ENTRIES) or f.startswith("audit/anchors/")
                           for f in report.failures):
        report.notes.append(f"{len(entries) - missing} audit entries are in anchors signed"
                            " by the system identity")
