"""A controller makes its data directory private at every start, and refuses one others can
write; what it writes there later is private too."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bodyworn.cli import app
from bodyworn.controller.app import build_context
from bodyworn.controller.settings import ControllerSettings
from bodyworn.store.private import UnsafeDataDir
from bodyworn.store.spool import Spool
from tests.controller.conftest import set_up


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """Files are made with the umask most shells have (022): only explicit modes help."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_an_existing_open_data_dir_is_made_private(tmp_path: Path, loose_umask: None) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)  # `mkdir -m 755 D`
    ctx = build_context(ControllerSettings(data_dir=data))
    try:
        set_up(ctx)  # writes the identity key, through the WAL
        # Left open by an older version or by hand: all of it is made private again.
        (data / "spool" / "B8A44F000001").mkdir(parents=True, mode=0o755)
        (data / "spool" / "B8A44F000001" / "clip.mkv").write_bytes(b"x")
        os.chmod(data / "bodyworn.db", 0o644)
        os.chmod(data / "dock_port_token", 0o644)
    finally:
        ctx.engine.dispose()
    ctx = build_context(ControllerSettings(data_dir=data))
    try:
        with ctx.factory() as session:
            session.connection()  # the WAL and SHM files exist while a connection is open
            assert (data / "bodyworn.db-wal").exists() and (data / "bodyworn.db-shm").exists()
            assert mode(data) == 0o700
            for path in data.rglob("*"):
                assert mode(path) == (0o700 if path.is_dir() else 0o600), path
    finally:
        ctx.engine.dispose()


def test_files_written_later_are_private(tmp_path: Path, loose_umask: None) -> None:
    spool = Spool(tmp_path / "spool")
    spool.ingest("B8A44F000001", "a.mkv", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9c"
                 "b410ff61f20015ad", lambda have: iter([b"abc"[have:]]))
    assert mode(tmp_path / "spool") == mode(tmp_path / "spool" / "B8A44F000001") == 0o700
    assert mode(spool.path("B8A44F000001", "a.mkv")) == 0o600


@pytest.mark.parametrize("loose", [0o777, 0o775, 0o757])
def test_a_data_dir_others_can_write_is_refused(tmp_path: Path, loose: int) -> None:
    data = tmp_path / "data"
    data.mkdir()
    os.chmod(data, loose)
    with pytest.raises(UnsafeDataDir, match="others can write") as refused:
        build_context(ControllerSettings(data_dir=data))
    assert str(data) in str(refused.value)
    assert not (data / "bodyworn.db").exists()


def test_a_parent_others_can_write_is_refused_unless_sticky(tmp_path: Path) -> None:
    parent = tmp_path / "shared"
    parent.mkdir()
    os.chmod(parent, 0o777)
    with pytest.raises(UnsafeDataDir, match="others can write") as refused:
        build_context(ControllerSettings(data_dir=parent / "data"))
    assert str(parent) in str(refused.value)
    # Like /tmp: others may add entries but not rename or remove ours.
    os.chmod(parent, 0o1777)
    build_context(ControllerSettings(data_dir=parent / "data")).engine.dispose()
    assert mode(parent / "data") == 0o700


def test_the_command_says_why_it_will_not_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    os.chmod(data, 0o777)
    result = CliRunner().invoke(app, ["controller", "--data-dir", str(data), "--insecure-http"])
    assert result.exit_code == 2
    assert "others can write" in result.output and "chmod" in result.output
