"""Fixtures of the Assistant's tests (the rig itself is in rig.py, shared with tests/e2e)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.assistant.rig import AssistantRig, assistant_rig


@pytest.fixture
def arig(tmp_path: Path) -> Iterator[AssistantRig]:
    """A controller, a CD, a camera of one user on the air, and room for phones."""
    with assistant_rig(tmp_path) as rig:
        yield rig
