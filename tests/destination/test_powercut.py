"""The CD keeps its settings and what it acknowledged through a power cut (tests/powercut)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bodyworn.destination.browser_auth import PASSWORD_FILE, ensure_browser_password
from bodyworn.destination.config import init_destination, load_destination
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


def test_the_settings_keys_and_browser_password_survive_a_power_cut(
    disk: PowerCutMount,
) -> None:
    cd = disk.mnt / "cd"  # made by the CD itself
    config = init_destination(cd, https_hosts=["127.0.0.1"], encryption=True)
    assert ensure_browser_password(cd) is not None
    password_hash = (cd / PASSWORD_FILE).read_bytes()
    disk.powercycle()
    assert load_destination(cd) == config
    for name in ("tls/key.pem", "tls/cert.pem", "keys/content.private.pem",
                 "keys/content.public.pem"):
        assert (cd / name).stat().st_size > 0, name
    assert (cd / PASSWORD_FILE).read_bytes() == password_hash
    assert ensure_browser_password(cd) is None  # the same password, not a new one


def test_the_store_makes_missing_parents(tmp_path: Path) -> None:
    # As `mkdir -p` did: a new CD's data dir may not exist yet.
    ObjectStore(tmp_path / "cd" / "store")
    assert (tmp_path / "cd" / "store" / "accounts").is_dir()
