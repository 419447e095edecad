"""A data directory only its owner can use: checked and made so at every start.

Others must not be able to write the directory or any folder above it (they could swap
it, or plant a file the process then trusts), nor read what is in it (the database, keys,
tokens, evidence). So at each start the directory and each folder above it are checked,
and then every folder inside is set to 0700 and every file to 0600, whatever an older
version, a restore or a hand left behind.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

import structlog

from bodyworn.store.files import make_dirs_durable

log = structlog.get_logger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


class StartRefused(RuntimeError):
    """A server must not start as things are; the message says what to fix."""


class UnsafeDataDir(StartRefused):
    """The data directory, or a folder above it, can be changed by others."""


def _others_can_write(mode: int) -> bool:
    return bool(mode & (stat.S_IWGRP | stat.S_IWOTH))


def check_data_dir(data_dir: Path) -> Path:
    """The data directory's real path, refused when others can change it or a folder above.

    Refused: the directory itself writable by its group or others, or owned by someone
    else; a folder above it that this user owns and its group or others can write; any
    folder above it that everyone can write, unless its sticky bit keeps others from
    renaming what is not theirs (as /tmp does).
    """
    real = data_dir.resolve()
    uid = os.geteuid()
    info = real.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeDataDir(f"The data directory {real} is not a directory.")
    if info.st_uid != uid:
        raise UnsafeDataDir(
            f"The data directory {real} belongs to another user (uid {info.st_uid}); "
            f"run as its owner or chown it to uid {uid}.")
    if _others_can_write(info.st_mode):
        raise UnsafeDataDir(
            f"The data directory {real} is one others can write (mode "
            f"{stat.S_IMODE(info.st_mode):o}), so what is in it cannot be trusted. Check "
            f"its contents, then: chmod 700 {real}")
    for parent in real.parents:
        pinfo = parent.stat()
        sticky = bool(pinfo.st_mode & stat.S_ISVTX)
        if sticky:
            continue
        if (pinfo.st_uid == uid and _others_can_write(pinfo.st_mode)) or (
            pinfo.st_mode & stat.S_IWOTH
        ):
            raise UnsafeDataDir(
                f"{parent}, a folder above the data directory, is one others can write (mode "
                f"{stat.S_IMODE(pinfo.st_mode):o}): they could replace the data directory. "
                f"Fix it: chmod go-w {parent}")
    return real


def make_private(data_dir: Path) -> None:
    """Set every folder under `data_dir` (itself included) to 0700 and every file to 0600.

    Symbolic links are left alone (never followed); entries of another user cannot be
    changed and are logged.
    """
    uid = os.geteuid()

    def fix(path: str, want: int, info: os.stat_result) -> None:
        if stat.S_IMODE(info.st_mode) == want:
            return
        if info.st_uid != uid:
            log.warning("data directory entry of another user left as it is", path=path)
            return
        os.chmod(path, want, follow_symlinks=False)

    fix(str(data_dir), DIR_MODE, data_dir.lstat())
    for root, dirs, files in os.walk(data_dir):
        for name in dirs:
            path = os.path.join(root, name)
            info = os.lstat(path)
            if stat.S_ISDIR(info.st_mode):
                fix(path, DIR_MODE, info)
        for name in files:
            path = os.path.join(root, name)
            info = os.lstat(path)
            if stat.S_ISREG(info.st_mode):
                fix(path, FILE_MODE, info)


def secure_data_dir(data_dir: Path) -> Path:
    """Create the data directory (0700) if needed, refuse an unsafe one, make it private."""
    make_dirs_durable(data_dir, mode=DIR_MODE)
    real = check_data_dir(data_dir)
    make_private(real)
    return real


def create_private_file(path: Path) -> None:
    """Create an empty file readable by its owner only, unless it exists (SQLite then gives
    its journal files the same mode)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE))
