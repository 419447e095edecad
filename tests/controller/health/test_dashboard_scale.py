"""The dashboard of a large system: the same few queries whatever the number of cameras and
users, the cameras and stations that need care shown first, counts and links to the rest."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, insert

from bodyworn.controller.context import ControllerContext
from bodyworn.controller.health import service
from bodyworn.controller.models import BodyWornUser, CameraRow, DockingStationRow
from bodyworn.controller.profiles import service as profiles
from bodyworn.domain.text import fold
from tests.controller.conftest import set_up


def _seed(ctx: ControllerContext, cameras: int, stations: int, start: int = 0) -> None:
    """Users, stations of 8 bays and cameras (each with its user), by bulk inserts."""
    now = ctx.clock.now()
    with ctx.factory() as s, s.begin():
        default = profiles.default_row(s, ctx.clock).id
        s.execute(insert(BodyWornUser), [
            {"uuid": f"00000000-0000-0000-0000-{i:012d}", "name": f"User {i}",
             "name_key": fold(f"User {i}"), "user_id": None, "user_id_key": None,
             "profile_id": default, "created_at": now, "updated_at": now}
            for i in range(start, start + cameras)])
        s.execute(insert(DockingStationRow), [
            {"serial": f"DOCK{j:04d}", "model": "W701", "bays": 8,
             "station_url": f"https://127.0.0.1:1/{j}", "first_seen_at": now,
             "last_event_at": now} for j in range(start // 8, start // 8 + stations)])
        s.execute(insert(CameraRow), [
            {"serial": f"B8A44F{k:06d}", "state": "added", "model": "W101", "firmware": "1",
             "user_uuid": f"00000000-0000-0000-0000-{k:012d}", "docked": True,
             "station_serial": f"DOCK{k // 8:04d}", "bay": k % 8, "camera_url": None,
             "locked": False, "info_json": '{"leds": {"docking": "green"}}', "seen_at": now,
             "added_at": now} for k in range(start, start + cameras)])


def _queries(ctx: ControllerContext) -> tuple[service.Dashboard, int]:
    count = 0

    def _one(*_args: Any) -> None:
        nonlocal count
        count += 1

    event.listen(ctx.engine, "before_cursor_execute", _one)
    try:
        board = service.build(ctx)
    finally:
        event.remove(ctx.engine, "before_cursor_execute", _one)
    return board, count


def test_dashboard_costs_the_same_for_40_or_400_cameras(ctx: ControllerContext) -> None:
    set_up(ctx)
    _seed(ctx, 40, 5)
    small, few = _queries(ctx)
    assert len(small.cameras) == service.DASHBOARD_ROWS and small.camera_total == 40
    assert len(small.stations) == 5 and small.station_total == 5
    assert small.cameras[0]["user_name"] == "User 0"  # users found in one query
    _seed(ctx, 360, 45, start=40)
    large, many = _queries(ctx)
    assert large.camera_total == 400 and large.station_total == 50
    assert len(large.cameras) == service.DASHBOARD_ROWS
    assert len(large.stations) == service.DASHBOARD_STATIONS
    assert many == few, "the dashboard's queries grow with the number of cameras"
    assert few < service.DASHBOARD_ROWS, f"{few} queries: one per camera shown?"


def test_cameras_and_stations_that_need_care_come_first(ctx: ControllerContext) -> None:
    set_up(ctx)
    _seed(ctx, 200, 25)
    with ctx.factory() as s, s.begin():
        s.get(CameraRow, "B8A44F000150").locked = True  # type: ignore[union-attr]
    ctx.health.note_station("DOCK0020", False, "connection refused")
    board = service.build(ctx)
    shown = [c["serial"] for c in board.cameras]
    assert "B8A44F000150" in shown  # locked, far past the first 25 serials
    # Docked in the silent station: where it is, nobody can tell.
    unknown = [c["serial"] for c in board.cameras if c["dock_state"] == "unknown"]
    assert unknown == [f"B8A44F{k:06d}" for k in range(160, 168)]
    assert shown == sorted(shown)
    assert "DOCK0020" in [s["serial"] for s in board.stations]
    kinds = [i.kind for i in board.issues]
    assert "camera_locked" in kinds and "station_not_answering" in kinds
    assert "cameras_more" not in kinds  # 9 need care: all shown
