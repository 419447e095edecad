"""System binding: System/<SystemID> written at the first pass, checked at every start;
a CD that holds this system under another ConnectionId gets nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bodyworn.cdclient.capabilities import READ_CATEGORIES, STORE_BOOKMARKS
from bodyworn.controller.audit.models import AuditEntry
from bodyworn.controller.health import service as health
from bodyworn.controller.integrity import service as integrity
from bodyworn.controller.integrity.models import IntegrityState
from bodyworn.destination.publish import put_json
from bodyworn.destination.swift import CDMode
from bodyworn.evidence.metadata import encode_value
from bodyworn.evidence.signing import common_name, load_pem_chain
from tests.cd_server import loopback_socket, serving
from tests.controller.integrity.conftest import IntegrityRig, make_rig


async def _body(data: bytes):  # type: ignore[no-untyped-def]
    yield data


def _store_system_object(rig: IntegrityRig, connection_id: str) -> None:
    store = rig.cd.store
    store.put_container(rig.cd_account, "System", {})
    asyncio.run(store.put_object(
        rig.cd_account, "System", rig.system_id(), _body(b""),
        metadata={"Connectionid": encode_value(connection_id), "Systemname": "Elsewhere"},
        content_type="application/octet-stream", expect_md5=None))


def _issues(rig: IntegrityRig) -> dict[str, str]:
    return {i.kind: i.message for i in health.build(rig.ctx).issues}


def test_the_first_pass_binds_the_system_with_its_certificate(irig: IntegrityRig) -> None:
    irig.deliver(passes=1)
    obj = irig.cd.store.get_object(irig.cd_account, "System", irig.system_id())
    with irig.ctx.factory() as session:
        row = session.get(IntegrityState, 1)
        assert row is not None and row.bound_at is not None
        entries = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "integrity.binding")).all()
    assert obj.metadata["Connectionid"] == row.connection_id
    assert obj.metadata["Systemname"] == encode_value("North precinct")
    assert common_name(load_pem_chain(obj.path.read_bytes())[0]) == irig.system_id()
    assert len(entries) == 1 and entries[0].outcome == "success"
    assert integrity.binding(irig.ctx).state is integrity.BindingState.BOUND
    assert not {"cd_binding_refused", "cd_binding_unsupported"} & set(_issues(irig))
    # A restart (a new engine, a new client) checks it again and finds it as written.
    irig.new_engine()
    irig.deliver(passes=1)
    assert integrity.binding(irig.ctx).state is integrity.BindingState.BOUND


def test_a_cd_holding_the_system_under_another_connection_gets_nothing(
        irig: IntegrityRig) -> None:
    _store_system_object(irig, "a-connection-of-another-controller")
    cam = irig.certified_camera()
    irig.record(cam)
    irig.dock(cam)
    irig.deliver()
    store = irig.cd.store
    assert irig.recordings() == []
    for folder in ("Users", "Devices"):
        assert not store.container_exists(irig.cd_account, folder) or \
            store.list_objects(irig.cd_account, folder) == []
    issues = _issues(irig)
    assert "another connection" in issues["cd_binding_refused"]
    assert "a-connection-of-another-controller" in issues["cd_binding_refused"]
    # The early uploads of clips still arriving are held back too.
    assert not integrity.delivery_allowed(irig.ctx)
    with irig.ctx.factory() as session:
        denied = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "integrity.binding", AuditEntry.outcome == "denied")).all()
    assert len(denied) == 1
    # Once the CD's administrator removes the stale binding, deliveries go on.
    for obj in store.list_objects(irig.cd_account, "System"):
        if obj.name == irig.system_id():
            obj.path.unlink()
            (obj.path.parent / (obj.path.name.rsplit("-", 1)[0] + ".json")).unlink()
    irig.clock.advance(timedelta(minutes=2))
    irig.deliver()
    assert len(irig.recordings()) == 1
    assert "cd_binding_refused" not in _issues(irig)


def test_a_cd_without_the_capability_is_skipped_with_the_reason_shown(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, capabilities={"Read": [READ_CATEGORIES], "Store": [STORE_BOOKMARKS]})
    try:
        cam = rig.certified_camera()
        rig.record(cam)
        rig.dock(cam)
        rig.deliver()
        assert len(rig.recordings()) == 1
        assert not rig.cd.store.container_exists(rig.cd_account, "System") or all(
            o.name.endswith(".json") for o in rig.cd.store.list_objects(rig.cd_account, "System"))
        message = _issues(rig)["cd_binding_unsupported"]
        assert "StoreReadSystemID" in message
    finally:
        for _, server in rig.stations:
            server.stop()
        rig.ctx.engine.dispose()


def test_the_reference_like_cd_binds_too(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, mode=CDMode.REFERENCE)
    try:
        rig.deliver(passes=1)
        assert integrity.binding(rig.ctx).state is integrity.BindingState.BOUND
        # It answers HEAD without an ETag: checked by its ConnectionId alone.
        rig.new_engine()
        rig.deliver(passes=1)
        obj = rig.cd.store.get_object(rig.cd_account, "System", rig.system_id())
        with rig.ctx.factory() as session:
            row = session.get(IntegrityState, 1)
            assert row is not None
        assert obj.metadata["Connectionid"] == row.connection_id
    finally:
        rig.ctx.engine.dispose()


def test_recheck_binding_is_callable_from_a_restore_path(irig: IntegrityRig) -> None:
    found = integrity.recheck_binding(irig.ctx, irig.cd_client)
    assert found.state is integrity.BindingState.BOUND
    _store_system_object(irig, "someone-else")
    again = integrity.recheck_binding(irig.ctx, irig.cd_client)
    assert again.state is integrity.BindingState.REFUSED
    assert not integrity.delivery_allowed(irig.ctx)


def test_recheck_binding_asks_the_cd_the_connection_file_names(tmp_path: Path) -> None:
    # As a restore path calls it: no client given, on a thread without an event loop.
    sock = loopback_socket()
    rig = make_rig(tmp_path, base=f"http://127.0.0.1:{sock.getsockname()[1]}")
    try:
        with serving(rig.cd.app, sock):
            assert integrity.recheck_binding(rig.ctx).state is integrity.BindingState.BOUND
            _store_system_object(rig, "the-connection-of-a-restored-copy-elsewhere")
            again = integrity.recheck_binding(rig.ctx)
        assert again.state is integrity.BindingState.REFUSED
        assert "another connection" in _issues(rig)["cd_binding_refused"]
    finally:
        rig.ctx.engine.dispose()


def test_a_renamed_system_is_renamed_at_the_cd_at_the_next_check(irig: IntegrityRig) -> None:
    irig.deliver(passes=1)
    from bodyworn.controller.setup.models import SystemSettings

    with irig.ctx.factory() as session, session.begin():
        row = session.get(SystemSettings, 1)
        assert row is not None
        row.system_name = "South precinct"
    integrity.recheck_binding(irig.ctx, irig.cd_client)
    obj = irig.cd.store.get_object(irig.cd_account, "System", irig.system_id())
    assert obj.metadata["Systemname"] == encode_value("South precinct")


def test_capabilities_json_is_not_taken_for_a_binding(irig: IntegrityRig) -> None:
    asyncio.run(put_json(irig.cd.store, irig.cd_account, "Other.json", {"x": 1}))
    irig.deliver(passes=1)
    assert integrity.binding(irig.ctx).state is integrity.BindingState.BOUND


def test_a_binding_without_the_certificate_gets_it(irig: IntegrityRig) -> None:
    irig.deliver(passes=1)
    with irig.ctx.factory() as session:
        row = session.get(IntegrityState, 1)
        assert row is not None
        connection_id = row.connection_id
    _store_system_object(irig, connection_id)  # as written before systems kept certificates
    assert integrity.recheck_binding(irig.ctx, irig.cd_client).state is \
        integrity.BindingState.BOUND
    obj = irig.cd.store.get_object(irig.cd_account, "System", irig.system_id())
    assert common_name(load_pem_chain(obj.path.read_bytes())[0]) == irig.system_id()
    assert obj.metadata["Connectionid"] == connection_id
