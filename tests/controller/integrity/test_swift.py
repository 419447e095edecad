"""Integrity against a real OpenStack Swift: plain (no capabilities: binding skipped with the
reason shown) and with FullStoreAndReadSupport (binding, signatures, write-once anchors)."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx

from bodyworn.cdclient.client import CDClient
from bodyworn.cdclient.config import CDConnection
from bodyworn.controller.audit.service import record
from bodyworn.controller.health import service as health
from bodyworn.controller.integrity import service as integrity
from bodyworn.evidence.anchors import anchor_object_name
from bodyworn.evidence.metadata import parse_metadata
from bodyworn.evidence.signing import load_pem_chain
from bodyworn.evidence.verify import Material, RecordingMaterial, Verdict, check_recording
from tests.controller.integrity.conftest import IntegrityRig
from tests.controller.offload.conftest import FAST
from tests.swift_saio import SwiftInstance


def _on_swift(rig: IntegrityRig, swift: SwiftInstance, *, full: bool) -> CDConnection:
    user, key = swift.account("bwoffload")
    conn = CDConnection(uris=(swift.auth_url,), user=user, key=key, full_store_and_read=full)
    rig.new_engine(cd_factory=lambda: CDClient(conn, retry=FAST, clock=rig.clock))
    return conn


class Http:
    """A plain Swift client for looking at what the controller stored."""

    def __init__(self, swift: SwiftInstance) -> None:
        user, key = swift.account("bwoffload")
        auth = httpx.get(swift.auth_url, headers={"X-Auth-User": user, "X-Auth-Key": key})
        self.storage = auth.headers["X-Storage-Url"]
        self.http = httpx.Client(headers={"X-Auth-Token": auth.headers["X-Auth-Token"]})

    def names(self, container: str) -> list[str]:
        r = self.http.get(f"{self.storage}/{container}", params={"format": "json"})
        return [o["name"] for o in r.json()] if r.status_code == 200 else []

    def containers(self) -> list[str]:
        return [c["name"] for c in self.http.get(self.storage, params={"format": "json"}).json()]

    def get(self, container: str, name: str) -> httpx.Response:
        return self.http.get(f"{self.storage}/{container}/{name}")

    def material(self, container: str) -> RecordingMaterial:
        head = self.http.head(f"{self.storage}/{container}")
        objects: dict[str, Material] = {}
        for name in self.names(container):
            r = self.get(container, name)
            body = r.content
            objects[name] = Material(
                name, parse_metadata("object", r.headers.multi_items()),
                lambda b=body: hashlib.sha256(b).hexdigest(), lambda b=body: b,
                lambda b=body: len(b))
        users = {}
        for uuid in self.names("Users"):
            meta = parse_metadata("object", self.http.head(
                f"{self.storage}/Users/{uuid}").headers.multi_items())
            users[uuid] = meta.get("Userid", "")
        return RecordingMaterial(container, parse_metadata(
            "container", head.headers.multi_items()), objects, users)


def _recording_container(http: Http) -> str:
    [container] = [c for c in http.containers() if c not in ("System", "Users", "Devices")]
    return container


def test_plain_swift_skips_the_binding_and_says_why(
        irig: IntegrityRig, offload_swift: SwiftInstance) -> None:
    _on_swift(irig, offload_swift, full=False)
    http = Http(offload_swift)
    before = set(http.containers())
    cam = irig.certified_camera("B8A44F000031")
    irig.record(cam, seconds=50)
    irig.dock(cam)
    irig.deliver()
    issues = {i.kind: i.message for i in health.build(irig.ctx).issues}
    assert "StoreReadSystemID" in issues["cd_binding_unsupported"]
    assert "missing" in issues["cd_binding_unsupported"]  # no System/Capabilities.json
    [container] = [c for c in set(http.containers()) - before
                   if c not in ("System", "Users", "Devices")]
    names = http.names(container)
    assert any(n.endswith(".mkv") for n in names)
    # No StoreSignedVideo: the spec's objects only.
    assert not any(n.endswith(("_signatures.json", ".sig")) for n in names)
    assert irig.system_id() not in http.names("System")


def test_swift_with_full_support_keeps_binding_signatures_and_anchors(
        irig: IntegrityRig, offload_swift: SwiftInstance) -> None:
    conn = _on_swift(irig, offload_swift, full=True)
    http = Http(offload_swift)
    before = set(http.containers())
    cam = irig.certified_camera("B8A44F000032")
    irig.record(cam, seconds=50)
    irig.dock(cam)
    irig.deliver()
    assert integrity.binding(irig.ctx).state is integrity.BindingState.BOUND
    system = http.get("System", irig.system_id())
    assert system.headers["X-Object-Meta-Connectionid"]
    root = load_pem_chain(system.content)[0]
    [container] = [c for c in set(http.containers()) - before
                   if c not in ("System", "Users", "Devices")]
    found = check_recording(http.material(container), {irig.system_id(): root})
    assert {f.verdict for f in found.clips.values()} == {Verdict.VALID}
    assert found.ok and found.recording.verdict is Verdict.VALID, found.all()

    async def anchored(cd: CDClient) -> Any:
        with irig.ctx.factory() as session, session.begin():
            record(session, irig.clock, actor="root", action="test", detail="after delivery")
        await integrity.ensure_bound(irig.ctx, cd)
        status = await integrity.anchor_if_due(irig.ctx, cd, every=timedelta(0))
        name = anchor_object_name(irig.system_id(), 1)
        # Swift honours If-None-Match: *: an anchor cannot be replaced by the same route.
        again = await cd.put_system_object_once(name, b"{}", {}, "application/json")
        with irig.ctx.factory() as session:
            report = await integrity.verify_anchors(session, cd)
        return status, again, report

    async def run() -> Any:
        async with CDClient(replace(conn), retry=FAST, clock=irig.clock) as cd:
            return await anchored(cd)

    status, again, report = asyncio.run(run())
    assert status.last_seq >= 2 and again == "different"
    assert report.ok and report.anchors == status.last_seq


def test_swift_holding_the_system_under_another_connection_gets_nothing(
        irig: IntegrityRig, offload_swift: SwiftInstance) -> None:
    conn = _on_swift(irig, offload_swift, full=True)
    http = Http(offload_swift)
    http.http.put(f"{http.storage}/System")
    put = http.http.put(f"{http.storage}/System/{irig.system_id()}", content=b"",
                        headers={"X-Object-Meta-Connectionid": "someone-else"})
    assert put.status_code == 201
    before = set(http.containers()) | {c for c in ("Users", "Devices")}
    devices_before = set(http.names("Devices"))
    cam = irig.certified_camera("B8A44F000033")
    irig.record(cam, seconds=50)
    irig.dock(cam)
    irig.deliver()
    assert set(http.containers()) - before == set()
    assert set(http.names("Devices")) == devices_before
    issues = {i.kind: i.message for i in health.build(irig.ctx).issues}
    assert "someone-else" in issues["cd_binding_refused"]
    assert conn.full_store_and_read
