"""Small factories for client tests: recordings with real files, RSA keys, certificates."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from bodyworn.cdclient import Bookmark, Category, ClipFile, GnssPoint, RecordingUpload
from bodyworn.evidence.metadata import Location

T0 = datetime(2026, 3, 1, 8, 30, 0, tzinfo=UTC)

# Every recording container key of the spec (and cd-api.md), as the spec spells them.
SPEC_RECORDING_KEYS = [
    "ContainerName",
    "BWCSerialNumber",
    "SCUSerialNumber",
    "FirmwareVersion",
    "UserID",
    "TriggerOn",
    "TriggerOff",
    "TriggerOnTime",
    "TriggerOnTimeISO",
    "TriggerOnLocation",
    "TriggerOffTime",
    "TriggerOffTimeISO",
    "TriggerOffLocation",
    "StartTime",
    "StartTimeISO",
    "StopTime",
    "StopTimeISO",
    "TimeZone",
    "BWCModel",
    "Status",
]


def make_recording(
    folder: Path,
    *,
    clips: int = 2,
    clip_bytes: int = 50_000,
    user_uuid: str | None = None,
    serial: str = "ACCC8E000001",
    start: datetime = T0,
    note: str = "Stopped a car; driver calm. Åäö ✓",
) -> RecordingUpload:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(clips):
        path = folder / f"clip{i}.mkv"
        path.write_bytes(os.urandom(clip_bytes + i))
        c_start = start + timedelta(minutes=5 * i)
        files.append(
            ClipFile(
                path,
                c_start,
                c_start + timedelta(minutes=5),
                start_location=Location(55.7184, 13.2211, 4.0, c_start),
                stop_location=Location(55.7190, 13.2220, 6.5, c_start + timedelta(minutes=5)),
            )
        )
    stop = start + timedelta(minutes=5 * clips)
    return RecordingUpload(
        recording_id=str(4000 + clips),
        user_uuid=user_uuid or str(uuid.uuid4()),
        bwc_serial=serial,
        scu_serial="ACCC8E00FFFF",
        bwc_model="W110",
        firmware_version="11.2.3",
        trigger_on="Button",
        trigger_off="Button",
        trigger_on_time=start + timedelta(seconds=30),
        trigger_off_time=stop,
        start_time=start,
        stop_time=stop,
        clips=tuple(files),
        time_zone="Europe/Stockholm",
        trigger_on_location=Location(55.7184, 13.2211, 4.0, start),
        trigger_off_location=Location(55.7190, 13.2220, 6.5, stop),
        gnss_track=tuple(
            GnssPoint(55.7184 + i * 0.0001, 13.2211 + i * 0.0001, start + timedelta(seconds=10 * i))
            for i in range(5)
        ),
        bookmarks=(
            Bookmark(
                "1",
                start + timedelta(minutes=1),
                note=note,
                category=Category("5", "Traffic"),
                tags={"TriggerOn": "Button", "Unit": "B12"},
                start=start + timedelta(minutes=1),
                end=start + timedelta(minutes=2),
            ),
            Bookmark("2", start + timedelta(minutes=3)),
        ),
    )


@dataclass(frozen=True)
class KeyPair:
    private: rsa.RSAPrivateKey
    public_pem: bytes


def make_rsa() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return KeyPair(key, pem)


def make_tls_cert(folder: Path, name: str = "cd") -> tuple[Path, Path, bytes]:
    """A self-signed certificate for 127.0.0.1; returns cert path, key path, DER."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path, cert.public_bytes(serialization.Encoding.DER)


def closed_port() -> int:
    """A loopback port nothing listens on (bound and released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
