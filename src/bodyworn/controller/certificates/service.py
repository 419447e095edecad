"""Settings → Certificates: the manager's HTTPS certificates and their private keys.

Every certificate has its private key here, sealed with the secrets key: Default (made at
the first start), self-signed ones made on the page, and CA-signed ones installed from a
`.crt` that answers a signing request made here (it must match one of our keys). One is
active; serving.py hands it to new connections the moment it is activated.
"""

from __future__ import annotations

import hashlib
import itertools
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bodyworn.controller.audit.service import record
from bodyworn.controller.certificates.models import KEY_PURPOSE, CertificateRow
from bodyworn.controller.refusals import FieldsRefused, Refused
from bodyworn.controller.setup.service import FieldError
from bodyworn.domain.clock import Clock
from bodyworn.domain.text import fold
from bodyworn.store.secrets import box_of
from bodyworn.tlsutil import NOT_BEFORE_MARGIN, PrivateKey, san_names, self_signed_certificate

DEFAULT_NAME = "Default"
DEFAULT, SELF_SIGNED, INSTALLED = "default", "self-signed", "installed"
ORIGIN_LABELS = {DEFAULT: "Default (self-signed)", SELF_SIGNED: "Self-signed",
                 INSTALLED: "Installed"}
KEY_TYPES: dict[str, str] = {"rsa-2048": "RSA 2048", "rsa-3072": "RSA 3072",
                             "ecdsa-p256": "ECDSA P-256"}
NAME_MAX = 64
DAYS_MAX = 10 * 366
DEFAULT_DAYS = 3 * 365
FILE_MAX = 256 * 1024
# A certificate file sent in a form (page or API): its limit, and room for the multipart
# framing and the CSRF field; far below the app's default, so a file much too large for
# a certificate is not even read.
FORM_MAX = FILE_MAX + 16 * 1024
_SUFFIXES = (".crt", ".pem", ".cer", ".der")


class CertificateRefused(Refused):
    """A certificate that cannot be installed, activated or deleted; `message` says why."""

    status = 422


@dataclass(frozen=True)
class Subject:
    """What a certificate or signing request says it is for."""

    common_name: str
    organization: str = ""
    organizational_unit: str = ""
    locality: str = ""
    state: str = ""
    country: str = ""
    hosts: tuple[str, ...] = field(default_factory=tuple)

    def name(self) -> x509.Name:
        """As an X.509 name (empty values left out)."""
        parts = [(NameOID.COUNTRY_NAME, self.country), (NameOID.STATE_OR_PROVINCE_NAME, self.state),
                 (NameOID.LOCALITY_NAME, self.locality),
                 (NameOID.ORGANIZATION_NAME, self.organization),
                 (NameOID.ORGANIZATIONAL_UNIT_NAME, self.organizational_unit),
                 (NameOID.COMMON_NAME, self.common_name)]
        return x509.Name([x509.NameAttribute(oid, value) for oid, value in parts if value])

    def problems(self) -> list[FieldError]:
        """What is wrong with the values."""
        errors: list[FieldError] = []
        if not self.common_name or len(self.common_name) > 64:
            errors.append(FieldError("common_name", "must be 1 to 64 characters"))
        for name in ("organization", "organizational_unit", "locality", "state"):
            value = getattr(self, name)
            if len(value) > 64 or not value.isprintable():
                errors.append(FieldError(name, "must be at most 64 characters"))
        if self.country and (len(self.country) != 2 or not self.country.isalpha()
                             or not self.country.isascii()):
            errors.append(FieldError("country", "must be a two-letter country code, such as SE"))
        if not self.hosts:
            errors.append(FieldError("hosts", "must name at least one host name or IP address"))
        for host in self.hosts:
            if len(host) > 253 or not host.isascii() or not host.isprintable() or " " in host:
                errors.append(FieldError("hosts", f"'{host}' is not a host name or IP address"))
                break
        return errors

    @classmethod
    def of(cls, cert: x509.Certificate | x509.CertificateSigningRequest) -> Subject:
        """The subject values and host names of a certificate."""
        def get(oid: x509.ObjectIdentifier) -> str:
            found = cert.subject.get_attributes_for_oid(oid)
            return str(found[0].value) if found else ""

        try:
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            hosts = tuple([*sans.get_values_for_type(x509.DNSName),
                           *(str(a) for a in sans.get_values_for_type(x509.IPAddress))])
        except x509.ExtensionNotFound:
            hosts = ()
        return cls(get(NameOID.COMMON_NAME), get(NameOID.ORGANIZATION_NAME),
                   get(NameOID.ORGANIZATIONAL_UNIT_NAME), get(NameOID.LOCALITY_NAME),
                   get(NameOID.STATE_OR_PROVINCE_NAME), get(NameOID.COUNTRY_NAME), hosts)


def split_hosts(text: str) -> tuple[str, ...]:
    """Host names and addresses from a field (commas, spaces or lines between them)."""
    return tuple(h for h in text.replace(",", " ").split() if h)


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def public_key_sha256(cert: x509.Certificate | x509.CertificateSigningRequest) -> str:
    """sha256 of the public key (DER SubjectPublicKeyInfo): what matches a key we hold."""
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def key_type_of(key: PrivateKey) -> str:
    """"RSA 2048", "ECDSA P-256", …"""
    if isinstance(key, rsa.RSAPrivateKey):
        return f"RSA {key.key_size}"
    return "ECDSA P-256" if key.curve.name == "secp256r1" else f"ECDSA {key.curve.name}"


def new_key(key_type: str) -> PrivateKey:
    """A new private key of one of KEY_TYPES."""
    if key_type == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[4:]))


def _row(name: str, origin: str, chain: Sequence[x509.Certificate], key_sealed: bytes,
         key_type: str, now: datetime) -> CertificateRow:
    leaf = chain[0]
    return CertificateRow(
        name=name, origin=origin, chain_pem="".join(_pem(c) for c in chain),
        key_sealed=key_sealed, key_type=key_type, public_key_sha256=public_key_sha256(leaf),
        subject=leaf.subject.rfc4514_string()[:1024], issuer=leaf.issuer.rfc4514_string()[:1024],
        not_before=leaf.not_valid_before_utc, not_after=leaf.not_valid_after_utc,
        fingerprint_sha256=leaf.fingerprint(hashes.SHA256()).hex(), active=False, created_at=now)


def _seal(session: Session, key: PrivateKey) -> bytes:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return box_of(session).seal(pem, KEY_PURPOSE)


def private_key_pem(session: Session, row: CertificateRow) -> bytes:
    """The certificate's private key (PKCS#8 PEM), opened."""
    return box_of(session).open(row.key_sealed, KEY_PURPOSE)


def default_hosts(extra: Sequence[str] = ()) -> list[str]:
    """What the Default certificate is made for: this host's name, localhost, loopback."""
    return [*sorted({"localhost", socket.gethostname(), *extra}), "127.0.0.1", "::1"]


def ensure_default(session: Session, clock: Clock, legacy_dir: Path | None = None) -> None:
    """Make the Default certificate if there is none, and make it active if nothing is.

    A Default certificate an older version kept as files in `legacy_dir` (default.crt and
    an unsealed default.key) is taken over and its key file removed, so browsers that
    trusted it keep trusting it.
    """
    default = session.scalars(select(CertificateRow)
                              .where(CertificateRow.origin == DEFAULT)).first()
    if default is None:
        chain, key = _legacy_default(legacy_dir) if legacy_dir else (None, None)
        if chain is None or key is None:
            hostname = socket.gethostname()
            made = self_signed_certificate(default_hosts(), days=DEFAULT_DAYS,
                                           common_name=hostname[:64] or "localhost",
                                           organization="bodyworn Default")
            key = serialization.load_pem_private_key(made.key_pem, None)  # type: ignore[assignment]
            chain = [x509.load_pem_x509_certificate(made.cert_pem)]
        assert key is not None and isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
        default = _row(DEFAULT_NAME, DEFAULT, chain, _seal(session, key), key_type_of(key),
                       clock.now())
        session.add(default)
        session.flush()
        if legacy_dir is not None:
            (legacy_dir / "default.key").unlink(missing_ok=True)
            (legacy_dir / "default.crt").unlink(missing_ok=True)
    if session.scalar(select(CertificateRow.id).where(CertificateRow.active.is_(True))) is None:
        default.active = True


def _legacy_default(tls_dir: Path) -> tuple[list[x509.Certificate] | None, PrivateKey | None]:
    cert_path, key_path = tls_dir / "default.crt", tls_dir / "default.key"
    if not (cert_path.exists() and key_path.exists()):
        return None, None
    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        return None, None
    return x509.load_pem_x509_certificates(cert_path.read_bytes()), key


def _check_name(session: Session, name: str, field: str = "name") -> list[FieldError]:
    if not name or len(name) > NAME_MAX or not name.isprintable():
        return [FieldError(field, "must be 1 to 64 characters on one line")]
    if session.scalar(select(CertificateRow.id).where(CertificateRow.name_key == fold(name))):
        return [FieldError(field, "is taken by another certificate")]
    return []


def create_self_signed(session: Session, clock: Clock, name: str, subject: Subject,
                       key_type: str, days: int, *, actor: str, source: str) -> CertificateRow:
    """A new self-signed certificate with a new key (not active until activated)."""
    name = name.strip()
    errors = _check_name(session, name) + subject.problems()
    if key_type not in KEY_TYPES:
        errors.append(FieldError("key_type", "must be RSA 2048, RSA 3072 or ECDSA P-256"))
    if not 1 <= days <= DAYS_MAX:
        errors.append(FieldError("days", f"must be from 1 to {DAYS_MAX} days"))
    if errors:
        raise FieldsRefused(errors)
    key = new_key(key_type)
    now = clock.now()
    made = self_signed_certificate(list(subject.hosts), days=days, subject=subject.name(),
                                   key=key, now=now)
    row = _row(name, SELF_SIGNED, [x509.load_pem_x509_certificate(made.cert_pem)],
               _seal(session, key), KEY_TYPES[key_type], now)
    session.add(row)
    session.flush()
    record(session, clock, actor=actor, action="certificate.create",
           detail=f"'{name}', {KEY_TYPES[key_type]}, {days} days", source=source)
    return row


def get(session: Session, cert_id: int) -> CertificateRow:
    """One certificate (LookupError when there is none)."""
    row = session.get(CertificateRow, cert_id)
    if row is None:
        raise LookupError(f"no certificate {cert_id}")
    return row


def certificates(session: Session) -> Sequence[CertificateRow]:
    """Every certificate, Default first."""
    return session.scalars(select(CertificateRow).order_by(
        (CertificateRow.origin != DEFAULT), CertificateRow.name_key)).all()


def leaf(row: CertificateRow) -> x509.Certificate:
    """The certificate itself (the first of its chain)."""
    return x509.load_pem_x509_certificate(row.chain_pem.encode())


def signing_request(session: Session, clock: Clock, cert_id: int, subject: Subject | None,
                    *, actor: str, source: str) -> str:
    """A PEM signing request for a certificate's key (its own subject unless one is given)."""
    row = get(session, cert_id)
    subject = subject or Subject.of(leaf(row))
    errors = subject.problems()
    if errors:
        raise FieldsRefused(errors)
    key = serialization.load_pem_private_key(private_key_pem(session, row), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
    csr = (x509.CertificateSigningRequestBuilder().subject_name(subject.name())
           .add_extension(san_names(list(subject.hosts)), critical=False)
           .sign(key, hashes.SHA256()))
    record(session, clock, actor=actor, action="certificate.csr", detail=f"'{row.name}'",
           source=source)
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def name_from_file(filename: str) -> str:
    """The certificate's name: the file's name without its suffix."""
    base = Path(filename.replace("\\", "/")).name
    for suffix in _SUFFIXES:
        if base.lower().endswith(suffix):
            return base[:-len(suffix)].strip()
    return base.rsplit(".", 1)[0].strip() if "." in base else base.strip()


def _parse(data: bytes) -> list[x509.Certificate]:
    if b"PRIVATE KEY" in data:
        raise CertificateRefused("The file holds a private key. Install the signed certificate "
                                 "only: its key stays on this controller.")
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise CertificateRefused("The file is not a certificate (PEM or DER).") from None


def _who(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "(no subject)"


def _check_chain(chain: Sequence[x509.Certificate], now: datetime) -> None:
    for cert in chain:
        if now < cert.not_valid_before_utc:
            raise CertificateRefused(f"The certificate {_who(cert)} is not valid until "
                                     f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC.")
        if now > cert.not_valid_after_utc:
            raise CertificateRefused(f"The certificate {_who(cert)} expired on "
                                     f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC.")
    for child, parent in itertools.pairwise(chain):
        try:
            if child.issuer != parent.subject:
                raise InvalidSignature
            child.verify_directly_issued_by(parent)
        except (InvalidSignature, ValueError, TypeError):
            raise CertificateRefused(
                f"The chain is not complete: {_who(child)} is not signed by the certificate "
                f"after it, {_who(parent)}. Put the certificate first, then each issuer in "
                "order.") from None
    try:
        usage = chain[0].extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return
    if ExtendedKeyUsageOID.SERVER_AUTH not in usage:
        raise CertificateRefused("The certificate is not for web servers (its extended key "
                                 "usage lacks server authentication).")


def install(session: Session, clock: Clock, filename: str, data: bytes, *, actor: str,
            source: str) -> CertificateRow:
    """Install a signed certificate (and the chain after it, if given) named after its file.

    Refused, with nothing stored, unless it matches a key we hold, its chain is complete and
    every certificate of it is in date.
    """
    name = name_from_file(filename)
    errors = _check_name(session, name, "certificate")
    if errors:
        raise CertificateRefused(f"The name '{name}' (from the file name) "
                                 f"{errors[0].message}.")
    if len(data) > FILE_MAX:
        raise CertificateRefused("The file is too large for a certificate.")
    chain = _parse(data)
    if not chain:
        raise CertificateRefused("The file holds no certificate.")
    holder = session.scalars(select(CertificateRow).where(
        CertificateRow.public_key_sha256 == public_key_sha256(chain[0]))
        .order_by(CertificateRow.id)).first()
    if holder is None:
        raise CertificateRefused("The certificate does not match a private key of this "
                                 "controller. Create the signing request here and have that "
                                 "one signed.")
    fingerprint = chain[0].fingerprint(hashes.SHA256()).hex()
    same = session.scalars(select(CertificateRow).where(
        CertificateRow.fingerprint_sha256 == fingerprint)).first()
    if same is not None:
        raise CertificateRefused(f"This certificate is installed already, as '{same.name}'.")
    _check_chain(chain, clock.now())
    row = _row(name, INSTALLED, chain, holder.key_sealed, holder.key_type, clock.now())
    session.add(row)
    session.flush()
    record(session, clock, actor=actor, action="certificate.install",
           detail=f"'{name}' for the key of '{holder.name}', issued by "
                  f"{chain[0].issuer.rfc4514_string()[:200]}", source=source)
    return row


@dataclass(frozen=True)
class ServedPair:
    """What the server needs: the chain and the private key (PEM)."""

    chain_pem: bytes
    key_pem: bytes = field(repr=False)
    fingerprint_sha256: str


def _pair(session: Session, row: CertificateRow) -> ServedPair:
    return ServedPair(row.chain_pem.encode(), private_key_pem(session, row),
                      row.fingerprint_sha256)


def activate(session: Session, clock: Clock, cert_id: int, *, actor: str,
             source: str) -> ServedPair:
    """Make a certificate the one served (refused when it is out of date)."""
    row = get(session, cert_id)
    now = clock.now()
    if not row.not_before - NOT_BEFORE_MARGIN <= now <= row.not_after:
        raise CertificateRefused("The certificate is out of date; it cannot be activated.")
    session.execute(update(CertificateRow).where(CertificateRow.id != row.id)
                    .values(active=False))
    row.active = True
    record(session, clock, actor=actor, action="certificate.activate", detail=f"'{row.name}'",
           source=source)
    return _pair(session, row)


def active_pair(session: Session) -> ServedPair:
    """The active certificate (LookupError before the Default one exists)."""
    row = session.scalars(select(CertificateRow).where(CertificateRow.active.is_(True))).first()
    if row is None:
        raise LookupError("no active certificate")
    return _pair(session, row)


def delete(session: Session, clock: Clock, cert_id: int, *, actor: str, source: str) -> None:
    """Delete a certificate that is neither active nor Default."""
    row = get(session, cert_id)
    if row.active:
        raise CertificateRefused("The active certificate cannot be deleted; activate another "
                                 "one first.", 409)
    if row.origin == DEFAULT:
        raise CertificateRefused("The Default certificate cannot be deleted.", 409)
    session.delete(row)
    record(session, clock, actor=actor, action="certificate.delete", detail=f"'{row.name}'",
           source=source)


def expires_within(row: CertificateRow, now: datetime, days: int = 30) -> bool:
    """Whether a certificate runs out within `days`."""
    return row.not_after - now < timedelta(days=days)
