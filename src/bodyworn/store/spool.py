"""The spool: clips held by the controller between the camera and the content destination.

A clip is streamed into `<root>/<camera serial>/<clip name>.part`, hashed on the way in,
checked against the size and sha256 the camera announced, and only then renamed to its
final name, the file and the folder fsynced before the call returns. A `.part` survives
interruptions (fsynced as it is) so the next attempt asks the camera only for the bytes it
lacks. Files leave the spool only when `remove` is called.

The md5 the content destination checks uploads against is the camera's when its manifest
gives one (the CD verifies it against the bytes it receives; the controller's own check is
the sha256); otherwise the spool computes it too. Receiving and hashing overlap: the bytes
are spliced from the socket into the file in the kernel (or read into a few reusable
buffers and written), and one thread per hash digests them behind the writer (hashlib
releases the GIL on large buffers).
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from bodyworn.store.files import fsync_dir, make_dirs_durable
from bodyworn.store.private import FILE_MODE

CHUNK = 1 << 20
# Receive buffers of the pipelined path: big enough that per-block overhead vanishes,
# few enough that memory stays flat (BUFFERS × BLOCK per ingest in flight).
BLOCK = 1 << 20
BUFFERS = 4
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


@runtime_checkable
class RawStream(Protocol):
    """The rest of a clip as a stream that reads into caller-owned buffers."""

    def readinto(self, buffer: memoryview) -> int:
        """Fill `buffer` as far as the stream allows; 0 at its end."""
        ...

    def close(self) -> None:
        """Release the connection (also when not read to the end)."""
        ...


@runtime_checkable
class SpliceStream(RawStream, Protocol):
    """A RawStream that can also move its bytes into a file inside the kernel."""

    def can_splice(self) -> bool:
        """True when `splice_into` may be used (else read with `readinto`)."""
        ...

    def splice_into(self, fd: int, offset: int, count: int) -> int:
        """Move up to `count` bytes into file `fd` at `offset`; how many (0 at the end)."""
        ...


# Given the number of bytes already held, gives the rest of the clip (from that offset):
# as blocks of bytes, or as a RawStream (the fast path).
Reader = Callable[[int], Iterable[bytes] | RawStream]


class SpoolMismatch(ValueError):
    """What arrived is not the clip the camera announced (size or sha256); it was discarded."""


@dataclass(frozen=True)
class SpoolEntry:
    """A clip durably held in the spool."""

    path: Path
    size: int
    sha256: str
    md5: str


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


def _write_all(fh: object, view: memoryview) -> None:
    write = fh.write  # type: ignore[attr-defined]
    while view:
        view = view[write(view):]


def _read_full(source: RawStream, view: memoryview) -> tuple[int, Exception | None]:
    """Fill `view` from `source` (short only at the stream's end or on an error).

    An error is returned with the count read before it, so those bytes are still kept.
    """
    got = 0
    while got < len(view):
        try:
            n = source.readinto(view[got:])
        except Exception as exc:
            return got, exc
        if not n:
            break
        got += n
    return got, None


def _pump(source: RawStream, fh: object, hashers: list[hashlib._Hash], left: int) -> None:
    """Copy up to `left` bytes from `source` to `fh` while other threads hash them.

    This thread receives into a free buffer and writes it; each hasher has a thread that
    digests the buffers in order; a buffer is reused once every hasher is done with it.
    An error on either side stops both and is raised here.
    """
    free: queue.Queue[bytearray] = queue.Queue()
    for _ in range(BUFFERS):
        free.put(bytearray(min(BLOCK, max(left, 1))))
    lanes: list[queue.Queue[tuple[bytearray, int] | None]] = [queue.Queue() for _ in hashers]
    pending: dict[int, int] = {}
    lock = threading.Lock()
    failed: list[BaseException] = []

    def done_with(buf: bytearray) -> None:
        with lock:
            pending[id(buf)] -= 1
            last = pending[id(buf)] == 0
        if last:
            free.put(buf)

    def digest(h: hashlib._Hash, lane: queue.Queue[tuple[bytearray, int] | None]) -> None:
        while (item := lane.get()) is not None:
            buf, n = item
            try:
                if not failed:
                    with memoryview(buf) as view:
                        h.update(view[:n])
            except BaseException as exc:  # pragma: no cover - hashing cannot fail
                failed.append(exc)
            finally:
                done_with(buf)

    workers = [threading.Thread(target=digest, args=(h, lane), daemon=True,
                                name="spool-hash") for h, lane in zip(hashers, lanes,
                                                                      strict=True)]
    for w in workers:
        w.start()
    try:
        while left > 0 and not failed:
            buf = free.get()
            with memoryview(buf) as whole:
                view = whole[: min(len(buf), left)]
                n, error = _read_full(source, view)
                if n:
                    _write_all(fh, view[:n])
            if not n:
                free.put(buf)
                if error is not None:
                    raise error
                break
            left -= n
            with lock:
                pending[id(buf)] = len(lanes)
            for lane in lanes:
                lane.put((buf, n))
            if error is not None:
                raise error
    finally:
        for lane in lanes:
            lane.put(None)
        for w in workers:
            w.join()
    if failed:  # pragma: no cover - see above
        raise failed[0]


def _pump_splice(source: SpliceStream, fd: int, hashers: list[hashlib._Hash], start: int,
                 left: int) -> None:
    """Move up to `left` bytes from `source` into `fd` from `start` in the kernel, while
    one thread per hash reads them back from the page cache behind it.

    What was written before an error stays written (and hashed) before it is raised.
    """
    cond = threading.Condition()
    state = {"written": start, "done": False}
    failed: list[BaseException] = []

    def digest(h: hashlib._Hash) -> None:
        pos, buf = start, bytearray(BLOCK)
        try:
            with memoryview(buf) as view:
                while True:
                    with cond:
                        while state["written"] == pos and not state["done"]:
                            cond.wait()
                        high = state["written"]
                    if pos >= high:
                        return
                    while pos < high:
                        n = os.preadv(fd, [view[: min(len(buf), high - pos)]], pos)
                        if n <= 0:  # pragma: no cover - the file is ours alone
                            raise OSError(f"short read of the spool at {pos}")
                        h.update(view[:n])
                        pos += n
        except BaseException as exc:  # pragma: no cover - reading back our own file
            failed.append(exc)

    workers = [threading.Thread(target=digest, args=(h,), daemon=True, name="spool-hash")
               for h in hashers]
    for w in workers:
        w.start()
    offset, since = start, 0
    try:
        while left > 0:
            n = source.splice_into(fd, offset, min(left, BLOCK))
            if not n:
                break
            offset, left, since = offset + n, left - n, since + n
            if since >= BLOCK:
                since = 0
                with cond:
                    state["written"] = offset
                    cond.notify_all()
    finally:
        with cond:
            state["written"], state["done"] = offset, True
            cond.notify_all()
        for w in workers:
            w.join()
    if failed:  # pragma: no cover - see above
        raise failed[0]


class Spool:
    """Clips on disk under one root folder, one subfolder per camera."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # Camera folders whose names this process made durable (see `_folder`).
        self._durable: set[Path] = set()
        self._durable_lock = threading.Lock()

    def _folder(self, folder: Path) -> None:
        """Make a camera's folder (and the spool's) exist durably, once per process."""
        with self._durable_lock:
            if folder not in self._durable or not folder.is_dir():
                make_dirs_durable(self.root)
                make_dirs_durable(folder, self.root)
                self._durable.add(folder)

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

    def verify(self, serial: str, name: str, size: int, sha256: str,
               *, md5: str | None = None) -> SpoolEntry | None:
        """The held clip when it is complete and equal to `size`/`sha256`, else None."""
        final = self.path(serial, name)
        if not final.is_file() or final.stat().st_size != size:
            return None
        sha, digest, _ = _hashes(final)
        if sha.hexdigest() != sha256:
            return None
        return SpoolEntry(final, size, sha256, md5 or digest.hexdigest())

    def ingest(self, serial: str, name: str, size: int, sha256: str, read: Reader,
               *, md5: str | None = None) -> SpoolEntry:
        """Receive a clip whole (resuming a `.part`), check it, fsync and rename it in place.

        `md5` is the camera's (see the module's note); without it the spool computes one.
        """
        held = self.verify(serial, name, size, sha256, md5=md5)
        if held is not None:
            return held
        final = self.path(serial, name)
        part = self.part_path(serial, name)
        self._folder(final.parent)
        have = self.part_size(serial, name)
        if have > size:
            part.unlink()
            have = 0
        # The kept prefix is hashed again rather than trusted: it may predate a crash.
        sha, digest, _ = _hashes(part, have) if have else (
            hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0)
        hashers = [sha] if md5 else [sha, digest]
        # Evidence: readable by the controller's user only, whatever the umask.
        fd = os.open(part, os.O_RDWR | os.O_CREAT | (0 if have else os.O_TRUNC), FILE_MODE)
        with open(fd, "r+b", buffering=0) as fh:
            fh.seek(have)
            fh.truncate()
            try:
                if have < size:
                    source = read(have)
                    if isinstance(source, SpliceStream) and source.can_splice():
                        try:
                            _pump_splice(source, fh.fileno(), hashers, have, size - have)
                        finally:
                            fh.seek(0, os.SEEK_END)
                            source.close()
                    elif isinstance(source, RawStream):
                        try:
                            _pump(source, fh, hashers, size - have)
                        finally:
                            source.close()
                    else:
                        for block in source:
                            _write_all(fh, memoryview(block))
                            for h in hashers:
                                h.update(block)
            except BaseException:
                # What did arrive is kept durably, so a resume never asks for it again.
                os.fsync(fh.fileno())
                raise
            got = fh.tell()
            if got != size or sha.hexdigest() != sha256:
                part.unlink(missing_ok=True)
                raise SpoolMismatch(
                    f"{name}: got {got} bytes with sha256 {sha.hexdigest()[:12]}…, "
                    f"expected {size} bytes with sha256 {sha256[:12]}…"
                )
            # Checked, so it may take its name now; then the bytes and the name are made
            # durable together (one journal commit where the file system allows) before
            # anyone is told. Should power fail in between, `verify` finds the final file
            # wrong and the clip, still unconfirmed on the camera, comes again.
            os.replace(part, final)
            os.fsync(fh.fileno())
        fsync_dir(final.parent)
        return SpoolEntry(final, size, sha256, md5 or digest.hexdigest())

    def remove(self, serial: str, name: str) -> None:
        """Remove a clip (and any partial copy) from the spool; done when already gone."""
        final = self.path(serial, name)
        final.unlink(missing_ok=True)
        self.part_path(serial, name).unlink(missing_ok=True)
        if final.parent.exists():
            fsync_dir(final.parent)

    def names(self, serial: str) -> list[str]:
        """Complete clips held for one camera."""
        folder = self.root / serial
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir()
                      if p.is_file() and not p.name.endswith(".part"))
