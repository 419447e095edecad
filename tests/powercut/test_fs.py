"""The power-cut file system keeps exactly what was made durable, through a real mount."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.powercut.mount import PowerCutMount, fsync_path, mounted


@pytest.fixture(scope="module")
def disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PowerCutMount]:
    """One mount for the module; each test works in its own durable folder."""
    with mounted(tmp_path_factory.mktemp("powercut")) as mount:
        yield mount


@pytest.fixture
def here(disk: PowerCutMount, request: pytest.FixtureRequest) -> Path:
    """A fresh folder on the mount, itself durable."""
    folder = disk.mnt / request.node.name.replace("[", "_").replace("]", "")
    folder.mkdir()
    fsync_path(disk.mnt)
    return folder


def _write(path: Path, data: bytes, *, sync: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def test_writes_reach_the_file_system_before_the_call_returns(disk: PowerCutMount,
                                                               here: Path) -> None:
    # No writeback cache in the kernel: a killed process leaves nothing unseen behind.
    with (here / "f").open("wb", buffering=0) as fh:
        fh.write(b"seen")
        assert (disk.tree / here.name / "f").read_bytes() == b"seen"


def test_a_new_file_needs_its_own_fsync_and_its_folders(disk: PowerCutMount,
                                                        here: Path) -> None:
    _write(here / "neither", b"a", sync=False)
    _write(here / "file-only", b"b", sync=True)
    fsync_path(here)
    _write(here / "synced-before-folder", b"c", sync=True)  # its name: after the fsync
    _write(here / "folder-only", b"", sync=False)
    os.truncate(here / "folder-only", 0)
    rel = here.name
    assert disk.durable_listdir(rel) == ["file-only", "neither"]
    assert disk.durable_read(f"{rel}/neither") == b""  # named, its bytes never synced
    disk.powercycle()
    assert sorted(p.name for p in here.iterdir()) == ["file-only", "neither"]
    assert (here / "file-only").read_bytes() == b"b"
    assert (here / "neither").read_bytes() == b""


def test_bytes_size_and_mode_go_back_to_the_last_fsync(disk: PowerCutMount,
                                                       here: Path) -> None:
    path = here / "f"
    _write(path, b"0123456789", sync=True)
    fsync_path(here)
    os.chmod(path, 0o600)
    fsync_path(path)
    with path.open("r+b") as fh:
        fh.write(b"XY")
        fh.seek(0, os.SEEK_END)
        fh.write(b"tail")
    os.truncate(path, 3)
    with path.open("ab") as fh:
        fh.write(b"more")
    os.chmod(path, 0o644)
    assert path.read_bytes() == b"XY2more"
    assert disk.durable_read(f"{here.name}/f") == b"0123456789"
    disk.powercycle()
    assert path.read_bytes() == b"0123456789"
    assert path.stat().st_mode & 0o777 == 0o600
    # fdatasync makes the bytes durable too, but not a new mode.
    with path.open("r+b") as fh:
        fh.write(b"ab")
        os.fchmod(fh.fileno(), 0o640)
        fh.flush()
        os.fdatasync(fh.fileno())
        fh.write(b"cd")
    disk.powercycle()
    assert path.read_bytes() == b"ab23456789"
    assert path.stat().st_mode & 0o777 == 0o600


def test_unlink_and_rename_come_back_until_the_folder_is_fsynced(disk: PowerCutMount,
                                                                 here: Path) -> None:
    for name in ("gone", "old", "target"):
        _write(here / name, name.encode(), sync=True)
    fsync_path(here)
    (here / "gone").unlink()
    os.replace(here / "old", here / "target")  # the target's bytes come back too
    _write(here / "tmp", b"new", sync=True)
    os.replace(here / "tmp", here / "old")
    assert sorted(p.name for p in here.iterdir()) == ["old", "target"]
    disk.powercycle()
    assert {p.name: p.read_bytes() for p in here.iterdir()} == {
        "gone": b"gone", "old": b"old", "target": b"target"}
    # The same changes with the folder fsynced: they stay.
    (here / "gone").unlink()
    os.replace(here / "old", here / "target")
    fsync_path(here)
    disk.powercycle()
    assert {p.name: p.read_bytes() for p in here.iterdir()} == {"target": b"old"}


def test_a_new_folder_needs_its_parent_fsynced(disk: PowerCutMount, here: Path) -> None:
    (here / "a").mkdir()
    (here / "a" / "b").mkdir()
    _write(here / "a" / "b" / "f", b"x", sync=True)
    fsync_path(here / "a" / "b")
    fsync_path(here / "a")  # b and f are durable inside a, but a is not inside here
    assert disk.durable_listdir(here.name) == []
    disk.powercycle()
    assert list(here.iterdir()) == []
    (here / "a").mkdir()
    _write(here / "a" / "f", b"x", sync=True)
    fsync_path(here / "a")
    fsync_path(here)
    (here / "a" / "f").unlink()
    os.rmdir(here / "a")  # removed, but not durably: comes back, with its file
    disk.powercycle()
    assert (here / "a" / "f").read_bytes() == b"x"


def test_the_cut_freezes_the_disk_and_kills_its_processes(disk: PowerCutMount,
                                                          here: Path) -> None:
    victim = subprocess.Popen(["sleep", "60"])
    try:
        disk.victims([victim.pid])
        disk.arm(3)
        _write(here / "one", b"1", sync=False)  # create, write
        with pytest.raises(OSError):
            _write(here / "two", b"2", sync=False)
        assert victim.wait(5) == -signal.SIGKILL
        assert disk.frozen()
        assert "create" in disk.status()["why"]
        with pytest.raises(OSError):
            (here / "one").read_bytes()
    finally:
        if victim.poll() is None:
            victim.kill()
        victim.wait()
    disk.victims([])
    disk.powercycle()
    assert not disk.frozen()
    assert list(here.iterdir()) == []


@pytest.mark.parametrize(("journal", "synchronous"), [("WAL", "FULL"), ("DELETE", "EXTRA")])
def test_sqlite_keeps_each_commit_when_set_to(disk: PowerCutMount, here: Path, journal: str,
                                             synchronous: str) -> None:
    # Its fsyncs of the database, the journal or WAL and their folder all pass through.
    db = _table(here / "db", synchronous, journal)
    db.execute("INSERT INTO t VALUES (1)")
    db.commit()
    db.execute("INSERT INTO t VALUES (2)")  # not committed: lost
    _cut_and_cycle(disk, db)
    assert _rows(here / "db") == [1]


@pytest.mark.parametrize(("journal", "synchronous"), [("WAL", "OFF"), ("DELETE", "FULL")])
def test_sqlite_loses_commits_when_set_to(disk: PowerCutMount, here: Path, journal: str,
                                          synchronous: str) -> None:
    # A missing fsync is seen. OFF never syncs; in DELETE mode FULL does not fsync the
    # folder after unlinking the journal (SQLite's documented reason for EXTRA), so the
    # journal comes back hot and rolls the commit back.
    db = _table(here / "db", synchronous, journal)
    db.execute("INSERT INTO t VALUES (1)")
    db.commit()
    _cut_and_cycle(disk, db)
    assert _rows(here / "db") == []


def _table(path: Path, synchronous: str, journal: str = "WAL") -> sqlite3.Connection:
    """A database whose table is durable; its rows then at `synchronous`."""
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA journal_mode={journal}")
    db.execute("PRAGMA synchronous=EXTRA")
    db.execute("CREATE TABLE t (x INTEGER)")
    db.commit()
    db.execute(f"PRAGMA synchronous={synchronous}")
    return db


def _cut_and_cycle(disk: PowerCutMount, db: sqlite3.Connection) -> None:
    """Cut the power under an open connection, then let go of it and power-cycle."""
    disk.cut()
    with contextlib.suppress(sqlite3.Error):
        db.close()
    disk.powercycle()


def _rows(path: Path) -> list[int]:
    deadline = time.monotonic() + 5
    while True:
        try:
            db = sqlite3.connect(path)
            try:
                return [r[0] for r in db.execute("SELECT x FROM t ORDER BY x")]
            finally:
                db.close()
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
