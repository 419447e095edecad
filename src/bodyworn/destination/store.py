"""The embedded CD's storage: Swift-style accounts, containers and objects on local disk.

Layout under the data dir: `accounts/<account>/<container>/` holds `container.json`
(metadata) and, per object, `<sha256 of name>.json` (name, metadata, md5, sha256, size,
content type, data file name) beside the data file `<sha256 of name>-<content hash>.data`.
Names are hashed because Swift object names may hold slashes and be longer than a file
name may be. Every write goes to a temporary file that is fsynced and renamed into
place, so a failed or refused upload leaves nothing behind and a reader never sees half
an object.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import AsyncIterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from bodyworn.store.files import fsync_dir, make_dirs_durable

# Swift allows 256 bytes; a container is a folder here, and a file name has 255 at most.
MAX_CONTAINER_NAME = 255
MAX_OBJECT_NAME = 1024
CONTAINER_FILE = "container.json"


class StoreError(Exception):
    """Base of storage refusals; `status` is the HTTP status a Swift server would answer."""

    status = 500


class BadName(StoreError):
    """A container or object name Swift would refuse."""

    status = 400


class NotFound(StoreError):
    """No such container or object."""

    status = 404


class EtagMismatch(StoreError):
    """The body's md5 is not the ETag the client sent."""

    status = 422


class OutOfSpace(StoreError):
    """The disk is full."""

    status = 507


@dataclass(frozen=True)
class StoredObject:
    """What is known about one stored object."""

    name: str
    size: int
    md5: str
    sha256: str
    content_type: str
    metadata: dict[str, str]
    path: Path
    # When the bytes were stored (seconds since the epoch): Swift's X-Timestamp.
    timestamp: float = 0.0


@dataclass(frozen=True)
class ContainerInfo:
    """A container's metadata, creation time and usage."""

    name: str
    metadata: dict[str, str]
    created: float
    object_count: int
    bytes_used: int
    last_modified: float


def _name_problem(name: str, limit: int) -> str | None:
    if not name:
        return "is empty"
    if "\x00" in name:
        return "holds a NUL character"
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: no file system can hold it
        return "is not valid UTF-8"
    if size > limit:
        return f"is longer than {limit} bytes"
    return None


def _check_container(name: str) -> None:
    problem = _name_problem(name, MAX_CONTAINER_NAME)
    if problem is None and ("/" in name or name in (".", "..")):
        problem = "is not allowed"
    if problem:
        raise BadName(f"the container name {problem}")


def _check_object(name: str) -> None:
    problem = _name_problem(name, MAX_OBJECT_NAME)
    if problem:
        raise BadName(f"the object name {problem}")


def _flush_and_sync(f: BinaryIO) -> None:
    f.flush()
    os.fsync(f.fileno())


def _write_json_atomic(path: Path, doc: Mapping[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, ensure_ascii=False, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def merge_metadata(old: Mapping[str, str], new: Mapping[str, str]) -> dict[str, str]:
    """Swift's container rule: given keys replace old ones, an empty value deletes a key."""
    out = dict(old)
    for key, value in new.items():
        if value:
            out[key] = value
        else:
            out.pop(key, None)
    return out


class ObjectStore:
    """Accounts, containers and objects under one data directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        make_dirs_durable(root)  # with any missing parents, as a new CD's data dir may be
        make_dirs_durable(root / "accounts", root)
        # Object count, bytes and newest object time per container, so account listings
        # and HEADs do not read every object's sidecar each time. Writes through this
        # store drop the entry; the folder's mtime catches changes made behind its back.
        self._usage: dict[tuple[str, str], tuple[int, int, int, float]] = {}
        self._usage_lock = threading.Lock()

    def _forget_usage(self, account: str, container: str) -> None:
        with self._usage_lock:
            self._usage.pop((account, container), None)

    def _container_usage(self, account: str, container: str) -> tuple[int, int, float]:
        path = self._container_dir(account, container)
        stamp = path.stat().st_mtime_ns
        with self._usage_lock:
            cached = self._usage.get((account, container))
        if cached is not None and cached[0] == stamp:
            return cached[1], cached[2], cached[3]
        objects = self.list_objects(account, container)
        usage = (
            len(objects),
            sum(o.size for o in objects),
            max((o.timestamp for o in objects), default=0.0),
        )
        with self._usage_lock:
            self._usage[(account, container)] = (stamp, *usage)
        return usage

    def _account_dir(self, account: str) -> Path:
        _check_container(account)
        return self.root / "accounts" / account

    def _container_dir(self, account: str, container: str) -> Path:
        _check_container(container)
        return self._account_dir(account) / container

    @staticmethod
    def _object_key(name: str) -> str:
        return hashlib.sha256(name.encode("utf-8")).hexdigest()

    # --- containers ---------------------------------------------------------------------

    def put_container(self, account: str, container: str, metadata: Mapping[str, str]) -> bool:
        """Create a container or merge its metadata; True when it was created."""
        path = self._container_dir(account, container)
        created = not (path / CONTAINER_FILE).exists()
        if created:
            # The folder's name must be durable before any object stored in it is.
            make_dirs_durable(path, self.root)
        doc: dict[str, Any] = (
            {"created": time.time(), "metadata": {}} if created else self._container_doc(path)
        )
        doc["metadata"] = merge_metadata(doc["metadata"], metadata)
        _write_json_atomic(path / CONTAINER_FILE, doc)
        return created

    def post_container(self, account: str, container: str, metadata: Mapping[str, str]) -> None:
        """Merge metadata into an existing container."""
        path = self._container_dir(account, container)
        doc = self._container_doc(path)
        doc["metadata"] = merge_metadata(doc["metadata"], metadata)
        _write_json_atomic(path / CONTAINER_FILE, doc)

    @staticmethod
    def _container_doc(path: Path) -> dict[str, Any]:
        try:
            doc: dict[str, Any] = json.loads((path / CONTAINER_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise NotFound(f"no container {path.name!r}") from exc
        if "created" not in doc:
            # Containers stored before creation times were kept: the file's age will do.
            doc["created"] = (path / CONTAINER_FILE).stat().st_mtime
        return doc

    def container_exists(self, account: str, container: str) -> bool:
        """True when the container exists."""
        return (self._container_dir(account, container) / CONTAINER_FILE).is_file()

    def container_info(self, account: str, container: str) -> ContainerInfo:
        """Metadata, creation time, object count and bytes of a container; raises NotFound."""
        path = self._container_dir(account, container)
        doc = self._container_doc(path)
        count, size, newest = self._container_usage(account, container)
        return ContainerInfo(
            name=container,
            metadata=dict(doc["metadata"]),
            created=float(doc["created"]),
            object_count=count,
            bytes_used=size,
            last_modified=max(float(doc["created"]), newest),
        )

    def container_metadata(self, account: str, container: str) -> dict[str, str]:
        """The container's metadata; raises NotFound."""
        return dict(self._container_doc(self._container_dir(account, container))["metadata"])

    def list_containers(self, account: str) -> list[str]:
        """Container names of an account, sorted."""
        base = self._account_dir(account)
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if (p / CONTAINER_FILE).is_file())

    def account_usage(self, account: str) -> tuple[int, int, int]:
        """Containers, objects and bytes stored in an account."""
        infos = [self.container_info(account, c) for c in self.list_containers(account)]
        return len(infos), sum(i.object_count for i in infos), sum(i.bytes_used for i in infos)

    # --- objects ---------------------------------------------------------------------------

    async def put_object(
        self,
        account: str,
        container: str,
        name: str,
        body: AsyncIterable[bytes],
        *,
        metadata: Mapping[str, str],
        content_type: str,
        expect_md5: str | None,
    ) -> StoredObject:
        """Stream a body to disk; it appears only whole and only if its md5 matches."""
        _check_object(name)
        cdir = self._container_dir(account, container)
        if not (cdir / CONTAINER_FILE).is_file():
            raise NotFound(f"no container {container!r}")
        key = self._object_key(name)
        md5 = hashlib.md5(usedforsecurity=False)
        sha = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=cdir, prefix=".tmp-", suffix=".data")
        try:
            with os.fdopen(fd, "wb") as f:
                async for chunk in body:
                    md5.update(chunk)
                    sha.update(chunk)
                    size += len(chunk)
                    await asyncio.to_thread(f.write, chunk)
                await asyncio.to_thread(_flush_and_sync, f)
            if expect_md5 is not None and expect_md5.strip('"').lower() != md5.hexdigest():
                raise EtagMismatch("request ETag does not match the body")
            # Each version gets its own data file and the sidecar switches to it in one
            # rename, so a crash never pairs old metadata with new bytes.
            data = cdir / f"{key}-{sha.hexdigest()[:16]}.data"
            os.replace(tmp, data)
        except OSError as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            if exc.errno == errno.ENOSPC:
                raise OutOfSpace("out of disk space") from exc
            raise
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        try:
            previous: Path | None = self.get_object(account, container, name).path
        except NotFound:
            previous = None
        stored = StoredObject(
            name=name,
            size=size,
            md5=md5.hexdigest(),
            sha256=sha.hexdigest(),
            content_type=content_type,
            metadata=dict(metadata),
            path=data,
            timestamp=time.time(),
        )
        _write_json_atomic(cdir / f"{key}.json", self._describe(stored))
        self._forget_usage(account, container)
        if previous is not None and previous != data:
            with contextlib.suppress(FileNotFoundError):
                previous.unlink()
        return stored

    @staticmethod
    def _describe(obj: StoredObject) -> dict[str, Any]:
        return {
            "name": obj.name,
            "size": obj.size,
            "md5": obj.md5,
            "sha256": obj.sha256,
            "content_type": obj.content_type,
            "metadata": obj.metadata,
            "data": obj.path.name,
            "timestamp": obj.timestamp,
        }

    def get_object(self, account: str, container: str, name: str) -> StoredObject:
        """Describe a stored object; raises NotFound."""
        _check_object(name)
        cdir = self._container_dir(account, container)
        key = self._object_key(name)
        sidecar = cdir / f"{key}.json"
        try:
            doc = json.loads(sidecar.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise NotFound(f"no object {container}/{name}") from exc
        if "timestamp" not in doc:
            doc["timestamp"] = (cdir / doc["data"]).stat().st_mtime
        return StoredObject(
            name=doc["name"],
            size=doc["size"],
            md5=doc["md5"],
            sha256=doc["sha256"],
            content_type=doc["content_type"],
            metadata=dict(doc["metadata"]),
            path=cdir / doc["data"],
            timestamp=float(doc["timestamp"]),
        )

    def post_object(
        self, account: str, container: str, name: str, metadata: Mapping[str, str]
    ) -> None:
        """Replace all of an object's metadata (Swift's object POST)."""
        obj = self.get_object(account, container, name)
        new = StoredObject(**{**obj.__dict__, "metadata": dict(metadata)})
        cdir = self._container_dir(account, container)
        _write_json_atomic(cdir / f"{self._object_key(name)}.json", self._describe(new))
        self._forget_usage(account, container)

    def list_objects(self, account: str, container: str) -> list[StoredObject]:
        """Every object of a container, sorted by name; raises NotFound."""
        self.container_metadata(account, container)
        cdir = self._container_dir(account, container)
        found = [self.get_object(account, container, n) for n in self._names(cdir)]
        return sorted(found, key=lambda o: o.name)

    @staticmethod
    def _names(cdir: Path) -> Iterator[str]:
        for p in cdir.glob("*.json"):
            if p.name == CONTAINER_FILE or p.name.startswith(".tmp-"):
                continue
            yield json.loads(p.read_text(encoding="utf-8"))["name"]
