"""The spool: clips held by the controller between the camera and the content destination.

A clip is streamed into `<root>/<camera serial>/<clip name>.part`, hashed (sha256 and md5)
on the way in, fsynced, checked against the size and sha256 the camera announced, and only
then renamed to its final name (and the folder fsynced). A `.part` survives interruptions
so the next attempt asks the camera only for the bytes it lacks. Files leave the spool only
when `remove` is called.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")

# Given the number of bytes already held, yields the rest of the clip (from that offset).
Reader = Callable[[int], Iterable[bytes]]


class SpoolMismatch(ValueError):
    """What arrived is not the clip the camera announced (size or sha256); it was discarded."""


@dataclass(frozen=True)
class SpoolEntry:
    """A clip durably held in the spool."""

    path: Path
    size: int
    sha256: str
    md5: str


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_name(name: str) -> None:
    if not _SAFE.match(name) or name.endswith(".part"):
        raise ValueError(f"not a spool name: {name!r}")


def _hashes(path: Path, limit: int | None = None) -> tuple[hashlib._Hash, hashlib._Hash, int]:
    sha, md5, done = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    with open(path, "rb") as fh:
        while limit is None or done < limit:
            want = CHUNK if limit is None else min(CHUNK, limit - done)
            block = fh.read(want)
            if not block:
                break
            sha.update(block)
            md5.update(block)
            done += len(block)
    return sha, md5, done


class Spool:
    """Clips on disk under one root folder, one subfolder per camera."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, serial: str, name: str) -> Path:
        """Where a complete clip lives."""
        _check_name(serial)
        _check_name(name)
        return self.root / serial / name

    def part_path(self, serial: str, name: str) -> Path:
        """Where a clip being received lives until it is whole."""
        final = self.path(serial, name)
        return final.with_name(final.name + ".part")

    def held(self, serial: str, name: str) -> bool:
        """True when the complete clip is in the spool."""
        return self.path(serial, name).is_file()

    def part_size(self, serial: str, name: str) -> int:
        """Bytes of an interrupted transfer kept for resuming (0 when none)."""
        part = self.part_path(serial, name)
        return part.stat().st_size if part.exists() else 0

    def verify(self, serial: str, name: str, size: int, sha256: str) -> SpoolEntry | None:
        """The held clip when it is complete and equal to `size`/`sha256`, else None."""
        final = self.path(serial, name)
        if not final.is_file() or final.stat().st_size != size:
            return None
        sha, md5, _ = _hashes(final)
        if sha.hexdigest() != sha256:
            return None
        return SpoolEntry(final, size, sha256, md5.hexdigest())

    def ingest(self, serial: str, name: str, size: int, sha256: str, read: Reader) -> SpoolEntry:
        """Receive a clip whole (resuming a `.part`), check it, fsync and rename it in place."""
        held = self.verify(serial, name, size, sha256)
        if held is not None:
            return held
        final = self.path(serial, name)
        part = self.part_path(serial, name)
        final.parent.mkdir(parents=True, exist_ok=True)
        have = self.part_size(serial, name)
        if have > size:
            part.unlink()
            have = 0
        # The kept prefix is hashed again rather than trusted: it may predate a crash.
        sha, md5, _ = _hashes(part, have) if have else (
            hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0)
        with open(part, "r+b" if have else "wb") as fh:
            fh.seek(have)
            fh.truncate()
            try:
                if have < size:
                    for block in read(have):
                        fh.write(block)
                        sha.update(block)
                        md5.update(block)
            finally:
                # What did arrive is kept durably, so a resume never asks for it again.
                fh.flush()
                os.fsync(fh.fileno())
            got = fh.tell()
        if got != size or sha.hexdigest() != sha256:
            part.unlink(missing_ok=True)
            raise SpoolMismatch(
                f"{name}: got {got} bytes with sha256 {sha.hexdigest()[:12]}…, "
                f"expected {size} bytes with sha256 {sha256[:12]}…"
            )
        os.replace(part, final)
        _fsync_dir(final.parent)
        return SpoolEntry(final, size, sha256, md5.hexdigest())

    def remove(self, serial: str, name: str) -> None:
        """Remove a clip (and any partial copy) from the spool; done when already gone."""
        final = self.path(serial, name)
        final.unlink(missing_ok=True)
        self.part_path(serial, name).unlink(missing_ok=True)
        if final.parent.exists():
            _fsync_dir(final.parent)

    def names(self, serial: str) -> list[str]:
        """Complete clips held for one camera."""
        folder = self.root / serial
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir()
                      if p.is_file() and not p.name.endswith(".part"))
