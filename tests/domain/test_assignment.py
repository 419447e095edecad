"""Assignment rules: fixed refusals, self-assign readiness, picking a camera, the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bodyworn.domain.assignment import (
    CameraFacts,
    Mode,
    ReadinessPolicy,
    firmware_key,
    fixed_assign_refusal,
    pick_ready,
    readiness_problems,
    window_open,
)

READY = CameraFacts("C1", added=True, locked=False, docked=True, firmware="10.2.0.3",
                    battery_hours=9.0, storage_hours=20.0)
POLICY = ReadinessPolicy(shift_hours=8.0, firmware="10.2.0.3")


def test_fixed_assignment_refusals() -> None:
    assert fixed_assign_refusal(Mode.FIXED, READY) is None
    assert "self-assign" in (fixed_assign_refusal(Mode.SELF_ASSIGN, READY) or "")
    assert "no system" in (fixed_assign_refusal(
        Mode.FIXED, CameraFacts("C", added=False, locked=False)) or "")
    assert "locked" in (fixed_assign_refusal(
        Mode.FIXED, CameraFacts("C", added=True, locked=True)) or "")
    assert "removed" in (fixed_assign_refusal(
        Mode.FIXED, CameraFacts("C", added=True, locked=False, removal_pending=True)) or "")


@pytest.mark.parametrize(("change", "problem"), [
    ({"battery_hours": 7.9}, "battery"),
    ({"storage_hours": 2.0}, "storage"),
    ({"firmware": "10.1.0.0"}, "firmware"),
    ({"locked": True}, "locked"),
    ({"docked": False}, "not docked"),
    ({"user": "someone"}, "assigned"),
    ({"added": False}, "not added"),
    ({"removal_pending": True}, "removed"),
])
def test_each_readiness_rule(change: dict[str, object], problem: str) -> None:
    assert readiness_problems(READY, POLICY) == []
    facts = CameraFacts(**{**READY.__dict__, **change})  # type: ignore[arg-type]
    assert any(problem in p for p in readiness_problems(facts, POLICY))


def test_any_firmware_when_the_system_names_none() -> None:
    facts = CameraFacts(**{**READY.__dict__, "firmware": "9.0"})  # type: ignore[arg-type]
    assert readiness_problems(facts, ReadinessPolicy(8.0, None)) == []


def test_pick_takes_the_fullest_ready_camera_or_none() -> None:
    low = CameraFacts(**{**READY.__dict__, "serial": "C0", "battery_hours": 8.5})  # type: ignore[arg-type]
    locked = CameraFacts(**{**READY.__dict__, "serial": "C9", "battery_hours": 20, "locked": True})  # type: ignore[arg-type]
    assert pick_ready([low, READY, locked], POLICY) == READY
    assert pick_ready([locked], POLICY) is None
    assert pick_ready([], POLICY) is None


def test_the_window_is_fifteen_seconds() -> None:
    tap = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    assert window_open(tap, tap + timedelta(seconds=15))
    assert not window_open(tap, tap + timedelta(seconds=15, microseconds=1))


def test_policy_bounds_and_firmware_order() -> None:
    with pytest.raises(ValueError):
        ReadinessPolicy(shift_hours=0)
    assert firmware_key("10.12.0.1") > firmware_key("10.2.9.9")
