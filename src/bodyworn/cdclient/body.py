"""Object bodies that can be sent more than once: each attempt streams from the start.

The md5 for the `ETag` request header has to be known before the body is sent, so
file and encrypted bodies make one hashing pass first (in a worker thread, constant
memory). An encrypted body keeps its key and IV, so every retry sends identical bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Protocol

from bodyworn.evidence.crypto import (
    CHUNK_BYTES,
    ContentKey,
    aencrypt_chunks,
    ciphertext_md5,
    encrypted_size,
    read_chunks,
)


class ObjectBody(Protocol):
    """A re-readable request body with a known size and md5."""

    @property
    def size(self) -> int:
        """Length in bytes of what `stream()` yields."""
        ...

    async def md5(self) -> str:
        """Hex md5 of what `stream()` yields."""
        ...

    def stream(self) -> AsyncIterator[bytes]:
        """A fresh iterator over the body, from its first byte."""
        ...


class BytesBody:
    """A small in-memory body (metadata-only objects, key files, GNSS tracks, notes)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    @property
    def size(self) -> int:
        """Length in bytes."""
        return len(self.data)

    async def md5(self) -> str:
        """Hex md5 of the bytes."""
        return hashlib.md5(self.data, usedforsecurity=False).hexdigest()

    async def stream(self) -> AsyncIterator[bytes]:
        """Yield the bytes in one piece."""
        yield self.data


class FileBody:
    """A file on disk, read in chunks; the file must not change while it is delivered."""

    def __init__(
        self,
        path: Path,
        chunk_bytes: int = CHUNK_BYTES,
        md5: str | None = None,
        on_chunk: Callable[[int], None] | None = None,
    ) -> None:
        self.path = path
        self.chunk_bytes = chunk_bytes
        self._size = path.stat().st_size
        self._md5 = md5
        self.md5_given = md5 is not None
        self._on_chunk = on_chunk
        self.streams_opened = 0

    def forget_md5(self) -> None:
        """Drop a given md5: the next `md5()` is taken over the file itself."""
        self._md5, self.md5_given = None, False

    @property
    def size(self) -> int:
        """File size in bytes."""
        return self._size

    async def md5(self) -> str:
        """Hex md5 of the file, computed once."""
        if self._md5 is None:
            self._md5 = await asyncio.to_thread(self._hash)
        return self._md5

    def _hash(self) -> str:
        digest = hashlib.md5(usedforsecurity=False)
        with self.path.open("rb") as f:
            for chunk in read_chunks(f, self.chunk_bytes):
                digest.update(chunk)
        return digest.hexdigest()

    async def stream(self) -> AsyncIterator[bytes]:
        """Yield the file from its start, one chunk at a time."""
        self.streams_opened += 1
        f = await asyncio.to_thread(self.path.open, "rb")
        try:
            while chunk := await asyncio.to_thread(f.read, self.chunk_bytes):
                if self._on_chunk is not None:
                    self._on_chunk(len(chunk))
                yield chunk
        finally:
            f.close()


class EncryptedBody:
    """AES-256-CBC ciphertext of a file or bytes body, produced on the fly."""

    def __init__(self, plain: FileBody | BytesBody, content_key: ContentKey) -> None:
        self.plain = plain
        self.content_key = content_key
        self._md5: str | None = None

    @property
    def size(self) -> int:
        """Ciphertext length."""
        return encrypted_size(self.plain.size)

    async def md5(self) -> str:
        """Hex md5 of the ciphertext, computed once by encrypting without keeping output."""
        if self._md5 is None:
            self._md5 = await asyncio.to_thread(self._hash)
        return self._md5

    def _hash(self) -> str:
        if isinstance(self.plain, BytesBody):
            return ciphertext_md5([self.plain.data], self.content_key)[0]
        with self.plain.path.open("rb") as f:
            return ciphertext_md5(read_chunks(f, self.plain.chunk_bytes), self.content_key)[0]

    def stream(self) -> AsyncIterator[bytes]:
        """Yield the ciphertext from its start."""
        return aencrypt_chunks(self.plain.stream(), self.content_key)
