"""Atomic file writes: whole or not at all, private by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from bodyworn.store import files


def test_write_replaces_whole_and_is_private(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "key.json"
    files.write_file_atomic(target, b"first")
    files.write_file_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["key.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "key.json"
    files.write_file_atomic(target, b"old")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", broken_replace)
    with pytest.raises(OSError):
        files.write_file_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["key.json"]  # no temporary left behind


def test_make_dirs_durable_makes_missing_parents(tmp_path: Path) -> None:
    # Without a base: from the nearest folder that exists; with one: only below it.
    files.make_dirs_durable(tmp_path / "a" / "b" / "c")
    assert (tmp_path / "a" / "b" / "c").is_dir()
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o700
    with pytest.raises(FileNotFoundError):
        files.make_dirs_durable(tmp_path / "x" / "y", tmp_path / "x")
