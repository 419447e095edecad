"""The spool: whole files or none, resumable, checked against the announced sha256."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from bodyworn.store.spool import Reader, Spool, SpoolMismatch

DATA = bytes(range(256)) * 5000  # 1.28 MB: more than one hashing chunk
SHA = hashlib.sha256(DATA).hexdigest()
MD5 = hashlib.md5(DATA, usedforsecurity=False).hexdigest()
SERIAL, NAME = "B8A44F000001", "20260302T071432.000000Z_B8A44F000001-20260302T071502Z-0001.mkv"


def reader(data: bytes, asked: list[int], block: int = 65536) -> Reader:
    def read(have: int) -> Iterator[bytes]:
        asked.append(have)
        for i in range(have, len(data), block):
            yield data[i : i + block]
    return read


def test_a_clip_arrives_whole_with_both_hashes(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    asked: list[int] = []
    entry = spool.ingest(SERIAL, NAME, len(DATA), SHA, reader(DATA, asked))
    assert entry.path.read_bytes() == DATA and entry.md5 == MD5 and entry.sha256 == SHA
    assert asked == [0] and spool.names(SERIAL) == [NAME] and spool.part_size(SERIAL, NAME) == 0
    # Already held: nothing is asked of the camera again.
    spool.ingest(SERIAL, NAME, len(DATA), SHA, reader(DATA, asked))
    assert asked == [0]


def test_an_interrupted_transfer_resumes_from_the_part(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    asked: list[int] = []

    def broken(have: int) -> Iterable[bytes]:
        asked.append(have)
        yield DATA[:300_000]
        raise ConnectionResetError("undocked")

    with pytest.raises(ConnectionResetError):
        spool.ingest(SERIAL, NAME, len(DATA), SHA, broken)
    assert spool.part_size(SERIAL, NAME) == 300_000 and not spool.held(SERIAL, NAME)
    entry = spool.ingest(SERIAL, NAME, len(DATA), SHA, reader(DATA, asked))
    assert asked == [0, 300_000]
    assert entry.path.read_bytes() == DATA and entry.md5 == MD5


def test_a_wrong_clip_is_discarded_and_nothing_is_held(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    bad = DATA[:-1] + b"\x00"
    with pytest.raises(SpoolMismatch):
        spool.ingest(SERIAL, NAME, len(DATA), SHA, reader(bad, []))
    assert not spool.held(SERIAL, NAME) and spool.part_size(SERIAL, NAME) == 0
    with pytest.raises(SpoolMismatch):
        spool.ingest(SERIAL, NAME, len(DATA), SHA, reader(DATA + b"x", []))


def test_a_part_longer_than_the_clip_starts_over(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    part = spool.part_path(SERIAL, NAME)
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * (len(DATA) + 10))
    asked: list[int] = []
    spool.ingest(SERIAL, NAME, len(DATA), SHA, reader(DATA, asked))
    assert asked == [0]


def test_a_corrupt_complete_file_is_fetched_again(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.ingest(SERIAL, NAME, len(DATA), SHA, reader(DATA, []))
    path = spool.path(SERIAL, NAME)
    path.write_bytes(b"\x00" * len(DATA))
    assert spool.verify(SERIAL, NAME, len(DATA), SHA) is None
    asked: list[int] = []
    spool.ingest(SERIAL, NAME, len(DATA), SHA, reader(DATA, asked))
    assert asked == [0] and path.read_bytes() == DATA


def test_removal_only_when_told_and_idempotent(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.ingest(SERIAL, NAME, len(DATA), SHA, reader(DATA, []))
    spool.remove(SERIAL, NAME)
    spool.remove(SERIAL, NAME)
    assert spool.names(SERIAL) == [] and spool.names("B8A44F000009") == []


@pytest.mark.parametrize("name", ["../etc/passwd", ".hidden", "a/b", "", "x.part"])
def test_unsafe_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="not a spool name"):
        Spool(tmp_path).path(SERIAL, name)


class Raw:
    """A RawStream over bytes that hands out at most `step` bytes per read."""

    def __init__(self, data: bytes, step: int = 100_000, fail_after: int | None = None):
        self.data, self.pos, self.step, self.fail_after = data, 0, step, fail_after
        self.closed = False

    def readinto(self, buffer: memoryview) -> int:
        if self.fail_after is not None and self.pos >= self.fail_after:
            raise ConnectionResetError("the camera went away")
        n = min(len(buffer), self.step, len(self.data) - self.pos)
        if self.fail_after is not None:
            n = min(n, self.fail_after - self.pos)
        buffer[:n] = self.data[self.pos : self.pos + n]
        self.pos += n
        return n

    def close(self) -> None:
        self.closed = True


def test_the_cameras_md5_is_kept_and_not_recomputed(tmp_path: Path) -> None:
    # The CD checks uploads against the camera's md5; the spool checks the sha256 only.
    announced = "f" * 32
    entry = Spool(tmp_path).ingest(SERIAL, NAME, len(DATA), SHA, lambda have: Raw(DATA[have:]),
                                   md5=announced)
    assert entry.md5 == announced
    with pytest.raises(SpoolMismatch):
        Spool(tmp_path / "other").ingest(SERIAL, NAME, len(DATA), SHA,
                                         lambda have: Raw(DATA[:-1] + b"?"), md5=MD5)


class Spliced(Raw):
    """A SpliceStream over bytes: `splice_into` writes with pwrite (the kernel's part)."""

    def can_splice(self) -> bool:
        return True

    def splice_into(self, fd: int, offset: int, count: int) -> int:
        import os

        chunk = bytearray(min(count, self.step))
        n = self.readinto(memoryview(chunk))
        os.pwrite(fd, bytes(chunk[:n]), offset)
        return n


STREAMS = [Raw, Spliced]


@pytest.mark.parametrize("kind", STREAMS, ids=["buffers", "splice"])
def test_a_stream_arrives_over_many_blocks_with_both_hashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: type[Raw]
) -> None:
    import bodyworn.store.spool as spool_mod

    monkeypatch.setattr(spool_mod, "BLOCK", 300_000)  # several blocks, buffers reused
    sources: list[Raw] = []

    def read(have: int) -> Raw:
        sources.append(kind(DATA[have:]))
        return sources[-1]

    entry = Spool(tmp_path).ingest(SERIAL, NAME, len(DATA), SHA, read)
    assert (entry.sha256, entry.md5) == (SHA, MD5)
    assert entry.path.read_bytes() == DATA
    assert sources[0].closed


@pytest.mark.parametrize("kind", STREAMS, ids=["buffers", "splice"])
def test_a_stream_broken_mid_way_keeps_what_arrived_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: type[Raw]
) -> None:
    import bodyworn.store.spool as spool_mod

    monkeypatch.setattr(spool_mod, "BLOCK", 300_000)
    spool = Spool(tmp_path)
    with pytest.raises(ConnectionResetError):
        spool.ingest(SERIAL, NAME, len(DATA), SHA, lambda have: kind(DATA, fail_after=450_000))
    # The block being filled when the link broke is kept too: nothing is asked for twice.
    assert spool.part_size(SERIAL, NAME) == 450_000
    asked: list[int] = []

    def rest(have: int) -> Raw:
        asked.append(have)
        return kind(DATA[have:])

    entry = spool.ingest(SERIAL, NAME, len(DATA), SHA, rest)
    assert asked == [450_000] and (entry.sha256, entry.md5) == (SHA, MD5)
    assert entry.path.read_bytes() == DATA



def test_the_spool_makes_missing_parents(tmp_path: Path) -> None:
    Spool(tmp_path / "new" / "spool").ingest(SERIAL, NAME, len(DATA), SHA, reader(DATA, []))
    assert (tmp_path / "new" / "spool" / SERIAL / NAME).read_bytes() == DATA
