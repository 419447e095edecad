"""The embedded CD's connection file: valid per our parser, and enough to deliver over HTTPS."""

from __future__ import annotations

from pathlib import Path

import pytest

from bodyworn.cdclient import CDClient, CDConnection, CDDevice, CDUser, RetryPolicy
from bodyworn.destination.connection import (
    ConnectionSettings,
    connection_file,
    generate_content_keypair,
    generate_tls_certificate,
)
from bodyworn.destination.store import ObjectStore
from bodyworn.destination.swift import SwiftAccount, SwiftApp
from bodyworn.domain.connection_file import parse_connection_file
from bodyworn.evidence.crypto import KeyFile, decrypt_chunks, load_private_key, open_key_file

from ..cdclient.factories import make_recording
from ..cdclient.fakecd import ServerThread

FAST = RetryPolicy(attempts=3, timeout=10, wait_initial=0.01, wait_max=0.02, wait_jitter=0)


def test_plain_file_parses() -> None:
    raw = connection_file(
        ConnectionSettings("Site Å", ("http://127.0.0.1:8080/auth/v1.0",), "bw", "secret")
    )
    parsed = parse_connection_file(raw)
    assert parsed.site_name == "Site Å" and not parsed.want_encryption
    conn = CDConnection.from_parsed(parsed)
    assert conn.uris == ("http://127.0.0.1:8080/auth/v1.0",) and conn.certificates == ()


def test_tls_certificate_needs_a_host() -> None:
    with pytest.raises(ValueError):
        generate_tls_certificate([])


async def test_https_and_encryption_end_to_end(tmp_path: Path) -> None:
    tls = generate_tls_certificate(["127.0.0.1", "localhost"])
    content = generate_content_keypair(bits=2048)
    (tmp_path / "tls.crt").write_bytes(tls.public_pem)
    (tmp_path / "tls.key").write_bytes(tls.private_pem)
    store = ObjectStore(tmp_path / "data")
    app = SwiftApp(store, [SwiftAccount("bw", "s3cret", "bodyworn")])
    rec = make_recording(tmp_path / "rec", clips=1)
    with ServerThread(app.app, certfile=tmp_path / "tls.crt", keyfile=tmp_path / "tls.key") as srv:
        raw = connection_file(
            ConnectionSettings(
                "HQ",
                (f"https://127.0.0.1:{srv.port}/auth/v1.0",),
                "bw",
                "s3cret",
                certificates_der=(tls.der,),
                full_store_and_read=True,
                public_key_pem=content.public_pem,
                public_key_id="hq-2026",
            )
        )
        conn = CDConnection.from_parsed(parse_connection_file(raw))
        assert conn.want_encryption and conn.certificates == (tls.der,)
        async with CDClient(conn, retry=FAST) as client:
            await client.put_user(CDUser(rec.user_uuid, "Ann"))
            await client.put_device(CDDevice(rec.bwc_serial, "Cam", "W110"))
            result = await client.deliver_recording(rec)
    assert result.outcome == "delivered"
    key_obj = store.get_object("bodyworn", result.container, "20260301_083000_4001.key")
    clip_obj = store.get_object("bodyworn", result.container, "20260301_083000_4001.mkv")
    key_file = KeyFile.from_bytes(key_obj.path.read_bytes())
    assert key_file.public_key_id == "hq-2026"
    content_key = open_key_file(key_file, load_private_key(content.private_pem))
    plain = b"".join(decrypt_chunks([clip_obj.path.read_bytes()], content_key))
    assert plain == rec.clips[0].path.read_bytes()
