"""A copy of the database alone reveals no private key and no CD key: they are sealed with
the secrets key kept outside it, on every write path, and older databases are sealed by
their migration."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import text

from bodyworn.controller.app import build_context
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.destinations import service as destinations
from bodyworn.controller.identity.service import signing_identity
from bodyworn.controller.settings import ControllerSettings
from bodyworn.controller.setup.service import Identity
from bodyworn.docklink.signing import sign_with_pem
from bodyworn.store.db import alembic_config, make_engine
from bodyworn.store.secrets import SecretsUnavailable
from tests.controller.conftest import PASSPHRASE, login, set_up
from tests.domain.connection_factory import connection_file_bytes
from tests.store.backends import BACKENDS, backend_settings

BLOB_KEY = "cd-key-4b1d8e0f9a7c"


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ControllerSettings]:
    with backend_settings(request.param, tmp_path / "data") as chosen:
        yield chosen


def _key_body(pem: bytes) -> bytes:
    """The base64 body of a PEM key, and the raw key bytes it encodes."""
    return b"".join(pem.splitlines()[1:-1])


def _database_bytes(ctx: ControllerContext) -> bytes:
    """Everything the database keeps: SQLite's files, or a dump of the two tables."""
    if ctx.engine.dialect.name == "sqlite":
        data = ctx.settings.data_dir
        return b"".join(p.read_bytes() for p in data.glob("bodyworn.db*"))
    with ctx.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM system_identity")).all()
        rows += conn.execute(text("SELECT * FROM content_destination")).all()
    return repr(rows).encode() + b"".join(bytes(v) for r in rows for v in r
                                          if isinstance(v, bytes | memoryview))


def _assert_nothing_in_clear(ctx: ControllerContext, identity: Identity) -> None:
    found = _database_bytes(ctx)
    body = _key_body(identity.private_key_pem)
    raw = base64.b64decode(body)[-32:]  # the Ed25519 seed at the end of the PKCS8
    assert body not in found and raw not in found
    assert BLOB_KEY.encode() not in found


def test_setup_seals_the_private_key_and_the_cd_key(ctx: ControllerContext,
                                                    client: TestClient) -> None:
    identity = set_up(ctx, connection_file=connection_file_bytes(BlobAPIKey=BLOB_KEY))
    with ctx.factory() as session:
        assert signing_identity(session).private_key_pem == identity.private_key_pem
        assert destinations.current_file(session).raw == connection_file_bytes(
            BlobAPIKey=BLOB_KEY).decode().encode()
    # The restore key download opens it too.
    csrf = login(client)
    r = client.post("/api/v1/system/restore-key", headers={"X-CSRF-Token": csrf},
                    json={"passphrase": PASSPHRASE})
    assert r.status_code == 200, r.text
    _assert_nothing_in_clear(ctx, identity)


def test_a_replaced_connection_file_is_sealed(ctx: ControllerContext) -> None:
    identity = set_up(ctx)
    with ctx.factory() as session, session.begin():
        destinations.replace(session, ctx.clock, connection_file_bytes(BlobAPIKey=BLOB_KEY),
                             actor="root", source="t")
    with ctx.factory() as session:
        assert destinations.current_file(session).blob_api_key == BLOB_KEY
    _assert_nothing_in_clear(ctx, identity)


def test_a_database_without_its_key_does_not_start(ctx: ControllerContext) -> None:
    set_up(ctx)
    ctx.engine.dispose()
    settings = ctx.settings
    key = settings.secrets_key_path
    # Another key: refused, and the key file is left as it is.
    saved = key.read_bytes()
    key.write_bytes(b"\x00" * 32)
    with pytest.raises(SecretsUnavailable, match="not the one the secrets were sealed with"):
        build_context(settings)
    # No key at all: refused, and no new key is left behind to be mistaken for the lost one.
    key.unlink()
    with pytest.raises(SecretsUnavailable, match="Put the original key file back"):
        build_context(settings)
    assert not key.exists()
    key.write_bytes(saved)
    build_context(settings).engine.dispose()


def test_the_key_may_live_outside_the_data_directory(tmp_path: Path) -> None:
    elsewhere = tmp_path / "credentials"
    elsewhere.mkdir(mode=0o700)
    settings = ControllerSettings(data_dir=tmp_path / "data",
                                  secrets_key_file=elsewhere / "bodyworn.key")
    ctx = build_context(settings)
    try:
        set_up(ctx)
        assert (elsewhere / "bodyworn.key").exists()
        assert not (tmp_path / "data" / "secrets.key").exists()
        # A copy of the whole data directory does not start without the key.
        shutil.copytree(tmp_path / "data", tmp_path / "copy")
    finally:
        ctx.engine.dispose()
    if settings.database_url is None:
        with pytest.raises(SecretsUnavailable):
            build_context(ControllerSettings(data_dir=tmp_path / "copy"))


def test_the_migration_seals_what_an_older_version_kept_in_clear(
    settings: ControllerSettings, tmp_path: Path,
) -> None:
    # An older controller: set up at the revision before sealing.
    settings.data_dir.mkdir(mode=0o700, parents=True)
    engine = make_engine(settings.db_url)
    cfg = alembic_config(settings.db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0006g_folded_names")
    identity = Identity.generate()
    raw = connection_file_bytes(BlobAPIKey=BLOB_KEY).decode()
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO system_identity (id, system_id, private_key_pem, public_key_pem, "
            "passphrase_hash, created_at) VALUES (1, :sid, :pk, :pub, 'x', :at)"),
            {"sid": identity.system_id, "pk": identity.private_key_pem,
             "pub": identity.public_key_pem, "at": "2026-11-27 08:00:00.000000"})
        conn.execute(text(
            "INSERT INTO content_destination (id, raw_json, site_name, application_name, "
            "full_store_and_read, want_encryption, updated_at) VALUES "
            "(1, :raw, 'Test site', 'app', false, false, :at)"),
            {"raw": raw, "at": "2026-11-27 08:00:00.000000"})
    engine.dispose()
    ctx = build_context(settings)
    try:
        with ctx.factory() as session:
            assert signing_identity(session).private_key_pem == identity.private_key_pem
            assert destinations.current_file(session).blob_api_key == BLOB_KEY
            # What it signs still verifies with the public key cameras hold.
            sign_with_pem(signing_identity(session).private_key_pem, b"m")
        _assert_nothing_in_clear(ctx, identity)
    finally:
        ctx.engine.dispose()
