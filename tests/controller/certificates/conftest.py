"""Certificates are checked against the controller's clock: here it starts at the real time,
as the test certificate authorities (tests/x509_factory.py) sign with it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bodyworn.domain.clock import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    """A movable clock that starts now."""
    return ManualClock(datetime.now(UTC).replace(microsecond=0))
