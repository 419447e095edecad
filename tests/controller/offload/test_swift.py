"""Offload into a real OpenStack Swift: every clip once, byte-identical, then Complete."""

from __future__ import annotations

import hashlib

import httpx

from bodyworn.cdclient.client import CDClient
from bodyworn.cdclient.config import CDConnection
from tests.controller.offload.conftest import FAST, Rig, camera_clips
from tests.swift_saio import SwiftInstance


def test_two_cameras_offload_into_real_swift(rig: Rig, offload_swift: SwiftInstance) -> None:
    user, key = offload_swift.account("bwoffload")
    conn = CDConnection(uris=(offload_swift.auth_url,), user=user, key=key)
    rig.new_engine(cd_factory=lambda: CDClient(conn, retry=FAST, clock=rig.clock))
    cams = [rig.camera("B8A44F000011"), rig.camera("B8A44F000012")]
    originals: dict[str, str] = {}
    for cam in cams:
        rig.record(cam, seconds=50)
        originals |= camera_clips(cam)
        rig.dock(cam)
    rig.deliver()
    auth = httpx.get(offload_swift.auth_url, headers={"X-Auth-User": user, "X-Auth-Key": key})
    token, storage = auth.headers["X-Auth-Token"], auth.headers["X-Storage-Url"]
    with httpx.Client(headers={"X-Auth-Token": token}) as http:
        containers = http.get(storage, params={"format": "json"}).json()
        found: list[str] = []
        for c in containers:
            name = c["name"]
            if name in ("Users", "Devices", "System"):
                continue
            assert http.head(f"{storage}/{name}").headers["X-Container-Meta-Status"] == "Complete"
            for obj in http.get(f"{storage}/{name}", params={"format": "json"}).json():
                if obj["name"].endswith(".mkv"):
                    body = http.get(f"{storage}/{name}/{obj['name']}").content
                    found.append(hashlib.sha256(body).hexdigest())
        users = http.get(f"{storage}/Users", params={"format": "json"}).json()
        devices = http.get(f"{storage}/Devices", params={"format": "json"}).json()
    assert sorted(found) == sorted(originals.values())
    assert len(users) == 1 and {d["name"] for d in devices} == {c.serial for c in cams}
    assert all(r.spool_removed_at for r in rig.clip_rows())
    # Swift's ETags confirmed every clip.
    assert all(r.cd_verified is True for r in rig.clip_rows())
