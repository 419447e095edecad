"""A FUSE file system that loses, at a "power cut", every change not yet made durable.

It passes every operation through to a backing folder (the live state, what running
processes see) and keeps, beside it, what a power cut would leave (the durable state). The
model is the one POSIX promises and ext4 keeps at most, never more:

- A file's bytes, size and mode become durable when that file is fsynced (fdatasync:
  its bytes and size, not its mode). Until then a power cut takes them back to what the
  last fsync left; a file never fsynced comes back empty, with the mode it was created
  with.
- A directory's entries (create, mkdir, rename in or out, unlink, rmdir) become durable
  when that directory is fsynced. Until then a power cut takes the names back to what the
  last fsync of the directory left: a file created and fsynced but whose folder was not is
  gone; a file unlinked or renamed away comes back under its old name, with its durable
  bytes. A rename between two folders is two changes, one per folder (ext4 happens to
  commit both at once; POSIX does not say so, and nothing here relies on it).
- Times, owners and extended attributes are passed through and not modelled; hard links,
  symlinks and device nodes are refused (nothing on the mount uses them).

Both states are kept lazily. A file changed since its last fsync has an undo log: the
bytes each write or truncate overwrote below the durable size, saved once per range, and
the durable size and mode. A folder changed since its last fsync has a snapshot of its
entries (name → inode) as they were then. A file or folder that leaves its last live name
while some snapshot still names it moves to a graveyard beside the tree, so a power cut can
bring it back. A power cut freezes the file system (every later operation fails with EIO),
SIGKILLs the processes it was told about, and on `powercycle` rebuilds the tree from the
durable state: the folders' durable entries from the root down, each file hard-linked from
where it lives and its undo log applied. Then the mount is taken down; the next one starts
on the rebuilt tree with everything durable, as after a reboot.

The kernel does not cache writes here (no writeback cache: every write reaches this
process before the write call returns), so the processes killed at the cut hold nothing
the file system did not see. Reads may be cached; the tree is rebuilt only while the mount
is frozen, and then mounted afresh.

Why FUSE rather than LD_PRELOAD interposition: the kernel hands this process every file
operation of every process on the mount, SQLite's C calls, splice() into the spool and
the writeback of mmap'd pages included, with nothing to reimplement per libc entry point.

Run as a process: `python fs.py --tree T --grave G --mount M --control SOCKET`. The
control socket takes one JSON object per line and answers one per line (see `Control`).
"""

from __future__ import annotations

import argparse
import base64
import collections
import contextlib
import errno
import hashlib
import json
import logging
import os
import shutil
import signal
import socketserver
import stat
import sys
import threading
from pathlib import Path
from typing import Any

import mfusepy as fuse

log = logging.getLogger("powercut")

# What SQLite rebuilds by itself when the first connection opens a database: written to
# through mmap (so at times the kernel chooses), it does not count as a cut point.
NOT_COUNTED_SUFFIXES = ("-shm",)


class FileUndo:
    """What a power cut restores of one file changed since its last fsync."""

    __slots__ = ("covered", "mode", "saved", "size")

    def __init__(self, size: int, mode: int) -> None:
        self.size = size  # durable size
        self.mode = mode  # durable permission bits
        self.saved: list[tuple[int, bytes]] = []  # (offset, durable bytes), in order
        self.covered: list[tuple[int, int]] = []  # sorted disjoint [start, end) saved

    def missing(self, start: int, end: int) -> list[tuple[int, int]]:
        """Parts of [start, end) below the durable size not saved yet."""
        end = min(end, self.size)
        gaps: list[tuple[int, int]] = []
        pos = start
        for s, e in self.covered:
            if pos >= end:
                break
            if e <= pos:
                continue
            if s > pos:
                gaps.append((pos, min(s, end)))
            pos = max(pos, e)
        if pos < end:
            gaps.append((pos, end))
        return gaps

    def cover(self, start: int, end: int) -> None:
        """Mark [start, end) saved."""
        merged: list[tuple[int, int]] = []
        for s, e in self.covered:
            if e < start or s > end:
                merged.append((s, e))
            else:
                start, end = min(s, start), max(e, end)
        merged.append((start, end))
        merged.sort()
        self.covered = merged

    def apply(self, fd: int) -> None:
        """Put the durable bytes, size and mode back into `fd`."""
        for offset, data in reversed(self.saved):
            os.pwrite(fd, data, offset)
        os.ftruncate(fd, self.size)
        os.fchmod(fd, self.mode)

    def durable(self, live: bytes) -> bytes:
        """The durable bytes, given the live ones."""
        buf = bytearray(live)
        for offset, data in reversed(self.saved):
            if len(buf) < offset + len(data):
                buf.extend(b"\0" * (offset + len(data) - len(buf)))
            buf[offset:offset + len(data)] = data
        del buf[self.size:]
        if len(buf) < self.size:
            buf.extend(b"\0" * (self.size - len(buf)))
        return bytes(buf)


def _readable(flags: int) -> int:
    """Open flags with write-only made read-write: the undo log reads what a write replaces."""
    if flags & os.O_ACCMODE == os.O_WRONLY:
        return (flags & ~os.O_ACCMODE) | os.O_RDWR
    return flags


class PowerCutFS(fuse.Operations):
    """The pass-through operations and the durable model (see the module's note)."""

    use_ns = True

    def __init__(self, tree: Path, grave: Path) -> None:
        self.tree = str(tree)
        self.grave = str(grave)
        self.mutex = threading.RLock()
        self.files: dict[int, FileUndo] = {}  # inode → undo log (changed since fsync)
        self.dirs: dict[int, dict[str, int]] = {}  # inode → entries at its last fsync
        self.refs: collections.Counter[int] = collections.Counter()  # names in snapshots
        self.buried: set[int] = set()  # inodes in the graveyard
        self.fd_ino: dict[int, int] = {}
        self.frozen = False
        self.ops = 0  # mutating operations counted so far
        self.cut_at: int | None = None
        self.cut_why = ""
        self.victims: set[int] = set()
        self.recent: collections.deque[str] = collections.deque(maxlen=12)
        self.counts: collections.Counter[str] = collections.Counter()

    # ---- helpers --------------------------------------------------------------------

    def _full(self, path: str) -> str:
        return self.tree + path

    def _alive(self) -> None:
        if self.frozen:
            raise fuse.FuseOSError(errno.EIO)

    def _step(self, what: str, path: str | None) -> None:
        """Count one mutating operation (lock held); cut the power when it is due."""
        self._alive()
        if path is not None and path.endswith(NOT_COUNTED_SUFFIXES):
            return
        self.ops += 1
        self.counts[what] += 1
        self.recent.append(f"{self.ops} {what} {path}")
        if self.cut_at is not None and self.ops >= self.cut_at:
            self.cut(f"before operation {self.ops}: {what} {path}")
            raise fuse.FuseOSError(errno.EIO)

    def cut(self, why: str) -> None:
        """Power off: freeze, and SIGKILL the processes that run on this mount."""
        with self.mutex:
            if self.frozen:
                return
            self.frozen = True
            self.cut_why = why
            for pid in self.victims:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            log.info("power cut %s", why)

    def _touch(self, dir_full: str) -> None:
        """Snapshot a folder's entries before its first change since its last fsync."""
        ino = os.stat(dir_full).st_ino
        if ino in self.dirs:
            return
        with os.scandir(dir_full) as it:
            snap = {e.name: e.inode() for e in it}
        self.dirs[ino] = snap
        self.refs.update(snap.values())

    def _drop_snapshot(self, ino: int) -> None:
        snap = self.dirs.pop(ino, None)
        for child in (snap or {}).values():
            self.refs[child] -= 1
            if self.refs[child] <= 0:
                del self.refs[child]
                if child in self.buried:
                    self._destroy(child)

    def _destroy(self, ino: int) -> None:
        """A buried inode no snapshot names any more: gone for good."""
        self.buried.discard(ino)
        path = os.path.join(self.grave, str(ino))
        if os.path.isdir(path):
            os.rmdir(path)
            self._drop_snapshot(ino)
        else:
            os.unlink(path)
            self.files.pop(ino, None)

    def _displace(self, full: str, st: os.stat_result) -> None:
        """Take a name away: bury the inode while a snapshot names it, else delete it."""
        ino = st.st_ino
        if self.refs.get(ino):
            os.rename(full, os.path.join(self.grave, str(ino)))
            self.buried.add(ino)
        elif stat.S_ISDIR(st.st_mode):
            os.rmdir(full)
            self._drop_snapshot(ino)
        else:
            os.unlink(full)
            self.files.pop(ino, None)

    def _undo(self, ino: int, fd: int) -> FileUndo:
        undo = self.files.get(ino)
        if undo is None:
            st = os.fstat(fd)
            undo = self.files[ino] = FileUndo(st.st_size, stat.S_IMODE(st.st_mode))
        return undo

    def _save(self, undo: FileUndo, fd: int, start: int, end: int) -> None:
        for s, e in undo.missing(start, end):
            undo.saved.append((s, os.pread(fd, e - s, s)))
            undo.cover(s, e)

    @staticmethod
    def _attrs(st: os.stat_result) -> dict[str, Any]:
        return {
            "st_mode": st.st_mode, "st_ino": st.st_ino, "st_nlink": st.st_nlink,
            "st_uid": st.st_uid, "st_gid": st.st_gid, "st_size": st.st_size,
            "st_blocks": st.st_blocks, "st_blksize": st.st_blksize,
            "st_atime": st.st_atime_ns, "st_mtime": st.st_mtime_ns,
            "st_ctime": st.st_ctime_ns,
        }

    # ---- reading --------------------------------------------------------------------

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        self._alive()
        st = os.fstat(fh) if fh is not None else os.lstat(self._full(path))
        return self._attrs(st)

    def readdir(self, path: str, fh: int) -> list[tuple[str, dict[str, int], int]]:
        self._alive()
        full = self._full(path)
        # Each name with its inode: a reader skips entries whose inode is 0.
        out = [(name, {"st_mode": st.st_mode, "st_ino": st.st_ino}, 0)
               for name, st in ((".", os.stat(full)), ("..", os.stat(os.path.dirname(full))))]
        with os.scandir(full) as it:
            for e in it:
                st = e.stat(follow_symlinks=False)
                out.append((e.name, {"st_mode": st.st_mode, "st_ino": st.st_ino}, 0))
        return out

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        self._alive()
        return os.pread(fh, size, offset)

    def statfs(self, path: str) -> dict[str, int]:
        self._alive()
        sv = os.statvfs(self.tree)
        return {key: getattr(sv, key) for key in (
            "f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files",
            "f_flag", "f_frsize", "f_namemax")}

    def access(self, path: str, amode: int) -> int:
        self._alive()
        if not os.access(self._full(path), amode):
            raise fuse.FuseOSError(errno.EACCES)
        return 0

    # ---- files ------------------------------------------------------------------------

    def open(self, path: str, flags: int) -> int:
        self._alive()
        full = self._full(path)
        flags = _readable(flags & ~(os.O_CREAT | os.O_EXCL | os.O_APPEND))
        if flags & os.O_TRUNC:
            flags &= ~os.O_TRUNC
            with self.mutex:
                fd = os.open(full, flags)
                try:
                    self._truncate_fd(fd, 0, path)
                except BaseException:
                    os.close(fd)
                    raise
        else:
            fd = os.open(full, flags)
        self.fd_ino[fd] = os.fstat(fd).st_ino
        return fd

    def create(self, path: str, mode: int, flags: int) -> int:
        full = self._full(path)
        with self.mutex:
            self._step("create", path)
            self._touch(os.path.dirname(full))
            flags = _readable(flags & ~(os.O_APPEND | os.O_TRUNC))
            fd = os.open(full, flags | os.O_CREAT | os.O_EXCL, mode)
            st = os.fstat(fd)
            self.files[st.st_ino] = FileUndo(0, stat.S_IMODE(st.st_mode))
            self.dirs.pop(st.st_ino, None)
            self.fd_ino[fd] = st.st_ino
            return fd

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        with self.mutex:
            self._step("write", path)
            undo = self._undo(self.fd_ino[fh], fh)
            self._save(undo, fh, offset, offset + len(data))
            return os.pwrite(fh, data, offset)

    def _truncate_fd(self, fd: int, length: int, path: str | None) -> None:
        self._step("truncate", path)
        undo = self._undo(os.fstat(fd).st_ino, fd)
        size = os.fstat(fd).st_size
        if length < size:
            self._save(undo, fd, length, size)
        os.ftruncate(fd, length)

    def truncate(self, path: str | None, length: int, fh: int | None = None) -> int:
        with self.mutex:
            if fh is not None:
                self._truncate_fd(fh, length, path)
                return 0
            assert path is not None
            fd = os.open(self._full(path), os.O_RDWR)
            try:
                self._truncate_fd(fd, length, path)
            finally:
                os.close(fd)
        return 0

    def chmod(self, path: str | None, mode: int) -> int:
        assert path is not None
        full = self._full(path)
        with self.mutex:
            self._step("chmod", path)
            st = os.lstat(full)
            if stat.S_ISREG(st.st_mode) and st.st_ino not in self.files:
                self.files[st.st_ino] = FileUndo(st.st_size, stat.S_IMODE(st.st_mode))
            os.chmod(full, mode)
        return 0

    def chown(self, path: str | None, uid: int, gid: int) -> int:
        assert path is not None
        self._alive()
        os.lchown(self._full(path), uid, gid)
        return 0

    def utimens(self, path: str | None, times: tuple[int, int] | None = None) -> int:
        assert path is not None
        self._alive()
        if times is None:
            os.utime(self._full(path))
        else:
            os.utime(self._full(path), ns=times)
        return 0

    def fsync(self, path: str | None, datasync: int, fh: int) -> int:
        # The bytes and the size become durable; the mode too, unless it is fdatasync.
        with self.mutex:
            self._step("fdatasync" if datasync else "fsync", path)
            ino = self.fd_ino.get(fh, os.fstat(fh).st_ino)
            undo = self.files.pop(ino, None)
            if datasync and undo is not None:
                st = os.fstat(fh)
                if stat.S_IMODE(st.st_mode) != undo.mode:
                    self.files[ino] = FileUndo(st.st_size, undo.mode)
        return 0

    def flush(self, path: str | None, fh: int) -> int:
        return 0

    def release(self, path: str | None, fh: int) -> int:
        self.fd_ino.pop(fh, None)
        os.close(fh)
        return 0

    # ---- folders ------------------------------------------------------------------------

    def opendir(self, path: str) -> int:
        self._alive()
        return 0

    def fsyncdir(self, path: str | None, datasync: int, fh: int) -> int:
        assert path is not None
        with self.mutex:
            self._step("fsyncdir", path)
            self._drop_snapshot(os.stat(self._full(path)).st_ino)
        return 0

    def mkdir(self, path: str, mode: int) -> int:
        full = self._full(path)
        with self.mutex:
            self._step("mkdir", path)
            self._touch(os.path.dirname(full))
            os.mkdir(full, mode)
            ino = os.stat(full).st_ino
            self._drop_snapshot(ino)
            self.files.pop(ino, None)
            self.dirs[ino] = {}  # a new folder's entries are not durable yet
        return 0

    def unlink(self, path: str) -> int:
        full = self._full(path)
        with self.mutex:
            self._step("unlink", path)
            st = os.lstat(full)
            if stat.S_ISDIR(st.st_mode):
                raise fuse.FuseOSError(errno.EISDIR)
            self._touch(os.path.dirname(full))
            self._displace(full, st)
        return 0

    def rmdir(self, path: str) -> int:
        full = self._full(path)
        with self.mutex:
            self._step("rmdir", path)
            st = os.lstat(full)
            if not stat.S_ISDIR(st.st_mode):
                raise fuse.FuseOSError(errno.ENOTDIR)
            if os.listdir(full):
                raise fuse.FuseOSError(errno.ENOTEMPTY)
            self._touch(os.path.dirname(full))
            self._displace(full, st)
        return 0

    def rename(self, old: str, new: str) -> int:
        src, dst = self._full(old), self._full(new)
        with self.mutex:
            self._step("rename", f"{old} -> {new}")
            st = os.lstat(src)
            try:
                target: os.stat_result | None = os.lstat(dst)
            except FileNotFoundError:
                target = None
            if target is not None and target.st_ino == st.st_ino:
                return 0
            self._touch(os.path.dirname(src))
            self._touch(os.path.dirname(dst))
            if target is None:
                os.rename(src, dst)
                return 0
            if stat.S_ISDIR(target.st_mode) != stat.S_ISDIR(st.st_mode):
                raise fuse.FuseOSError(
                    errno.EISDIR if stat.S_ISDIR(target.st_mode) else errno.ENOTDIR)
            if stat.S_ISDIR(target.st_mode) and os.listdir(dst):
                raise fuse.FuseOSError(errno.ENOTEMPTY)
            if not self.refs.get(target.st_ino):
                os.rename(src, dst)  # replaces it for good
                if stat.S_ISDIR(target.st_mode):
                    self._drop_snapshot(target.st_ino)
                else:
                    self.files.pop(target.st_ino, None)
                return 0
            kept = os.path.join(self.grave, str(target.st_ino))
            if stat.S_ISDIR(target.st_mode):
                os.rename(dst, kept)
            else:
                os.link(dst, kept)  # the replaced file stays where a cut finds it
            try:
                os.rename(src, dst)
            except OSError:
                if stat.S_ISDIR(target.st_mode):
                    os.rename(kept, dst)
                else:
                    os.unlink(kept)
                raise
            self.buried.add(target.st_ino)
        return 0

    # Not used on the mount: refused rather than modelled half.
    def link(self, target: str, source: str) -> int:
        raise fuse.FuseOSError(errno.EPERM)

    def symlink(self, target: str, source: str) -> int:
        raise fuse.FuseOSError(errno.EPERM)

    def mknod(self, path: str, mode: int, dev: int) -> int:
        raise fuse.FuseOSError(errno.EPERM)

    # ---- the durable state ------------------------------------------------------------

    def _where(self) -> dict[int, str]:
        """Inode → a backing path, for every live and buried inode."""
        found = {os.stat(self.tree).st_ino: self.tree}
        for dirpath, dirnames, filenames in os.walk(self.tree):
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                found[os.lstat(path).st_ino] = path
        for name in os.listdir(self.grave):
            found[int(name)] = os.path.join(self.grave, name)
        return found

    def _durable_entries(self, ino: int, path: str) -> dict[str, int]:
        snap = self.dirs.get(ino)
        if snap is not None:
            return snap
        with os.scandir(path) as it:
            return {e.name: e.inode() for e in it}

    def _locate(self, ino: int, guess: str) -> str | None:
        """Where an inode lives: most often under its durable name, else in the graveyard."""
        with contextlib.suppress(FileNotFoundError):
            if os.lstat(guess).st_ino == ino:
                return guess
        buried = os.path.join(self.grave, str(ino))
        if os.path.lexists(buried):
            return buried
        return self._where().get(ino)  # renamed since: look everywhere

    def _durable_lookup(self, rel: str) -> tuple[int, str] | None:
        ino, path = os.stat(self.tree).st_ino, self.tree
        for part in [p for p in rel.split("/") if p]:
            if not os.path.isdir(path):
                return None
            child = self._durable_entries(ino, path).get(part)
            found = None if child is None else self._locate(child, os.path.join(path, part))
            if child is None or found is None:
                return None
            ino, path = child, found
        return ino, path

    def durable_listdir(self, rel: str) -> list[str] | None:
        """Names a folder would hold after a power cut now (None: no such folder)."""
        with self.mutex:
            found = self._durable_lookup(rel)
            if found is None or not os.path.isdir(found[1]):
                return None
            return sorted(self._durable_entries(*found))

    def durable_read(self, rel: str) -> bytes | None:
        """The bytes a file would hold after a power cut now (None: no such file)."""
        with self.mutex:
            found = self._durable_lookup(rel)
            if found is None or not os.path.isfile(found[1]):
                return None
            ino, path = found
            with open(path, "rb") as fh:
                live = fh.read()
            undo = self.files.get(ino)
            return live if undo is None else undo.durable(live)

    def revert(self) -> dict[str, int]:
        """Rebuild the tree as the durable state has it (after the cut; the mount is dead)."""
        with self.mutex:
            self.frozen = True
            where = self._where()
            new = self.tree + ".new"
            shutil.rmtree(new, ignore_errors=True)
            os.mkdir(new, stat.S_IMODE(os.stat(self.tree).st_mode))
            seen_dirs: set[int] = set()
            reverted: set[int] = set()
            tally = collections.Counter[str]()

            def build(ino: int, path: str, out: str) -> None:
                seen_dirs.add(ino)
                for name, child in sorted(self._durable_entries(ino, path).items()):
                    src = where.get(child)
                    if src is None:  # pragma: no cover - the graveyard keeps them all
                        raise RuntimeError(f"lost inode {child} of {name!r}")
                    dst = os.path.join(out, name)
                    st = os.lstat(src)
                    if stat.S_ISDIR(st.st_mode):
                        if child in seen_dirs:  # pragma: no cover - no directory renames
                            continue
                        os.mkdir(dst, stat.S_IMODE(st.st_mode))
                        tally["folders"] += 1
                        build(child, src, dst)
                        continue
                    os.link(src, dst)
                    tally["files"] += 1
                    undo = self.files.get(child)
                    if undo is not None and child not in reverted:
                        reverted.add(child)
                        tally["reverted"] += 1
                        fd = os.open(dst, os.O_WRONLY)
                        try:
                            undo.apply(fd)
                        finally:
                            os.close(fd)

            build(os.stat(self.tree).st_ino, self.tree, new)
            old = self.tree + ".old"
            os.rename(self.tree, old)
            os.rename(new, self.tree)
            shutil.rmtree(old)
            shutil.rmtree(self.grave)
            os.mkdir(self.grave)
            self.files.clear()
            self.dirs.clear()
            self.refs.clear()
            self.buried.clear()
            return dict(tally)


class _FUSE(fuse.FUSE):
    """mfusepy's FUSE, with the open file handle passed to truncate and rename flags refused."""

    def truncate_fuse_3(self, path: bytes | None, length: int, fip: Any) -> int:
        fh = fip.contents.fh if fip else None
        return self.operations.truncate(  # type: ignore[no-any-return]
            None if path is None else path.decode(self.encoding, self.errors), length, fh)

    def rename_fuse_3(self, old: bytes, new: bytes, flags: int) -> int:
        if flags:  # RENAME_NOREPLACE / RENAME_EXCHANGE are not modelled
            return -errno.EINVAL
        return self.rename_fuse_2(old, new)  # type: ignore[no-any-return]


class Control(socketserver.StreamRequestHandler):
    """One JSON request per line, one JSON answer per line.

    {"op": "status"} → ops counted, frozen, why;  {"op": "arm", "at": N} cut before the
    N-th counted operation;  {"op": "victims", "pids": [...]} SIGKILLed at the cut;
    {"op": "cut"} now;  {"op": "listdir"|"read"|"sha256", "path": P} the durable view;
    {"op": "revert"} rebuild the tree from the durable state (frozen first).
    """

    fs: PowerCutFS

    def handle(self) -> None:
        for line in self.rfile:
            try:
                answer = self.answer(json.loads(line))
            except Exception as exc:  # the test sees it in the answer
                log.exception("control request failed")
                answer = {"error": repr(exc)}
            self.wfile.write(json.dumps(answer).encode() + b"\n")
            self.wfile.flush()

    def answer(self, req: dict[str, Any]) -> dict[str, Any]:
        fs, op = self.fs, req["op"]
        if op == "status":
            with fs.mutex:
                return {"ops": fs.ops, "frozen": fs.frozen, "why": fs.cut_why,
                        "recent": list(fs.recent), "counts": dict(fs.counts)}
        if op == "arm":
            with fs.mutex:
                fs.cut_at = req["at"]
            return {}
        if op == "victims":
            with fs.mutex:
                fs.victims = set(req["pids"])
            return {}
        if op == "cut":
            fs.cut(req.get("why", "asked"))
            return {}
        if op == "listdir":
            return {"names": fs.durable_listdir(req["path"])}
        if op == "read":
            data = fs.durable_read(req["path"])
            return {"data": None if data is None else base64.b64encode(data).decode()}
        if op == "sha256":
            data = fs.durable_read(req["path"])
            return {"sha256": None if data is None else hashlib.sha256(data).hexdigest()}
        if op == "revert":
            fs.cut("power cycle")
            return {"tally": fs.revert()}
        raise ValueError(f"unknown op {op!r}")


def main(argv: list[str] | None = None) -> None:
    """Mount the file system in the foreground and serve the control socket."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, required=True)
    parser.add_argument("--grave", type=Path, required=True)
    parser.add_argument("--mount", type=Path, required=True)
    parser.add_argument("--control", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s powercut %(levelname)s %(message)s")
    args.grave.mkdir(parents=True, exist_ok=True)
    fs = PowerCutFS(args.tree, args.grave)
    handler = type("Handler", (Control,), {"fs": fs})
    server = socketserver.ThreadingUnixStreamServer(str(args.control), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="control", daemon=True).start()
    try:
        _FUSE(fs, str(args.mount), foreground=True, use_ino=True, hard_remove=True,
              fsname="powercut", subtype="powercut")
    finally:
        server.shutdown()
        server.server_close()
        with contextlib.suppress(FileNotFoundError):
            args.control.unlink()


if __name__ == "__main__":
    main()
