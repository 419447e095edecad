"""The dock link's Assistant messages: round trips and whole checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bodyworn.docklink.errors import MessageError
from bodyworn.docklink.messages import (
    AssistantBinding,
    AssistantConfig,
    AssistantPairing,
    AssistantReport,
)

AT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_round_trips() -> None:
    config = AssistantConfig("CA PEM", "CERT PEM", (
        AssistantPairing("a" * 32, "officer-17", "b" * 64, "c" * 64, AT),
        AssistantPairing("d" * 32, "officer-17", "e" * 64, "f" * 64, AT, "DEVICE PEM"),
    ), ("0" * 64,), True)
    assert AssistantConfig.from_json(config.to_json()) == config
    report = AssistantReport("KEY PEM", (AssistantBinding("a" * 32, "DEVICE PEM", AT),),
                             ("d" * 32,))
    assert AssistantReport.from_json(report.to_json()) == report


@pytest.mark.parametrize(("change", "field"), [
    ({"annotations": "yes"}, "annotations"),
    ({"pairings": [{"pairing_id": "x"}]}, "user_id"),
    ({"taken_devices": [1]}, "taken_devices"),
    ({"ca": None}, "ca"),
])
def test_a_wrong_config_names_its_field(change: dict[str, object], field: str) -> None:
    good = AssistantConfig("CA", "CERT").to_json()
    with pytest.raises(MessageError, match=field):
        AssistantConfig.from_json({**good, **change})
