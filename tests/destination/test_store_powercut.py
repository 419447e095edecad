"""The CD's store keeps what it acknowledged through a power cut (tests/powercut)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bodyworn.destination.store import ObjectStore
from tests.powercut.mount import PowerCutMount, fsync_path, mounted


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[PowerCutMount]:
    with mounted(tmp_path) as mount:
        yield mount


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_a_stored_object_in_a_new_container_survives_a_power_cut(
    disk: PowerCutMount,
) -> None:
    cd = disk.mnt / "cd"
    cd.mkdir()
    fsync_path(disk.mnt)
    store = ObjectStore(cd / "store")  # the account's and the container's folders are new
    store.put_container("AUTH_x", "rec", {"Status": "Recording"})
    stored = await store.put_object("AUTH_x", "rec", "clip.mkv", _body(b"evidence"),
                                    metadata={}, content_type="video/x-matroska",
                                    expect_md5=None)
    store.post_container("AUTH_x", "rec", {"Status": "Complete"})
    disk.powercycle()
    store = ObjectStore(cd / "store")
    assert store.list_containers("AUTH_x") == ["rec"]
    assert store.container_metadata("AUTH_x", "rec") == {"Status": "Complete"}
    again = store.get_object("AUTH_x", "rec", "clip.mkv")
    assert again.path.read_bytes() == b"evidence" and again.md5 == stored.md5
