"""Truthful CD health (issue 18, item 9): what the dashboard, the transfers page and the
notification mails say while recordings cannot be delivered.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from bodyworn.controller.app import create_app
from bodyworn.controller.events import CdState
from bodyworn.controller.health import service as health
from bodyworn.controller.notifications.sender import Notifier, SenderConfig
from bodyworn.controller.offload import service
from bodyworn.controller.offload.engine import OffloadEngine
from bodyworn.controller.outbox import service as outbox
from bodyworn.controller.system import service as system
from bodyworn.controller.users import service as users
from bodyworn.destination.swift import FaultRule
from tests.controller.conftest import login
from tests.controller.notifications.conftest import configure
from tests.controller.offload.conftest import BOTH_CDS, Rig
from tests.smtp_server import smtp_server

PUT = frozenset({"PUT"})
STEP = timedelta(seconds=2)  # the loop's interval between passes


def user_uuid(rig: Rig) -> str:
    with rig.ctx.factory() as session:
        return users.list_users(session)[0][0].uuid


def passes(rig: Rig, engine: OffloadEngine, n: int, each: object = None) -> list[str]:
    """`n` passes of the deliver loop, STEP apart; the controller's lamp after each."""
    colours: list[str] = []

    async def run() -> None:
        try:
            for i in range(n):
                if callable(each):
                    each(i)
                await engine.run_once()
                colours.append(health.build(rig.ctx).controllers[0]["lamp"].colour)
                rig.clock.advance(STEP)
        finally:
            await engine.aclose()

    asyncio.run(run())
    return colours


def one_recording_waiting(rig: Rig) -> None:
    cam = rig.camera()
    rig.record(cam, seconds=30)
    rig.dock(cam)


@BOTH_CDS
def test_the_dashboard_stays_red_through_503s_on_recordings_while_the_rest_succeeds(
        rig: Rig) -> None:
    one_recording_waiting(rig)
    engine = rig.new_engine(interval_s=2.0, probe_interval_s=10.0)
    rig.cd.faults.append(FaultRule(503, user_uuid(rig)))  # the recordings' path only
    nothing_due: list[bool] = []

    def meanwhile(i: int) -> None:
        if i % 10 == 5:  # users keep changing: their writes to the CD go through
            with rig.ctx.factory() as session, session.begin():
                users.create(session, rig.clock, name=f"Officer {i}", user_id=f"officer-{i}",
                             actor="test", source="test")
        with rig.ctx.factory() as session:
            nothing_due.append(not service.deliverable(session, rig.clock.now(), 1))

    colours = passes(rig, engine, 90, meanwhile)  # three minutes
    with rig.ctx.factory() as session:
        assert outbox.pending(session) == [], "users reached the CD all along"
    # Most passes had no recording due (it waits for the probe), and the lamp said the
    # truth in every one of them: the issue counted green in 18 of 27 such samples.
    assert sum(nothing_due) > 60
    assert colours == ["red"] * 90
    board = health.build(rig.ctx)
    assert [i.kind for i in board.issues] == ["cd_failed"]
    assert "HTTP 503" in board.issues[0].english()
    rig.cd.faults.clear()
    colours = passes(rig, engine, 8)  # 16 s: the next probe finds it back
    assert colours[-1] == "green" and health.build(rig.ctx).issues == []
    assert rig.ctx.health.cd.ok


@BOTH_CDS
def test_a_507_reads_out_of_storage_until_a_different_error_replaces_it(rig: Rig) -> None:
    one_recording_waiting(rig)
    engine = rig.new_engine(interval_s=2.0, probe_interval_s=10.0)
    rule = FaultRule(507, user_uuid(rig), methods=PUT)
    rig.cd.faults.append(rule)
    passes(rig, engine, 1)
    board = health.build(rig.ctx)
    lamp = board.controllers[0]["lamp"]
    assert (lamp.colour, lamp.said(str)) == ("red", "The content destination is out of storage")
    [issue] = board.issues
    assert issue.kind == "cd_out_of_storage" and issue.link == "/transfers"
    said = issue.english()
    assert said.startswith("Content destination is out of storage: ")
    assert "HTTP 507" in said and "Lost connection" not in said
    retry = rig.ctx.health.cd.retry_at
    assert retry is not None
    local = retry.astimezone(ZoneInfo("Europe/Stockholm"))
    assert said.endswith(f"(next try at {local:%H:%M %Z})")
    assert rig.ctx.health.cd_storage_full

    # The CD stops answering instead: the next probe says so, and nothing of the 507 stays.
    rig.cd.faults[:] = [FaultRule(503, user_uuid(rig))]
    passes(rig, engine, 6)
    [issue] = health.build(rig.ctx).issues
    assert issue.kind == "cd_failed"
    said = issue.english()
    assert said.startswith("Lost connection to content destination: ")
    assert "507" not in said and "storage" not in said
    assert rig.ctx.health.cd.state is CdState.LOST and rig.ctx.health.cd_storage_full is None
    with TestClient(create_app(rig.ctx), base_url="https://testserver") as client:
        login(client)
        assert client.get("/api/v1/transfers").json()["cd_storage_full"] is None
        assert 'id="cd-storage-full"' not in client.get("/transfers").text


@BOTH_CDS
def test_a_recording_waiting_for_a_retry_says_when_in_the_systems_zone_with_its_error(
        rig: Rig) -> None:
    one_recording_waiting(rig)
    engine = rig.new_engine(interval_s=2.0, probe_interval_s=10.0)
    rig.cd.faults.append(FaultRule(500, user_uuid(rig), methods=PUT))
    passes(rig, engine, 1)
    with rig.ctx.factory() as session:
        zone = system.current(session).timezone
    assert zone == "Europe/Stockholm"
    retry = rig.ctx.health.cd.retry_at
    assert retry is not None
    shown = f"{retry.astimezone(ZoneInfo(zone)):%H:%M %Z}"
    assert shown.endswith(" CET")  # November in Stockholm, not UTC
    with TestClient(create_app(rig.ctx), base_url="https://testserver") as client:
        login(client)
        page = client.get("/transfers").text
        state = re.search(r'class="recording-state">([^<]*)<', page)
        assert state is not None and state.group(1) == f"Waiting to retry at {shown}"
        assert "HTTP 500" in page and ">Delivering<" not in page
        [rec] = client.get("/api/v1/transfers").json()["cameras"][0]["recordings"]
        assert rec["state"] == "delivering" and rec["label"] == "Waiting to retry"
        assert rec["retry_at_local"] == shown and "HTTP 500" in rec["last_error"]
        assert rec["retry_at"].startswith(f"{retry:%Y-%m-%dT%H:%M}")  # UTC in the API
        with rig.ctx.factory() as session:
            [line] = service.pending_for_camera(session, "B8A44F000001", rig.clock.now())
        assert f"waiting to retry at {shown}; last error: " in line
        # Its time comes: due, no longer "waiting".
        rig.clock.advance(timedelta(seconds=11))
        [rec] = client.get("/api/v1/transfers").json()["cameras"][0]["recordings"]
        assert rec["label"] == "Delivering" and rec["retry_at"] is None


def test_a_fault_window_mails_once_when_it_starts_and_once_when_it_clears(rig: Rig) -> None:
    with rig.ctx.factory() as session, session.begin():
        system.enable_cloud(session, rig.clock, "eu-de", actor="root", source="test")
    notifier = Notifier(rig.ctx, config=SenderConfig(initial_s=60, maximum_s=600))
    notifier.subscribe()
    one_recording_waiting(rig)
    engine = rig.new_engine(interval_s=2.0, probe_interval_s=10.0)
    try:
        with smtp_server() as smtp:
            configure(rig.ctx, smtp)
            # A window of every kind of trouble on the recordings' path, while users
            # and categories go through and the recording mostly waits for its probe.
            for rule in (FaultRule(503, user_uuid(rig)), FaultRule(500, user_uuid(rig))):
                rig.cd.faults[:] = [rule]
                passes(rig, engine, 45, lambda i: None)
                asyncio.run(notifier.run_once())
            rig.cd.faults.clear()
            passes(rig, engine, 10)
            asyncio.run(notifier.run_once())
            subjects = [r.message["Subject"].split("] ", 1)[1] for r in smtp.received]
    finally:
        notifier.unsubscribe()
    assert subjects == ["Lost connection to content destination",
                        "Connection to content destination restored"]
    assert rig.ctx.health.cd.ok
