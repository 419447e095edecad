"""Evidence exports from the embedded CD: recordings with their proof, as one archive.

The archive's format and its offline check are `evidence.archive`'s; this module fills
one from the store: the recordings' objects (clips decrypted when this CD holds the
content key, else as stored with their key objects), their metadata, the users and
cameras they name, the system certificates their signatures lead to, and from the audit
anchors in System/ the entries about these recordings and their cameras, with the
signed anchors that vouch for them. The manifest is signed with this CD's exporter key.

Every export is written to the export log (`export-log.jsonl` in the data directory),
a hash chain like the controller's audit log, before the archive is handed out.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bodyworn.destination.recordings import EvidenceReader, decoded
from bodyworn.destination.store import NotFound, StoredObject
from bodyworn.domain.clock import Clock
from bodyworn.evidence.anchors import parse_anchor_body, parse_anchor_name
from bodyworn.evidence.archive import (
    ENTRIES,
    EXPORTER_CERT,
    README,
    README_TEXT,
    ArchiveWriter,
    recording_dir,
    safe_member,
)
from bodyworn.evidence.audit_chain import GENESIS, ChainedEntry
from bodyworn.evidence.crypto import (
    ContentKey,
    EvidenceCryptoError,
    decrypt_chunks,
    open_key_file,
    read_chunks,
)
from bodyworn.evidence.metadata import SIGNATURES_SUFFIX, key_object_name
from bodyworn.evidence.signing import (
    Jws,
    SignatureProblem,
    common_name,
    exporter_certificate,
    load_ed25519_private,
    load_pem_chain,
    parse_jws,
    parse_signature_bundle,
    pem,
    time_text,
)
from bodyworn.evidence.verify import CLIP_SUFFIXES, GNSS_SUFFIX, is_signature
from bodyworn.store.files import make_dirs_durable, write_file_atomic

EXPORT_LOG = "export-log.jsonl"
EXPORTER_KEY = "keys/exporter.key.pem"
EXPORTER_CERTIFICATE = "keys/exporter.cert.pem"
MAX_RECORDINGS = 200
# <date>_<time>_<RecordingID>.<ext>: the clip object names' recording ID.
_CLIP_NAME = re.compile(r"^\d{8}_\d{6}_(?P<id>.+)\.(?:mkv|mp4)$")


class ExportRefused(ValueError):
    """An export that cannot be made as asked (no such recording, none given)."""


@dataclass(frozen=True)
class ExportResult:
    """One export made: its id, what it holds, and its manifest's sha256 (in the log too)."""

    export_id: str
    recordings: tuple[str, ...]
    files: int
    manifest_sha256: str
    audit_entries: int


class ExportLog:
    """The CD's append-only, hash-chained log of exports (one JSON object per line)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, oldest first."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text("utf-8").splitlines() if line]

    def append(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Add one entry, chained to the last, written and fsynced before returning."""
        with self._lock:
            previous = self.entries()
            prev = previous[-1]["hash"] if previous else GENESIS
            doc = {**entry, "seq": len(previous) + 1, "prev_hash": prev}
            body = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
            doc["hash"] = hashlib.sha256(body.encode("utf-8")).hexdigest()
            make_dirs_durable(self.path.parent)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (json.dumps(doc, sort_keys=True, ensure_ascii=False) + "\n")
                         .encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            return doc

    def verify(self) -> str | None:
        """Why the log's chain does not hold, or None when it does."""
        prev = GENESIS
        for entry in self.entries():
            claimed = entry.pop("hash", None)
            if entry.get("prev_hash") != prev:
                return f"export {entry.get('seq')} does not follow the one before"
            body = json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
            if hashlib.sha256(body.encode("utf-8")).hexdigest() != claimed:
                return f"export {entry.get('seq')} was edited"
            prev = str(claimed)
        return None


def exporter_identity(data_dir: Path, site: str, clock: Clock
                      ) -> tuple[Ed25519PrivateKey, x509.Certificate]:
    """This CD's key and certificate for signing exports (made on first use, kept 0600)."""
    key_path, cert_path = data_dir / EXPORTER_KEY, data_dir / EXPORTER_CERTIFICATE
    if key_path.exists() and cert_path.exists():
        return (load_ed25519_private(key_path.read_bytes()),
                load_pem_chain(cert_path.read_bytes())[0])
    key = Ed25519PrivateKey.generate()
    cert = exporter_certificate(key, site, clock.now())
    make_dirs_durable(key_path.parent)
    write_file_atomic(key_path, key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()), 0o600)
    write_file_atomic(cert_path, pem(cert), 0o600)
    return key, cert


def _blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from read_chunks(handle)


class Exporter:
    """Makes evidence archives from one account of the store, and logs each one."""

    def __init__(self, reader: EvidenceReader, data_dir: Path, site: str, clock: Clock) -> None:
        self.reader = reader
        self.data_dir = data_dir
        self.site = site
        self.clock = clock
        self.log = ExportLog(data_dir / EXPORT_LOG)

    def export(self, containers: Sequence[str], out: IO[bytes], *, actor: str, source: str,
               case: str = "") -> ExportResult:
        """Write one archive of `containers` to `out` and log it; ExportRefused if unknown."""
        wanted = list(dict.fromkeys(c for c in containers if c))
        if not wanted:
            raise ExportRefused("choose at least one recording")
        if len(wanted) > MAX_RECORDINGS:
            raise ExportRefused(f"at most {MAX_RECORDINGS} recordings in one export")
        for container in wanted:
            if not self.reader.is_evidence(container) or not safe_member(container):
                raise ExportRefused(f"no recording {container!r}")
        key, cert = exporter_identity(self.data_dir, self.site, self.clock)
        export_id = str(uuid.uuid4())
        writer = ArchiveWriter(out)
        try:
            writer.add_bytes(README, README_TEXT.encode("utf-8"))
            writer.add_bytes(EXPORTER_CERT, pem(cert))
            users: set[str] = set()
            cameras: set[str] = set()
            systems: set[str] = set()
            recording_ids: set[str] = set()
            signers: dict[str, x509.Certificate] = {}
            for container in wanted:
                found = self._add_recording(writer, container, signers)
                users |= found[0]
                cameras |= found[1]
                systems |= found[2]
                recording_ids |= found[3]
            # The cameras' certificates as PEM too, for the checks by hand (they are in
            # each signature's x5c as well).
            for serial, signer in sorted(signers.items()):
                if safe_member(f"certificates/camera-{serial}.pem"):
                    writer.add_bytes(f"certificates/camera-{serial}.pem", pem(signer))
            self._add_people(writer, users, cameras)
            entries, anchored = self._add_audit(writer, {*wanted, *recording_ids}, cameras)
            trusted = self.reader.trusted_systems()
            # The systems the signatures and anchors lead to; all this CD knows if none.
            for system_id in sorted((systems | anchored) or set(trusted)):
                if system_id in trusted:
                    writer.add_bytes(f"certificates/system-{system_id}.pem",
                                     pem(trusted[system_id]))
            now = self.clock.now()
            digest = writer.seal({
                "export_id": export_id, "created": time_text(now), "exporter": self.site,
                "case": case[:64], "actor": actor[:64], "recordings": wanted,
            }, key, cert)
        except BaseException:
            writer.abandon()
            raise
        self.log.append({
            "at": time_text(now), "actor": actor[:64], "source": source[:64],
            "export_id": export_id, "case": case[:64], "recordings": wanted,
            "manifest_sha256": digest,
        })
        return ExportResult(export_id, tuple(wanted), len(writer.files), digest, entries)

    def _add_recording(self, writer: ArchiveWriter, container: str,
                       signers: dict[str, x509.Certificate]
                       ) -> tuple[set[str], set[str], set[str], set[str]]:
        reader = self.reader
        store, account = reader.store, reader.account
        base = recording_dir(container)
        meta = decoded(store.container_metadata(account, container))
        writer.add_json(f"{base}/container.json", {"name": container, "metadata": meta})
        objects = store.list_objects(account, container)
        names = {o.name for o in objects}
        users = {v for k, v in meta.items() if k.lower() == "userid" and v}
        cameras = {v for k, v in meta.items() if k.lower() == "bwcserialnumber" and v}
        systems: set[str] = set()
        recording_ids: set[str] = set()
        for obj in objects:
            for jws in _statements_of(obj) if is_signature(obj.name) else ():
                systems.add(common_name(jws.chain[-1]))
                signers.setdefault(common_name(jws.chain[0]), jws.chain[0])
                recording = jws.payload.get("recording")
                if isinstance(recording, str) and recording:
                    recording_ids.add(recording)
            match = _CLIP_NAME.match(obj.name)
            if match:
                recording_ids.add(match.group("id"))
        # Clips and tracks this CD can open go out decrypted, without their key objects.
        opened = {obj.name: plain for obj in objects
                  if obj.name.endswith((*CLIP_SUFFIXES, GNSS_SUFFIX))
                  and key_object_name(obj.name) in names
                  and (plain := self._content_key(container, obj)) is not None}
        skipped = {key_object_name(name) for name in opened}
        for obj in objects:
            if obj.name in skipped or not safe_member(f"{base}/objects/{obj.name}"):
                continue
            content_key = opened.get(obj.name)
            blocks: Iterable[bytes] = (decrypt_chunks(_blocks(obj.path), content_key)
                                       if content_key is not None else _blocks(obj.path))
            writer.add_stream(f"{base}/objects/{obj.name}", blocks)
            writer.add_json(f"{base}/metadata/{obj.name}.json", {
                "metadata": decoded(obj.metadata), "content_type": obj.content_type,
                "stored_sha256": obj.sha256, "stored_md5": obj.md5,
                "stored_size": obj.size, "decrypted": content_key is not None,
            })
        return users, cameras, systems, recording_ids

    def _content_key(self, container: str, obj: StoredObject) -> ContentKey | None:
        key_file = self.reader.content_key_for(container, obj.name)
        if key_file is None or self.reader.private_key is None:
            return None
        try:
            return open_key_file(key_file, self.reader.private_key)
        except (EvidenceCryptoError, ValueError):
            return None

    def _add_people(self, writer: ArchiveWriter, users: set[str], cameras: set[str]) -> None:
        store, account = self.reader.store, self.reader.account
        for folder, wanted, name in (("Users", users, "people/users.json"),
                                     ("Devices", cameras, "people/devices.json")):
            found: dict[str, dict[str, str]] = {}
            for ref in sorted(wanted):
                try:
                    found[ref] = decoded(store.get_object(account, folder, ref).metadata)
                except NotFound:
                    continue
            writer.add_json(name, found)

    def _add_audit(self, writer: ArchiveWriter, refs: set[str], cameras: set[str]
                   ) -> tuple[int, set[str]]:
        """The audit entries about `refs` (recording IDs, containers) and `cameras`, and the
        anchors that hold them: how many entries, and the systems whose anchors they are."""
        store, account = self.reader.store, self.reader.account
        try:
            objects = store.list_objects(account, "System")
        except NotFound:
            return 0, set()
        picked: list[ChainedEntry] = []
        anchors: list[tuple[str, str]] = []
        for obj in sorted(objects, key=lambda o: o.name):
            named = parse_anchor_name(obj.name)
            if named is None:
                continue
            try:
                stored = parse_anchor_body(obj.path.read_bytes())
            except (SignatureProblem, OSError):
                continue
            mine = [e for e in stored.entries if _concerns(e, refs, cameras)]
            if mine:
                picked.extend(mine)
                anchors.append((f"audit/anchors/{named[0]}-{named[1]:010d}.jws",
                                stored.jws.text))
        systems: set[str] = set()
        for name, text in anchors:
            writer.add_bytes(name, (text + "\n").encode("ascii"))
        for obj in objects:
            named = parse_anchor_name(obj.name)
            if named is not None and any(a[0].startswith(f"audit/anchors/{named[0]}-")
                                         for a in anchors):
                systems.add(named[0])
        if picked:
            writer.add_json(ENTRIES, [e.to_json() for e in picked])
        return len(picked), systems


def _concerns(entry: ChainedEntry, refs: set[str], cameras: set[str]) -> bool:
    """Whether an audit entry is about one of these recordings or their cameras."""
    if any(ref and ref in entry.detail for ref in refs):
        return True
    return entry.action.startswith("camera.") and any(
        serial and serial in entry.detail for serial in cameras)


def _statements_of(obj: StoredObject) -> list[Jws]:
    """The statements a signature object holds (one, or a recording's signatures)."""
    try:
        data = obj.path.read_bytes()
        if not obj.name.endswith(SIGNATURES_SUFFIX):
            return [parse_jws(data)]
        recording, clips = parse_signature_bundle(data)
        return [parse_jws(t) for t in (recording, *clips.values()) if t is not None]
    except (SignatureProblem, OSError):
        return []
