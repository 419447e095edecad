"""/metrics: Prometheus text, from the database (right after a restart) and from events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bodyworn.controller.app import build_context, create_app
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.events import CameraDocked, CameraUndocked, CdRequestFailed, StorageLow
from bodyworn.controller.metrics import service as metrics
from bodyworn.controller.offload import service as offload
from bodyworn.controller.offload.engine import OffloadEngine
from bodyworn.controller.tokens import service as tokens
from tests.controller.conftest import login
from tests.controller.offload.conftest import Rig, rig  # noqa: F401 (the fixture)


def token(ctx: ControllerContext, access: str = "read") -> str:
    with ctx.factory() as session, session.begin():
        return tokens.create(session, ctx.clock, f"prometheus {access}", access, actor="root",
                             source="test")[1]


def scrape(client: TestClient, value: str) -> dict[str, float]:
    r = client.get("/metrics", headers={"Authorization": f"Bearer {value}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=")
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


def test_metrics_are_never_open_without_a_token_or_a_session(
        logged_in: tuple[TestClient, str], ctx: ControllerContext) -> None:
    client, _ = logged_in
    anonymous = TestClient(client.app, base_url="https://testserver")
    r = anonymous.get("/metrics")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert anonymous.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/metrics").status_code == 200  # a logged-in administrator may look
    assert "bodyworn_clips_ingested_total 0.0" in anonymous.get(
        "/metrics", headers={"Authorization": f"Bearer {token(ctx)}"}).text


def test_transfers_are_counted_from_the_database_through_restarts_and_pruning(
        rig: Rig) -> None:  # noqa: F811
    cam = rig.camera()
    rig.record(cam, seconds=90)
    rig.dock(cam)
    rows = rig.clip_rows()
    clips, size = len(rows), sum(r.size for r in rows)
    assert clips >= 3
    value = token(rig.ctx)
    with TestClient(create_app(rig.ctx), base_url="https://testserver") as client:
        before = scrape(client, value)
    assert before["bodyworn_clips_ingested_total"] == clips
    assert before["bodyworn_ingested_bytes_total"] == size
    assert before["bodyworn_offload_queue_clips"] == clips
    assert before["bodyworn_offload_queue_bytes"] == size
    assert before["bodyworn_offload_queue_recordings"] == 1
    assert before["bodyworn_clips_delivered_total{outcome=at_cd}"] == 0
    rig.clock.advance(timedelta(minutes=5))
    with TestClient(create_app(rig.ctx), base_url="https://testserver") as client:
        waiting = scrape(client, value)
    assert waiting["bodyworn_oldest_pending_evidence_age_seconds"] == 300

    rig.deliver()
    again = build_context(rig.ctx.settings, clock=rig.clock)  # a restarted controller
    try:
        with TestClient(create_app(again), base_url="https://testserver") as client:
            after = scrape(client, value)
        assert after["bodyworn_clips_ingested_total"] == clips
        assert after["bodyworn_clips_delivered_total{outcome=at_cd}"] == clips
        assert after["bodyworn_delivered_bytes_total{outcome=at_cd}"] == size
        assert after["bodyworn_offload_queue_clips"] == 0
        assert after["bodyworn_oldest_pending_evidence_age_seconds"] == 0
        # Three days later the history is pruned: the counters keep what it counted.
        rig.clock.advance(timedelta(days=4))
        # The app's engine prunes with metrics' retire (app.py wires it; offload/ does not
        # import metrics/): pruned here the same way.
        assert isinstance(again.offload, OffloadEngine)
        assert again.offload.before_prune is metrics.retire
        with again.factory() as session, session.begin():
            assert offload.prune(session, rig.clock.now(), again.offload.before_prune) == 1
        assert rig.clip_rows() == []
        with TestClient(create_app(again), base_url="https://testserver") as client:
            pruned = scrape(client, value)
        for name in ("bodyworn_clips_ingested_total", "bodyworn_ingested_bytes_total",
                     "bodyworn_clips_delivered_total{outcome=at_cd}",
                     "bodyworn_delivered_bytes_total{outcome=at_cd}"):
            assert pruned[name] == after[name], name
    finally:
        again.engine.dispose()


def test_failed_logins_dock_events_cd_errors_and_problems(
        ready: TestClient, ctx: ControllerContext) -> None:
    for _ in range(3):
        r = ready.post("/api/v1/session", json={"username": "root", "password": "wrong!"})
        assert r.status_code == 401
    ready.post("/api/v1/session", json={"username": "nobody", "password": "wrong!"})
    now = ctx.clock.now()
    for event in (CameraDocked("B8A44F000001", "S1", 1), CameraDocked("B8A44F000002", "S1", 2),
                  CameraUndocked("B8A44F000001", "S1", 1), CdRequestFailed(503),
                  CdRequestFailed(503), CdRequestFailed(None), StorageLow(True, 0.02, now)):
        ctx.events.publish(event)
    ready.app.state.notifier.record_events()  # type: ignore[attr-defined]
    got = scrape(ready, token(ctx))
    assert got["bodyworn_logins_failed_total"] == 4
    assert got["bodyworn_dock_events_total{event=docked}"] == 2
    assert got["bodyworn_dock_events_total{event=undocked}"] == 1
    assert got["bodyworn_cd_errors_total{status=503}"] == 2
    assert got["bodyworn_cd_errors_total{status=none}"] == 1
    assert got["bodyworn_problem_active{problem=storage}"] == 1


@pytest.mark.parametrize("access", ["read", "read-write"])
def test_either_kind_of_token_reads_the_metrics(ready: TestClient, ctx: ControllerContext,
                                                access: str) -> None:
    assert "bodyworn_logins_failed_total" in scrape(ready, token(ctx, access))


def test_a_page_session_reads_metrics(logged_in: tuple[TestClient, str]) -> None:
    client, _ = logged_in
    login(client)
    assert "bodyworn_mail_queue_waiting" in client.get("/metrics").text
