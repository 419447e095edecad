"""The controller's files survive a power cut once they are said to be durable.

Run on the power-cut file system (tests/powercut): what was not fsynced, file bytes or
folder entries, is gone after `powercycle()`.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bodyworn.store import files
from bodyworn.store.db import make_engine, sqlite_url
from bodyworn.store.spool import Spool
from tests.powercut.mount import PowerCutMount, fsync_path, mounted

DATA = bytes(range(256)) * 1000
SHA = hashlib.sha256(DATA).hexdigest()
SERIAL, NAME = "B8A44F000001", "20260302T071432.000000Z_B8A44F000001-20260302T071502Z-0001.mkv"


@pytest.fixture(scope="module")
def disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PowerCutMount]:
    with mounted(tmp_path_factory.mktemp("powercut")) as mount:
        yield mount


@pytest.fixture
def data_dir(disk: PowerCutMount, request: pytest.FixtureRequest) -> Path:
    """A durable data directory of its own on the mount."""
    folder = disk.mnt / request.node.name
    folder.mkdir()
    fsync_path(disk.mnt)
    return folder


def test_an_ingested_clip_and_its_removal_survive_a_power_cut(
    disk: PowerCutMount, data_dir: Path,
) -> None:
    # The spool's and the camera's folders are new: their names must be made durable too.
    spool = Spool(data_dir / "spool")
    spool.ingest(SERIAL, NAME, len(DATA), SHA, lambda have: [DATA[have:]])
    disk.powercycle()
    spool = Spool(data_dir / "spool")
    assert spool.verify(SERIAL, NAME, len(DATA), SHA) is not None
    spool.remove(SERIAL, NAME)
    disk.powercycle()
    assert spool.names(SERIAL) == []


def test_a_spool_folder_made_by_a_process_that_died_is_made_durable(
    disk: PowerCutMount, data_dir: Path,
) -> None:
    # A killed process left the camera's folder there but not durable: a new one makes it so.
    (data_dir / "spool" / SERIAL).mkdir(parents=True)
    Spool(data_dir / "spool").ingest(SERIAL, NAME, len(DATA), SHA, lambda have: [DATA])
    disk.powercycle()
    assert Spool(data_dir / "spool").verify(SERIAL, NAME, len(DATA), SHA) is not None


def test_make_dirs_durable_and_write_file_atomic(disk: PowerCutMount, data_dir: Path) -> None:
    files.make_dirs_durable(data_dir / "a" / "b", data_dir)
    files.write_file_atomic(data_dir / "a" / "b" / "key", b"secret")
    files.write_file_atomic(data_dir / "a" / "b" / "key", b"second")
    disk.powercycle()
    assert (data_dir / "a" / "b" / "key").read_bytes() == b"second"
    assert [p.name for p in (data_dir / "a" / "b").iterdir()] == ["key"]


@pytest.mark.parametrize("journal", ["WAL", "DELETE"])
def test_a_committed_transaction_survives_a_power_cut(disk: PowerCutMount, data_dir: Path,
                                                      journal: str) -> None:
    # synchronous=EXTRA: each commit is durable, in WAL mode (NORMAL would lose it) and in
    # the rollback-journal mode SQLite falls back to without a WAL (FULL would lose it).
    engine = make_engine(sqlite_url(data_dir))
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"PRAGMA journal_mode={journal}")
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            conn.commit()
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            conn.commit()
            disk.cut()
    finally:
        with contextlib.suppress(Exception):
            engine.dispose()
    disk.powercycle()
    engine = make_engine(sqlite_url(data_dir))
    try:
        with engine.connect() as conn:
            assert list(conn.execute(text("SELECT x FROM t"))) == [(1,)]
    finally:
        engine.dispose()


def test_the_data_dir_and_the_dock_port_token_survive_a_power_cut(disk: PowerCutMount) -> None:
    from bodyworn.controller.docks.service import TOKEN_FILE, _token_cache, ensure_token
    from bodyworn.store.db import ensure_data_dir

    data_dir = disk.mnt / "fresh" / "controller"  # neither folder exists yet
    ensure_data_dir(data_dir)
    token = ensure_token(data_dir)
    disk.powercycle()
    _token_cache.clear()
    assert (data_dir / TOKEN_FILE).read_text().strip() == token
    assert ensure_token(data_dir) == token
    # A token file left empty (a crash of an older version) is replaced, not trusted.
    (data_dir / TOKEN_FILE).write_text("")
    _token_cache.clear()
    assert ensure_token(data_dir) not in ("", token)
