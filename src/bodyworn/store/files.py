"""Files written whole or not at all, and folders whose entries are made durable."""

from __future__ import annotations

import os
from pathlib import Path


def write_file_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a file whole or not at all: a temporary file, fsync, rename, fsync the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    # The rename is durable only once the directory entry is on disk.
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make a folder's entries durable (after a rename or a new file in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs_durable(path: Path, base: Path | None = None, mode: int = 0o700) -> None:
    """Create `path` and its missing parents below `base`, each name durable in its parent.

    A new folder's name is on disk only once its parent is fsynced: without that, a power
    cut takes the folder away with every file in it, however well those were fsynced.
    Each parent below `base` is fsynced whether the folder was made now or not, since a
    folder made by a process that died before its fsync is there but would not survive a
    power cut. Without `base`: from the nearest folder that exists (at least the parent).
    """
    if base is None:
        base = path.parent
        while not base.exists() and base != base.parent:
            base = base.parent
    levels = []
    node = path
    while node != base and node != node.parent:
        levels.append(node)
        node = node.parent
    for level in reversed(levels):
        level.mkdir(mode=mode, exist_ok=True)
        fsync_dir(level.parent)
