"""The event bus: publish now, emit on commit, never after a rollback, a failing subscriber."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from bodyworn.controller.context import ControllerContext
from bodyworn.controller.events import (
    CameraDocked,
    CdHealthChanged,
    CdState,
    Event,
    EventBus,
    SettingsChanged,
    emit,
)


def test_publish_reaches_subscribers_of_the_type_in_order() -> None:
    bus = EventBus()
    seen: list[str] = []
    bus.subscribe(CameraDocked, lambda e: seen.append(f"a:{e.serial}"))
    bus.subscribe(CameraDocked, lambda e: seen.append(f"b:{e.serial}"))
    bus.subscribe(SettingsChanged, lambda e: seen.append("settings"))
    bus.publish(CameraDocked("B8A44F000001", "DOCK0001", 1))
    assert seen == ["a:B8A44F000001", "b:B8A44F000001"]


def test_a_base_class_subscriber_hears_every_event() -> None:
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(Event, seen.append)
    health = CdHealthChanged(CdState.LOST, "refused", datetime(2026, 1, 1, tzinfo=UTC))
    bus.publish(health)
    bus.publish(SettingsChanged(frozenset({"timezone"})))
    assert seen[0] is health and not health.ok
    assert seen[1] == SettingsChanged(frozenset({"timezone"}))


def test_a_failing_subscriber_does_not_stop_the_others_or_the_publisher() -> None:
    bus = EventBus()
    seen: list[str] = []

    def broken(_event: CameraDocked) -> None:
        raise RuntimeError("boom")

    bus.subscribe(CameraDocked, broken)
    bus.subscribe(CameraDocked, lambda e: seen.append(e.serial))
    bus.publish(CameraDocked("S1", "D1", 0))
    assert seen == ["S1"]


def test_unsubscribe_stops_delivery() -> None:
    bus = EventBus()
    seen: list[str] = []
    stop = bus.subscribe(CameraDocked, lambda e: seen.append(e.serial))
    bus.publish(CameraDocked("S1", "D1", 0))
    stop()
    stop()  # twice is harmless
    bus.publish(CameraDocked("S2", "D1", 0))
    assert seen == ["S1"]


def test_emit_publishes_after_commit_only(ctx: ControllerContext) -> None:
    seen: list[SettingsChanged] = []
    ctx.events.subscribe(SettingsChanged, seen.append)
    with ctx.factory() as session, session.begin():
        emit(session, SettingsChanged(frozenset({"timezone"})))
        session.execute(text("SELECT 1"))
        assert seen == []  # not before the commit
    assert seen == [SettingsChanged(frozenset({"timezone"}))]


def test_emit_is_dropped_when_the_transaction_rolls_back(ctx: ControllerContext) -> None:
    seen: list[SettingsChanged] = []
    ctx.events.subscribe(SettingsChanged, seen.append)
    with pytest.raises(RuntimeError), ctx.factory() as session, session.begin():
        emit(session, SettingsChanged(frozenset({"language"})))
        raise RuntimeError("the change failed")
    # The same session factory's next commit must not carry the dropped event along.
    with ctx.factory() as session, session.begin():
        session.execute(text("SELECT 1"))
    assert seen == []
