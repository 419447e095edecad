"""Scenario files are checked whole, and every mistake names the officer and the step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bodyworn.devices.scenario import (
    ScenarioError,
    example_scenarios,
    load_scenario,
    parse_duration,
    parse_scenario,
)
from bodyworn.domain.profile import Trigger


def _with_steps(*steps: Any, **extra: Any) -> dict[str, Any]:
    return {
        "name": "t",
        "routes": {"r": [{"after": "0m", "lat": 59.0, "lon": 18.0}]},
        "officers": [{"camera": 1, "name": "Kim", "steps": list(steps)}],
        **extra,
    }


def test_shipped_scenarios_load() -> None:
    shipped = example_scenarios()
    assert set(shipped) >= {"shift", "incident"}
    shift = load_scenario(shipped["shift"])
    assert shift.cameras_needed == 2 and shift.start == datetime(2026, 3, 2, 6, 45, tzinfo=UTC)
    record = next(s for s in shift.officers[0].steps if s.kind == "record")
    assert record.duration == timedelta(minutes=12) and record.trigger is Trigger.BUTTON
    incident = load_scenario(shipped["incident"])
    assert [s.kind for s in incident.officers[0].steps][:3] == ["take", "environment", "wait"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("10m", 600), ("1h30m", 5400), ("1.5m", 90), (45, 45), ("2h", 7200)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text, "here") == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "ten minutes", "5x", True, -3, None])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ScenarioError, match="here"):
        parse_duration(text, "here")


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (["take", "jump"], r"officers\[0\] \(Kim\) step 2: unknown step 'jump'"),
        (["take", {"record": {"trigger": "button"}}], r"step 2 \(record\): 'for'"),
        (["take", {"record": {"for": "soon"}}], r"step 2 \(record\): 'soon' is not a duration"),
        (["take", {"record": {"for": "1m", "trigger": "dance"}}], r"step 2 .*trigger must be"),
        (["take", {"walk": "nowhere"}], r"step 2 \(walk\): no route 'nowhere'"),
        ([{"record": {"for": "1m"}}], r"step 1 .*take the camera out"),
        (["take", "take"], r"step 2: the camera is already taken"),
        (["dock"], r"step 1: the camera is already docked"),
        (["take", {"dock": {"bay": 0}}], r"step 2 \(dock\): bay is a number"),
        (["take", {"environment": {"scene": "busy"}}], r"step 2 \(environment\): scene is one"),
        (["take", {"environment": {"weather": "rain"}}], r"unknown key\(s\) weather"),
        (["take", {"wait": "1m", "stop": None}], r"step 2: a step has exactly one key"),
        (["take", {"note": ""}], r"step 2 \(note\): expected non-empty text"),
        (["take", {"fall": "hard"}], r"step 2 \(fall\): takes no arguments"),
    ],
)
def test_mistakes_name_the_step(steps: list[Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(_with_steps(*steps), "s.yaml")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"officers": []}, "officers must be a non-empty list"),
        (_with_steps("take", colour="red"), r"unknown key\(s\) colour"),
        (_with_steps("take", start="yesterday"), "start"),
        (_with_steps("take", start="2026-03-02T06:45:00"), "UTC offset"),
        (
            {**_with_steps("take"), "routes": {"r": [{"lat": 99, "lon": 0}]}},
            r"routes.r\[0\]: latitude or longitude out of range",
        ),
        (
            {"officers": [{"camera": 1, "steps": ["take"]}, {"camera": 1, "steps": ["take"]}]},
            r"officers\[1\]: camera 1 is already used",
        ),
        ({"officers": [{"camera": 0, "steps": ["take"]}]}, "camera is a camera number"),
        ([1, 2], "expected a mapping"),
    ],
)
def test_whole_file_mistakes(data: object, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(data, "s.yaml")


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("officers: [\n")
    with pytest.raises(ScenarioError, match=r"broken\.yaml: not valid YAML"):
        load_scenario(broken)
