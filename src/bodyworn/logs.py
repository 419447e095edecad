"""Logging: structlog as JSON lines on stderr, so stdout stays for what a command prints;
a controller also keeps them in rotating files in its data directory (`log_to_file`).

Every line goes to stderr as it is written. Once `log_to_file` names a folder, the same
lines go to `controller.log` there too, which rotates at a size (`controller.log.1` is the
one before, and so on) so the folder never grows without bound; warnings and errors of
the libraries (uvicorn, …), which log through the standard library, go there as JSON lines
as well. The system report packs the files (controller/support/).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path

import structlog

LOG_DIR = "logs"
LOG_FILE = "controller.log"
_OURS = "bodyworn"


class _Lines:
    """Where each rendered line goes: whatever sys.stderr is at the moment of writing
    (tests swap it), and the rotating file once there is one."""

    def __init__(self) -> None:
        self.file: RotatingFileHandler | None = None
        self._lock = threading.Lock()

    def msg(self, message: str) -> None:
        with self._lock:
            sys.stderr.write(message + "\n")
            sys.stderr.flush()
        handler = self.file
        if handler is not None:
            # handle() applies no level: structlog already filtered by its own level.
            handler.handle(logging.makeLogRecord({"name": _OURS, "msg": message,
                                                  "levelno": logging.INFO}))

    debug = info = warning = warn = error = critical = exception = fatal = failure = log = msg


_LINES = _Lines()
_STDERR_MARK = "bodyworn_stderr"


class _Stderr:
    """Whatever sys.stderr is at the moment of writing (tests swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class _JsonRecord(logging.Formatter):
    """A standard library record as the same kind of JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        if record.name == _OURS:
            return record.getMessage()  # already a JSON line from structlog
        line = {"event": record.getMessage(), "level": record.levelname.lower(),
                "logger": record.name,
                "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat()}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)




def configure_logging(level: str = "info") -> None:
    """JSON log lines with a timestamp and level, to stderr, from `level` up."""
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=lambda *_args: _LINES,
        cache_logger_on_first_use=False,
    )


def log_to_file(folder: Path, max_bytes: int = 5 * 2**20, backups: int = 5) -> Path:
    """Also keep the log lines in `folder`/controller.log, rotating at `max_bytes` and
    keeping `backups` older files (the folder 0700, the files 0600); the file's path."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    path = folder / LOG_FILE
    if not path.exists():
        path.touch(mode=0o600)
    handler = RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups,
                                  encoding="utf-8")
    handler.setFormatter(_JsonRecord())
    handler.setLevel(logging.WARNING)
    old, _LINES.file = _LINES.file, handler
    root = logging.getLogger()
    if old is not None:
        root.removeHandler(old)
        old.close()
    # Warnings and errors of the libraries that log through the standard library reach the
    # root logger (server.py keeps uvicorn from giving its loggers handlers of their own):
    # to the file, and as JSON lines to stderr like ours.
    root.addHandler(handler)
    if not any(getattr(h, _STDERR_MARK, False) for h in root.handlers):
        stderr = logging.StreamHandler(_Stderr())
        stderr.setFormatter(_JsonRecord())
        stderr.setLevel(logging.WARNING)
        setattr(stderr, _STDERR_MARK, True)
        root.addHandler(stderr)
    return path


def stop_logging_to_file() -> None:
    """Close the log file (tests, and a process that moves its data directory)."""
    handler, _LINES.file = _LINES.file, None
    if handler is not None:
        logging.getLogger().removeHandler(handler)
        handler.close()


def log_files(folder: Path) -> list[Path]:
    """The log files in a folder, newest first (controller.log, .1, .2, …)."""
    found = [p for p in folder.glob(LOG_FILE + "*") if p.is_file()]

    def age(p: Path) -> int:
        suffix = p.name[len(LOG_FILE):].lstrip(".")
        return int(suffix) if suffix.isdigit() else 0

    return sorted(found, key=age)
