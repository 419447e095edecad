"""The transfer page, its API twin and the download of what the CD can never take."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bodyworn.controller.app import create_app
from bodyworn.controller.display import size
from bodyworn.destination.swift import CDMode, FaultRule
from tests.controller.conftest import login
from tests.controller.offload.conftest import BOTH_CDS, Rig, camera_clips
from tests.controller.visible import visible_text


def test_transfers_page_and_api_show_where_each_clip_is(rig: Rig) -> None:
    cam = rig.camera()
    rig.deliver()
    rig.cd.faults.append(FaultRule(400, "", methods=frozenset({"PUT"})))
    rig.record(cam)
    clips = camera_clips(cam)
    rig.dock(cam)
    rig.deliver()
    with TestClient(create_app(rig.ctx), base_url="https://testserver") as client:
        assert client.get("/api/v1/transfers").status_code == 401
        login(client)
        page = client.get("/transfers")
        assert page.status_code == 200
        assert cam.serial in page.text and "Not transferred" in page.text
        data = client.get("/api/v1/transfers").json()
        recs = data["cameras"][0]["recordings"]
        assert recs[0]["state"] == "not_transferred"
        # Whose and when, how big and how far, as the page shows it.
        on_disk = sum(rig.engine.spool.path(cam.serial, n).stat().st_size for n in clips)
        assert recs[0]["size"] == on_disk and recs[0]["progress"] == 100
        assert recs[0]["started_at"] and recs[0]["user_ref"] == cam.user_id
        text = visible_text(page.text)
        assert size(on_disk) in text and " CET" in text and "Officer Seventeen" in text
        assert f"0 of {len(clips)} clip" in text
        views = recs[0]["clips"]
        assert {c["name"] for c in views} == set(clips)
        assert all(c["downloadable"] and not c["on_camera"] and c["in_controller"]
                   for c in views)
        first = views[0]
        got = client.get(f"/transfers/clips/{first['id']}/download")
        assert got.status_code == 200
        assert rig.engine is not None
        assert got.content == rig.engine.spool.path(cam.serial, first["name"]).read_bytes()
        assert client.get("/transfers/clips/999999/download").status_code == 404
        assert client.get("/api/v1/transfers", params={"camera": "nope"}).json()["cameras"] == []


@BOTH_CDS
def test_clips_the_cd_stored_without_an_etag_are_shown_unverified(rig: Rig) -> None:
    cam = rig.camera()
    rig.record(cam)
    rig.dock(cam)
    rig.deliver()
    reference = rig.cd.mode is CDMode.REFERENCE
    with TestClient(create_app(rig.ctx), base_url="https://testserver") as client:
        login(client)
        clips = client.get("/api/v1/transfers").json()["cameras"][0]["recordings"][0]["clips"]
        assert clips and all(c["at_cd"] for c in clips)
        assert [c["cd_verified"] for c in clips] == [not reference] * len(clips)
        page = client.get("/transfers").text
        assert ("unverified by the CD" in page) is reference
