"""Log lines go to stderr and, for a controller, to rotating files in its data directory."""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from bodyworn.logs import configure_logging, log_files, log_to_file, stop_logging_to_file


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[Path]:
    configure_logging("info")
    folder = tmp_path / "data" / "logs"
    log_to_file(folder, max_bytes=64 * 1024, backups=2)
    try:
        yield folder
    finally:
        stop_logging_to_file()


def test_lines_go_to_stderr_and_the_file(logged: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    structlog.get_logger("t").info("camera.docked", camera="B8A44F000001")
    logging.getLogger("some.library").warning("a library's warning")
    logging.getLogger("some.library").info("a library's chatter")
    err = capsys.readouterr().err
    assert '"camera.docked"' in err and "a library's warning" in err
    lines = [json.loads(line) for line in (logged / "controller.log").read_text().splitlines()]
    assert lines[0]["event"] == "camera.docked" and lines[0]["camera"] == "B8A44F000001"
    assert lines[1] == {**lines[1], "event": "a library's warning", "level": "warning",
                        "logger": "some.library"}
    assert len(lines) == 2
    assert stat.S_IMODE(logged.stat().st_mode) == 0o700
    assert stat.S_IMODE((logged / "controller.log").stat().st_mode) == 0o600


def test_the_files_rotate_and_keep_a_bounded_number(logged: Path) -> None:
    log = structlog.get_logger("t")
    for i in range(3000):
        log.info("filler", i=i, pad="x" * 80)
    files = log_files(logged)
    assert [p.name for p in files] == ["controller.log", "controller.log.1", "controller.log.2"]
    assert all(p.stat().st_size <= 64 * 1024 + 200 for p in files)
    newest = json.loads(files[0].read_text().splitlines()[-1])
    assert newest["i"] == 2999
