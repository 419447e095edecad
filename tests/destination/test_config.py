"""The embedded CD set up from its data directory, checked by the conformance battery."""

from __future__ import annotations

import stat
from pathlib import Path

from bodyworn.cdclient import CDConnection, RetryPolicy
from bodyworn.cdclient.conformance import run_conformance
from bodyworn.destination.config import (
    build_app,
    connection_file_for,
    init_destination,
    load_destination,
)
from bodyworn.domain.connection_file import parse_connection_file

from ..cdclient.fakecd import ServerThread

FAST = RetryPolicy(attempts=2, timeout=10, wait_initial=0.01, wait_max=0.02, wait_jitter=0)


def test_init_is_idempotent_and_private(tmp_path: Path) -> None:
    first = init_destination(tmp_path, site_name="North")
    again = init_destination(tmp_path, site_name="Other", encryption=True)
    assert again == first == load_destination(tmp_path)
    assert not first.https and first.content_key_id is None
    mode = stat.S_IMODE((tmp_path / "destination.json").stat().st_mode)
    assert mode == 0o600
    assert first.key not in repr(first)


async def test_https_encrypted_destination_passes_conformance(tmp_path: Path) -> None:
    data = tmp_path / "cd"
    config = init_destination(data, site_name="HQ", https_hosts=["127.0.0.1"], encryption=True)
    assert config.https and config.content_key_id == "HQ-content-key-1"
    assert stat.S_IMODE((data / "keys/content.private.pem").stat().st_mode) == 0o600
    app = await build_app(config, data)
    assert config.tls_cert and config.tls_key
    with ServerThread(
        app.app, certfile=data / config.tls_cert, keyfile=data / config.tls_key
    ) as srv:
        raw = connection_file_for(config, data, [f"https://127.0.0.1:{srv.port}"])
        conn = CDConnection.from_parsed(parse_connection_file(raw))
        assert conn.want_encryption and len(conn.certificates) == 1
        report = await run_conformance(conn, tmp_path / "work", retry=FAST)
    assert report.ok, report.to_json()
    assert {c.status for c in report.checks} == {"pass"}, report.to_json()
