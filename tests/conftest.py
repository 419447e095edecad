"""Fixtures and settings for every test: Hypothesis derandomized unless fuzzing on purpose."""

from __future__ import annotations

import pytest

from tests import fuzzing

fuzzing.load_profile()


def pytest_collection_finish(session: pytest.Session) -> None:
    """`make fuzz`: share BODYWORN_FUZZ_SECONDS between the fuzz tests that will run."""
    if fuzzing.FUZZING:
        fuzz_tests = [item for item in session.items if item.get_closest_marker("fuzz")]
        fuzzing.share["seconds"] = fuzzing.FUZZ_SECONDS / max(1, len(fuzz_tests))
