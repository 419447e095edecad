"""A real OpenStack Swift on loopback for the client tests, started once per session."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.swift_saio import SwiftInstance, available, running_swift, swift_dir

# Extra tempauth accounts, one per test concern, so tests never see each other's System/.
SWIFT_ACCOUNTS = ("bwfull", "bwcaps", "bwbind", "bwnone")

__all__ = ["SwiftInstance", "swift"]


@pytest.fixture(scope="session")
def swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftInstance]:
    if not available():
        pytest.skip(f"no Swift start script in {swift_dir()} (set BODYWORN_SWIFT_DIR)")
    folders = (tmp_path_factory.mktemp("swift-saio") for _ in itertools.count())
    try:
        with running_swift(folders, SWIFT_ACCOUNTS) as instance:
            yield instance
    except RuntimeError as exc:
        pytest.fail(str(exc))
