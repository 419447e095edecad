"""Where a system backup goes: a small interface, and the controller-side store it fills.

A `BackupTarget` takes the bytes of a backup and gives the latest back. The one kind here,
`ControllerTarget`, stores the file in another controller's data directory through a
`Transport`: `LocalTransport` reaches a data directory on this machine (or a folder
mounted here) directly; the cluster gives a transport over mutual TLS to an extension
controller, whose route hands what it receives to `BackupInbox.store`.

Targets are chosen by key. "folder:<absolute path>" is always understood; other kinds
come from listers registered with `register` (the cluster lists its extensions this way,
without this folder importing it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import structlog

from bodyworn.controller.backup.format import BackupFileError, is_uuid, read_header
from bodyworn.controller.context import ControllerContext
from bodyworn.store.files import make_dirs_durable, write_file_atomic

log = structlog.get_logger(__name__)
FOLDER = "folder:"
INBOX_DIR = "system-backup"
SUFFIX = ".bwbackup"


class TargetUnavailable(Exception):
    """The target did not take the backup (or could not give it back); the message says why."""


class BackupTarget(Protocol):
    """Where backups go."""

    @property
    def key(self) -> str:
        """What Settings → System backup stores to find this target again."""
        ...

    @property
    def label(self) -> str:
        """What the page shows."""
        ...

    def send(self, system_id: str, data: bytes) -> None:
        """Store a backup durably (TargetUnavailable when it could not)."""
        ...

    def fetch_latest(self, system_id: str) -> bytes | None:
        """The newest backup of a system this target holds (None: none)."""
        ...


class Transport(Protocol):
    """Bytes to and from another controller's backup store."""

    def put(self, system_id: str, data: bytes) -> None:
        """Hand a backup over (the other side keeps it with BackupInbox.store)."""
        ...

    def get(self, system_id: str) -> bytes | None:
        """The backup the other side keeps for a system."""
        ...


class BackupInbox:
    """A controller's store of the backups it keeps for a system (<data>/system-backup/).

    A received file's form is checked (it cannot be opened here without the passphrase)
    and written atomically; the one before it stays beside it until the next arrives.
    """

    def __init__(self, data_dir: Path) -> None:
        self.folder = data_dir / INBOX_DIR
        self._lock = threading.Lock()

    def _path(self, system_id: str, previous: bool = False) -> Path:
        if not is_uuid(system_id):
            raise ValueError("not a system ID")
        return self.folder / f"{system_id}{'.previous' if previous else ''}{SUFFIX}"

    def store(self, data: bytes) -> str:
        """Keep a backup; its system ID (BackupFileError when it is not a backup file)."""
        header, _ = read_header(data)
        with self._lock:
            make_dirs_durable(self.folder)
            path = self._path(header.system_id)
            if path.exists():
                write_file_atomic(self._path(header.system_id, previous=True), path.read_bytes())
            write_file_atomic(path, data)
        return header.system_id

    def latest(self, system_id: str) -> bytes | None:
        """The newest backup kept for a system."""
        path = self._path(system_id)
        return path.read_bytes() if path.exists() else None

    def systems(self) -> list[str]:
        """The systems this controller keeps a backup of."""
        if not self.folder.is_dir():
            return []
        return sorted(p.name[:-len(SUFFIX)] for p in self.folder.glob(f"*{SUFFIX}")
                      if not p.name.endswith(f".previous{SUFFIX}"))


class LocalTransport:
    """A backup store on this machine: another controller's data directory, or a folder."""

    def __init__(self, folder: Path) -> None:
        self.inbox = BackupInbox(folder)

    def put(self, system_id: str, data: bytes) -> None:
        """Store through the folder's inbox."""
        try:
            stored = self.inbox.store(data)
        except (OSError, BackupFileError) as exc:
            raise TargetUnavailable(f"cannot write to {self.inbox.folder}: {exc}") from exc
        if stored != system_id:
            raise TargetUnavailable("the stored backup names another system")

    def get(self, system_id: str) -> bytes | None:
        """Read through the folder's inbox."""
        try:
            return self.inbox.latest(system_id)
        except OSError as exc:
            raise TargetUnavailable(f"cannot read {self.inbox.folder}: {exc}") from exc


@dataclass(frozen=True)
class ControllerTarget:
    """Backups kept in another controller's data directory, reached through a transport."""

    key: str
    label: str
    transport: Transport

    def send(self, system_id: str, data: bytes) -> None:
        """Hand the backup to the other controller."""
        self.transport.put(system_id, data)

    def fetch_latest(self, system_id: str) -> bytes | None:
        """The backup the other controller keeps."""
        return self.transport.get(system_id)


def folder_target(path: str) -> ControllerTarget:
    """A target in a folder of this machine (an absolute path that exists)."""
    folder = Path(path)
    if not folder.is_absolute() or not folder.is_dir():
        raise ValueError("must be an absolute path to an existing folder on the controller")
    return ControllerTarget(f"{FOLDER}{folder}", f"Folder {folder}", LocalTransport(folder))


Lister = Callable[[ControllerContext], list[BackupTarget]]
_listers: list[Lister] = []


def register(lister: Lister) -> Callable[[], None]:
    """Offer more targets (the cluster: its extension controllers); returns an unregister."""
    _listers.append(lister)
    return lambda: _listers.remove(lister) if lister in _listers else None


def choices(ctx: ControllerContext) -> list[BackupTarget]:
    """The targets the registered listers offer now (a failing lister offers none)."""
    found: list[BackupTarget] = []
    for lister in list(_listers):
        try:
            found.extend(lister(ctx))
        except Exception:  # a lister's trouble must not break the page
            log.exception("backup.targets_unlisted")
    return found


def resolve(ctx: ControllerContext, key: str) -> BackupTarget:
    """The target a stored key names (LookupError when it is not there any more)."""
    if key.startswith(FOLDER):
        try:
            return folder_target(key[len(FOLDER):])
        except ValueError as exc:
            raise LookupError(f"the backup folder is not there: {exc}") from exc
    for target in choices(ctx):
        if target.key == key:
            return target
    raise LookupError("the chosen backup target is not part of the system any more")
