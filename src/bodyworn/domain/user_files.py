"""Files a user names on the command line or in an answers file, read with a bound.

A path given by a person may name anything: `/dev/zero` (endless), a FIFO (blocks
forever), a folder, or a 10 GB log. Such files are opened without blocking, must be
regular files, and are read only up to a limit the caller states.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class UserFileError(ValueError):
    """A named file that cannot be used; the message names the file and says why."""


def _size_words(limit: int) -> str:
    if limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MiB"
    if limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit} bytes"


def read_user_file(path: Path, *, limit: int, what: str = "file") -> bytes:
    """The bytes of regular file `path`, at most `limit` of them; raises UserFileError.

    `what` names the file in messages ("connection file", "answers file").
    """
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise UserFileError(f"cannot read the {what} {str(path)!r}: it does not exist") from None
    except IsADirectoryError:
        raise UserFileError(f"cannot read the {what} {str(path)!r}: it is a folder") from None
    except PermissionError:
        raise UserFileError(f"cannot read the {what} {str(path)!r}: permission denied"
                            ) from None
    except OSError as exc:
        raise UserFileError(f"cannot read the {what} {str(path)!r}: {exc.strerror}"
                            ) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise UserFileError(f"cannot read the {what} {str(path)!r}: it is a folder")
        if not stat.S_ISREG(info.st_mode):
            raise UserFileError(
                f"cannot read the {what} {str(path)!r}: it is not a regular file")
        if info.st_size > limit:
            raise UserFileError(
                f"the {what} {str(path)!r} is larger than {_size_words(limit)}")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    finally:
        os.close(fd)
    # A file that grew while it was read is refused like one that was too large.
    if len(data) > limit:
        raise UserFileError(f"the {what} {str(path)!r} is larger than {_size_words(limit)}")
    return data


def read_user_text(path: Path, *, limit: int, what: str = "file") -> str:
    """Like read_user_file, decoded as UTF-8 (a leading byte order mark is dropped)."""
    data = read_user_file(path, limit=limit, what=what)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserFileError(f"the {what} {str(path)!r} is not UTF-8 text") from None
