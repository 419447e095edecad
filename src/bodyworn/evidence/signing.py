"""Signed evidence: certificates under the system identity and JWS statements.

Trust runs from one root, the **system identity** (the controller's Ed25519 key, as a
self-signed X.509 CA certificate whose subject is the system ID). Each camera holds a
device key of its own; when the camera is added the controller issues it a certificate
(subject: the camera's serial number). The camera signs:

- a **clip statement** per clip: its name, index, times, size and the sha256 of its
  plaintext bytes (signing comes before the content destination's encryption);
- a **recording statement** per recording: the camera's metadata (triggers, times, places,
  user, firmware, time zone), a digest of its GNSS track, its categories and notes (the
  bookmarks) and the sha256 of every clip.

The system identity itself signs the audit anchors and nothing else here. Every
signature is a JWS in compact form (RFC 7515) with `alg` EdDSA (RFC 8037) and the
certificate chain in `x5c` (signer first, the system certificate last), so `openssl`
alone can check one: docs/integrity.md gives the steps.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import NameOID

from bodyworn.domain import strict_json
from bodyworn.evidence.metadata import rfc3339

ALG = "EdDSA"
CLIP_STATEMENT = "bodyworn-clip-v1"
RECORDING_STATEMENT = "bodyworn-recording-v1"
AUDIT_ANCHOR = "bodyworn-audit-anchor-v1"
EXPORT_MANIFEST = "bodyworn-export-manifest-v1"
SIGNATURES_FORMAT = "bodyworn-signatures-v1"

SYSTEM_ORGANISATION = "bodyworn system identity"
CAMERA_ORGANISATION = "bodyworn camera"
EXPORTER_ORGANISATION = "bodyworn evidence exporter"
SYSTEM_LIFETIME = timedelta(days=365 * 30)
CAMERA_LIFETIME = timedelta(days=365 * 20)
# A little slack for clocks that disagree when a certificate is made and first used.
BACKDATE = timedelta(hours=1)
MAX_JWS_BYTES = 256 * 1024


class SignatureProblem(ValueError):
    """A signature, certificate or statement that does not hold; the message says why."""


# ---- encodings ---------------------------------------------------------------------------


def canonical_json(doc: object) -> bytes:
    """The bytes a statement is signed as: sorted keys, no spaces, UTF-8."""
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8"
    )


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding; SignatureProblem when it is not."""
    if not isinstance(text, str) or any(c in text for c in "+/="):
        raise SignatureProblem("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise SignatureProblem("not base64url") from exc


def time_text(moment: datetime) -> str:
    """A statement's time: RFC 3339 UTC with microseconds and a Z."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime in a statement")
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time_text(text: object) -> datetime:
    """Read a statement's time; SignatureProblem when it is not one."""
    if not isinstance(text, str):
        raise SignatureProblem("a time in the statement is not text")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SignatureProblem(f"not a time: {text!r}") from exc
    if moment.tzinfo is None:
        raise SignatureProblem(f"time without offset: {text!r}")
    return moment.astimezone(UTC)


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER, as `openssl x509 -fingerprint -sha256` shows it."""
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def normal_fingerprint(text: str) -> str:
    """A fingerprint as typed by a person (any case, colons or not) in `fingerprint` form."""
    hexed = "".join(c for c in text.upper() if c in "0123456789ABCDEF")
    return ":".join(hexed[i : i + 2] for i in range(0, len(hexed), 2))


def pem(cert: x509.Certificate) -> bytes:
    """A certificate as PEM."""
    return cert.public_bytes(serialization.Encoding.PEM)


def load_pem_chain(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle; SignatureProblem when there is none or one is bad."""
    try:
        chain = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise SignatureProblem(f"not PEM certificates: {exc}") from exc
    if not chain:
        raise SignatureProblem("no certificate")
    return chain


def public_key_of(cert: x509.Certificate) -> Ed25519PublicKey:
    """A certificate's Ed25519 key; SignatureProblem for any other kind."""
    key = cert.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureProblem("the certificate's key is not Ed25519")
    return key


def same_key(a: Ed25519PublicKey, b: Ed25519PublicKey) -> bool:
    """Whether two Ed25519 public keys are the same key."""
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    return a.public_bytes(*raw) == b.public_bytes(*raw)


def common_name(cert: x509.Certificate) -> str:
    """The subject's CN (empty when it has none)."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


# ---- certificates ------------------------------------------------------------------------


def _name(cn: str, organisation: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def system_certificate(key: Ed25519PrivateKey, system_id: str, now: datetime) -> x509.Certificate:
    """The system identity as a self-signed CA certificate (subject CN = the system ID)."""
    name = _name(system_id, SYSTEM_ORGANISATION)
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + SYSTEM_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    return builder.sign(key, None)


def camera_certificate(
    system_key: Ed25519PrivateKey,
    system_cert: x509.Certificate,
    camera_key: Ed25519PublicKey,
    serial: str,
    now: datetime,
) -> x509.Certificate:
    """A camera's device certificate, issued by the system identity (subject CN = serial)."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(serial, CAMERA_ORGANISATION))
        .issuer_name(system_cert.subject)
        .public_key(camera_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + CAMERA_LIFETIME, system_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(camera_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key_of(system_cert)),
            critical=False,
        )
    )
    return builder.sign(system_key, None)


def exporter_certificate(key: Ed25519PrivateKey, site: str, now: datetime) -> x509.Certificate:
    """A content destination's self-signed certificate for the exports it signs."""
    name = _name(site[:64] or "bodyworn", EXPORTER_ORGANISATION)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + SYSTEM_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    return builder.sign(key, None)


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def issued_by(leaf: x509.Certificate, issuer: x509.Certificate) -> str | None:
    """Why `leaf` was not issued by `issuer` (a CA), or None when it was."""
    if not _is_ca(issuer):
        return "the issuing certificate is not a certificate authority"
    if leaf.issuer != issuer.subject:
        return "the certificate names another issuer"
    try:
        public_key_of(issuer).verify(leaf.signature, leaf.tbs_certificate_bytes)
    except InvalidSignature:
        return "the certificate's signature is not the issuer's"
    except SignatureProblem as exc:
        return str(exc)
    if _is_ca(leaf):
        return "a certificate authority cannot sign evidence"
    return None


# ---- JWS ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Jws:
    """A parsed compact JWS: protected header, payload, and the chain from `x5c`."""

    text: str
    header: Mapping[str, Any]
    payload: Mapping[str, Any]
    signing_input: bytes
    signature: bytes
    chain: tuple[x509.Certificate, ...]

    @property
    def type(self) -> str:
        """The statement's `type` field."""
        return str(self.payload.get("type", ""))


def sign_jws(
    payload: Mapping[str, Any], key: Ed25519PrivateKey, chain: Sequence[x509.Certificate]
) -> str:
    """A compact JWS over `payload` (canonical JSON) with `chain` in x5c, signer first."""
    header = {
        "alg": ALG,
        "typ": "JOSE",
        "x5c": [
            base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode("ascii")
            for c in chain
        ],
    }
    signing_input = f"{b64url(canonical_json(header))}.{b64url(canonical_json(payload))}"
    signature = key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url(signature)}"


def parse_jws(text: str | bytes) -> Jws:
    """Split and decode a compact JWS (no signature check yet); SignatureProblem if malformed."""
    if isinstance(text, bytes):
        if len(text) > MAX_JWS_BYTES:
            raise SignatureProblem("too large to be a signature")
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError as exc:
            raise SignatureProblem("not a compact JWS (not ASCII)") from exc
    text = text.strip()
    parts = text.split(".")
    if len(parts) != 3:
        raise SignatureProblem("not a compact JWS (three parts expected)")
    try:
        header = strict_json.loads(b64url_decode(parts[0]))
        payload = strict_json.loads(b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SignatureProblem(f"not a compact JWS: {exc}") from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise SignatureProblem("not a compact JWS (header and payload are JSON objects)")
    if header.get("alg") != ALG:
        raise SignatureProblem(f"algorithm {header.get('alg')!r} is not {ALG}")
    x5c = header.get("x5c")
    if not isinstance(x5c, list) or not x5c or not all(isinstance(c, str) for c in x5c):
        raise SignatureProblem("no certificate chain (x5c) in the signature")
    try:
        chain = tuple(
            x509.load_der_x509_certificate(base64.b64decode(c, validate=True)) for c in x5c
        )
    except ValueError as exc:
        raise SignatureProblem(f"a certificate in x5c is unreadable: {exc}") from exc
    return Jws(
        text=text,
        header=header,
        payload=payload,
        signing_input=f"{parts[0]}.{parts[1]}".encode("ascii"),
        signature=b64url_decode(parts[2]),
        chain=chain,
    )


def signature_bundle(recording: str | None, clips: Mapping[str, str]) -> bytes:
    """One recording's signatures as one object: its statement and each clip's (by the
    clip's object name), as compact JWS strings in canonical JSON. One object instead of
    one per clip: each object costs the CD a request, whatever its size."""
    return canonical_json({"format": SIGNATURES_FORMAT, "recording": recording,
                           "clips": dict(clips)})


def parse_signature_bundle(data: bytes) -> tuple[str | None, dict[str, str]]:
    """The recording statement (None when unsigned) and the clip statements by clip object
    name of a signatures object; SignatureProblem when it is not one."""
    try:
        doc = strict_json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SignatureProblem(f"the signatures object is not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != SIGNATURES_FORMAT:
        raise SignatureProblem("the signatures object is not one this verifier knows")
    recording, clips = doc.get("recording"), doc.get("clips")
    if not (recording is None or isinstance(recording, str)) or not isinstance(clips, dict) \
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in clips.items()):
        raise SignatureProblem("the signatures object is malformed")
    return recording, clips


def verify_jws(jws: Jws, statement_type: str) -> None:
    """Check the signature with the signer's key (first in x5c) and the statement's type."""
    try:
        public_key_of(jws.chain[0]).verify(jws.signature, jws.signing_input)
    except InvalidSignature as exc:
        raise SignatureProblem(
            "the signature does not verify: the signed data was changed") from exc
    if jws.type != statement_type:
        raise SignatureProblem(f"a {jws.type or 'statement'} where a {statement_type} belongs")


def check_chain(
    jws: Jws, trusted: Mapping[str, x509.Certificate], *, signer_cn: str | None = None
) -> x509.Certificate:
    """The trusted system certificate the JWS's chain leads to; SignatureProblem otherwise.

    `trusted`: system certificates by system ID. The chain is the signer's certificate
    then its issuer; the issuer must be one of `trusted` (same key and same name).
    """
    if len(jws.chain) < 2:
        raise SignatureProblem("the signer's certificate is not issued by any system")
    leaf, root = jws.chain[0], jws.chain[-1]
    anchor = trusted.get(common_name(root))
    if anchor is None or not same_key(public_key_of(anchor), public_key_of(root)):
        raise SignatureProblem(
            f"the camera's key is not certified by a system this destination knows"
            f" (issuer {common_name(root) or 'unnamed'})"
        )
    problem = issued_by(leaf, anchor)
    if problem:
        raise SignatureProblem(f"the camera's certificate: {problem}")
    if signer_cn is not None and common_name(leaf) != signer_cn:
        raise SignatureProblem(
            f"signed by camera {common_name(leaf)!r}, the evidence is of {signer_cn!r}"
        )
    return anchor


# ---- statements --------------------------------------------------------------------------


def clip_statement(
    *,
    camera: str,
    recording: str,
    clip: str,
    index: int,
    start: datetime,
    end: datetime,
    size: int,
    sha256: str,
) -> dict[str, Any]:
    """What a camera signs for one closed clip."""
    return {
        "type": CLIP_STATEMENT,
        "camera": camera,
        "recording": recording,
        "clip": clip,
        "index": index,
        "start": time_text(start),
        "end": time_text(end),
        "size": size,
        "sha256": sha256,
    }


@dataclass(frozen=True)
class Fix:
    """A position in a statement: degrees and when."""

    latitude: float
    longitude: float
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"latitude": self.latitude, "longitude": self.longitude, "at": time_text(self.at)}


def track_digest(points: Iterable[tuple[float, float, datetime]]) -> str:
    """sha256 of a GNSS track as the CD's track object carries it: (lon, lat) to 6 decimals
    and whole-second UTC times, so the camera's fixes and the stored object agree."""
    rows = [[f"{lon:.6f}", f"{lat:.6f}", rfc3339(at)] for lat, lon, at in points]
    return hashlib.sha256(canonical_json(rows)).hexdigest()


def recording_statement(
    *,
    camera: str,
    recording: str,
    user: str | None,
    firmware: str,
    timezone: str,
    trigger: str,
    trigger_on: datetime,
    trigger_off: datetime | None,
    started_at: datetime,
    stopped_at: datetime | None,
    stop_reason: str | None,
    trigger_on_location: Fix | None,
    trigger_off_location: Fix | None,
    track: Sequence[Fix],
    categories: Sequence[str],
    notes: Sequence[str],
    clips: Sequence[tuple[int, str]],
) -> dict[str, Any]:
    """What a camera signs for one finished recording (clips as (index, sha256))."""
    return {
        "type": RECORDING_STATEMENT,
        "camera": camera,
        "recording": recording,
        "user": user,
        "firmware": firmware,
        "timezone": timezone,
        "trigger": trigger,
        "trigger_on": time_text(trigger_on),
        "trigger_off": time_text(trigger_off) if trigger_off else None,
        "started_at": time_text(started_at),
        "stopped_at": time_text(stopped_at) if stopped_at else None,
        "stop_reason": stop_reason,
        "trigger_on_location": trigger_on_location.to_json() if trigger_on_location else None,
        "trigger_off_location": trigger_off_location.to_json() if trigger_off_location else None,
        "track_points": len(track),
        "track_sha256": track_digest((f.latitude, f.longitude, f.at) for f in track)
        if track else None,
        "categories": list(categories),
        "notes": list(notes),
        "clips": [{"index": i, "sha256": s} for i, s in clips],
    }


def load_ed25519_private(pem_bytes: bytes) -> Ed25519PrivateKey:
    """An unencrypted PEM Ed25519 private key; ValueError otherwise."""
    key = serialization.load_pem_private_key(pem_bytes, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


def load_ed25519_public(pem_bytes: bytes) -> Ed25519PublicKey:
    """A PEM Ed25519 public key; ValueError otherwise."""
    key = serialization.load_pem_public_key(pem_bytes)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def public_pem(key: Ed25519PublicKey) -> str:
    """SubjectPublicKeyInfo PEM text of an Ed25519 key."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
