"""Request bodies: re-readable from the start, md5 and size known before sending."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

from bodyworn.cdclient.body import BytesBody, EncryptedBody, FileBody
from bodyworn.cdclient.client import parse_retry_after
from bodyworn.evidence.crypto import ContentKey, decrypt_chunks


async def collect(body: FileBody | BytesBody | EncryptedBody) -> bytes:
    return b"".join([chunk async for chunk in body.stream()])


async def test_file_body_streams_in_chunks_and_rereads(tmp_path: Path) -> None:
    data = os.urandom(10_000)
    path = tmp_path / "c.mkv"
    path.write_bytes(data)
    body = FileBody(path, chunk_bytes=4096)
    sizes = [len(c) async for c in body.stream()]
    assert sizes == [4096, 4096, 1808]
    assert await collect(body) == data and body.streams_opened == 2
    assert await body.md5() == hashlib.md5(data).hexdigest() and body.size == 10_000
    assert await FileBody(path, md5="given").md5() == "given"


async def test_encrypted_body_is_identical_on_every_read(tmp_path: Path) -> None:
    data = os.urandom(9_999)
    path = tmp_path / "c.mkv"
    path.write_bytes(data)
    key = ContentKey.generate()
    for plain in (FileBody(path, chunk_bytes=1000), BytesBody(data)):
        body = EncryptedBody(plain, key)
        first, second = await collect(body), await collect(body)
        assert first == second and len(first) == body.size
        assert await body.md5() == hashlib.md5(first).hexdigest()
        assert b"".join(decrypt_chunks([first], key)) == data


def test_retry_after_parsing() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
