"""Files people name are read with a bound, and only when they are regular files."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from bodyworn.domain.user_files import UserFileError, read_user_file, read_user_text


def test_a_regular_file_within_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert read_user_file(path, limit=100) == b"x" * 100


def test_a_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 1025)
    with pytest.raises(UserFileError, match="larger than 1 KiB"):
        read_user_file(path, limit=1024, what="answers file")


def test_endless_devices_are_refused_without_reading() -> None:
    with pytest.raises(UserFileError, match="not a regular file"):
        read_user_file(Path("/dev/zero"), limit=1024)
    with pytest.raises(UserFileError, match="not a regular file"):
        read_user_file(Path("/dev/urandom"), limit=1024)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []
    worker = threading.Thread(target=lambda: _capture(outcome, fifo), daemon=True)
    worker.start()
    worker.join(5)
    assert not worker.is_alive(), "opening a FIFO blocked"
    assert isinstance(outcome[0], UserFileError) and "not a regular file" in str(outcome[0])


def _capture(outcome: list[BaseException], path: Path) -> None:
    try:
        read_user_file(path, limit=10)
    except BaseException as exc:  # handed to the test thread
        outcome.append(exc)


@pytest.mark.parametrize("name", ["missing", "folder"])
def test_missing_files_and_folders_say_so(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name == "folder":
        path.mkdir()
    with pytest.raises(UserFileError, match="cannot read the connection file"):
        read_user_file(path, limit=10, what="connection file")


def test_text_drops_a_byte_order_mark_and_refuses_other_encodings(tmp_path: Path) -> None:
    path = tmp_path / "t"
    path.write_bytes(b"\xef\xbb\xbfhello")
    assert read_user_text(path, limit=100) == "hello"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(UserFileError, match="not UTF-8"):
        read_user_text(path, limit=100)


def test_a_symlink_to_a_regular_file_is_followed(tmp_path: Path) -> None:
    (tmp_path / "real").write_bytes(b"ok")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert read_user_file(tmp_path / "link", limit=10) == b"ok"
