"""Audit anchors at the CD: written as the log grows, never overwritten, and compared."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select
from typer.testing import CliRunner

from bodyworn.cli import app
from bodyworn.controller.audit.models import AuditEntry
from bodyworn.controller.audit.service import entry_digest, record, verify_chain
from bodyworn.controller.health import service as health
from bodyworn.controller.integrity import service as integrity
from bodyworn.evidence.anchors import anchor_object_name, parse_anchor_body
from tests.cd_server import loopback_socket, serving
from tests.controller.integrity.conftest import IntegrityRig, make_rig

runner = CliRunner()


def _activity(rig: IntegrityRig, n: int = 3) -> None:
    with rig.ctx.factory() as session, session.begin():
        for i in range(n):
            record(session, rig.clock, actor="root", action="test.action", detail=f"step {i}")


def _anchor(rig: IntegrityRig) -> integrity.AnchorStatus:
    async def go(cd):  # type: ignore[no-untyped-def]
        await integrity.ensure_bound(rig.ctx, cd)
        return await integrity.anchor_if_due(rig.ctx, cd, every=timedelta(0))

    return rig.run(go)  # type: ignore[return-value]


def _verify(rig: IntegrityRig) -> integrity.AnchorReport:
    async def go(cd):  # type: ignore[no-untyped-def]
        with rig.ctx.factory() as session:
            return await integrity.verify_anchors(session, cd)

    return rig.run(go)  # type: ignore[return-value]


def _count(rig: IntegrityRig) -> int:
    with rig.ctx.factory() as session:
        return len(session.scalars(select(AuditEntry.id)).all())


def test_anchors_carry_every_entry_and_chain_to_each_other(irig: IntegrityRig) -> None:
    _activity(irig)
    first = _anchor(irig)
    assert first.last_seq == 1 and first.last_entry == _count(irig)
    body = irig.cd.store.get_object(irig.cd_account, "System",
                                    anchor_object_name(irig.system_id(), 1)).path.read_bytes()
    stored = parse_anchor_body(body)
    assert [e.id for e in stored.entries] == list(range(1, _count(irig) + 1))
    _activity(irig, 2)
    second = _anchor(irig)
    assert second.last_seq == 2
    report = _verify(irig)
    assert report.ok and report.anchors == 2 and report.entries == second.last_entry
    # Nothing new: no empty anchor.
    assert _anchor(irig).last_seq == 2


def test_the_deliver_loop_anchors_after_deliveries(irig: IntegrityRig) -> None:
    cam = irig.certified_camera()
    irig.record(cam)
    irig.dock(cam)
    irig.deliver()
    names = [o.name for o in irig.cd.store.list_objects(irig.cd_account, "System")]
    assert anchor_object_name(irig.system_id(), 1) in names
    assert _verify(irig).ok


def test_a_rewritten_log_disagrees_with_the_anchors(irig: IntegrityRig) -> None:
    _activity(irig, 4)
    _anchor(irig)
    # Someone with the database rewrites an entry and re-chains everything after it: the
    # chain holds locally, but not against what the CD was given.
    db = irig.ctx.data_dir / "bodyworn.db"
    irig.ctx.engine.dispose()
    con = sqlite3.connect(db)
    con.execute("DROP TRIGGER audit_entry_no_update")
    rows = con.execute("SELECT id, at, actor, action, detail, source, outcome FROM audit_entry"
                       " ORDER BY id").fetchall()
    prev = "0" * 64
    with irig.ctx.factory() as session:
        times = {e.id: e.at for e in session.scalars(select(AuditEntry))}
    for row_id, _at, actor, action, detail, source, outcome in rows:
        if detail == "step 2":
            detail = "nothing happened"
        digest = entry_digest(prev, times[row_id], actor, action, detail, source, outcome)
        con.execute("UPDATE audit_entry SET detail = ?, prev_hash = ?, entry_hash = ?"
                    " WHERE id = ?", (detail, prev, digest, row_id))
        prev = digest
    con.commit()
    con.close()
    with irig.ctx.factory() as session:
        assert verify_chain(session).ok
    report = _verify(irig)
    assert not report.ok
    assert "differs from the one anchored" in report.problems[0]


def test_a_restored_database_is_caught_and_anchoring_stops(irig: IntegrityRig) -> None:
    _activity(irig, 2)
    _anchor(irig)
    db = irig.ctx.data_dir / "bodyworn.db"
    irig.ctx.engine.dispose()
    shutil.copy(db, irig.tmp / "backup.db")
    _activity(irig, 3)
    _anchor(irig)
    # The database is put back as it was (the later entries are gone)...
    irig.ctx.engine.dispose()
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copy(irig.tmp / "backup.db", db)
    report = _verify(irig)
    assert not report.ok and "not in this database" in report.problems[0]
    # ... and new entries would make an anchor 2 unlike the one the CD holds: refused.
    _activity(irig, 1)
    status = _anchor(irig)
    assert "audit anchor 2" in status.conflict
    issues = {i.kind: i.message for i in health.build(irig.ctx).issues}
    assert "audit_anchor_conflict" in issues
    stored = parse_anchor_body(irig.cd.store.get_object(
        irig.cd_account, "System", anchor_object_name(irig.system_id(), 2)).path.read_bytes())
    assert len(stored.entries) == 3  # the CD kept the anchor it was first given


def test_the_embedded_cd_never_overwrites_an_anchor(irig: IntegrityRig) -> None:
    _activity(irig)
    _anchor(irig)
    name = anchor_object_name(irig.system_id(), 1)
    original = irig.cd.store.get_object(irig.cd_account, "System", name).path.read_bytes()

    async def put(cd, body: bytes, once: bool) -> int:  # type: ignore[no-untyped-def]
        await cd.authenticate()
        token, storage = await cd._session()
        headers = {"X-Auth-Token": token}
        if once:
            headers["If-None-Match"] = "*"
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=irig.cd.app)) as http:
            r = await http.put(f"{storage}/System/{name}", content=body, headers=headers)
        return r.status_code

    assert irig.run(lambda cd: put(cd, b"forged", False)) == 409
    assert irig.run(lambda cd: put(cd, b"forged", True)) == 412
    assert irig.run(lambda cd: put(cd, original, False)) == 201
    assert irig.cd.store.get_object(irig.cd_account, "System", name).path.read_bytes() == original


def test_audit_verify_compares_with_the_cd(tmp_path: Path) -> None:
    sock = loopback_socket()
    rig = make_rig(tmp_path, base=f"http://127.0.0.1:{sock.getsockname()[1]}")
    try:
        with serving(rig.cd.app, sock):
            _activity(rig)
            _anchor(rig)
            rig.ctx.engine.dispose()
            data = str(rig.ctx.data_dir)
            result = runner.invoke(app, ["audit", "verify", "--data-dir", data])
            assert result.exit_code == 0, result.output
            assert "1 anchors" in result.output and "all as in this log" in result.output
            no_cd = runner.invoke(app, ["audit", "verify", "--no-cd", "--data-dir", data])
            assert no_cd.exit_code == 0 and "anchors" not in no_cd.output
            # The newest entry removed behind the log's back: the CD still has it.
            con = sqlite3.connect(rig.ctx.data_dir / "bodyworn.db")
            con.execute("DROP TRIGGER audit_entry_no_delete")
            con.execute("DELETE FROM audit_entry WHERE id = (SELECT max(id) FROM audit_entry)")
            con.commit()
            con.close()
            broken = runner.invoke(app, ["audit", "verify", "--data-dir", data])
            assert broken.exit_code == 1
            assert "DISAGREE" in broken.output and "not in this database" in broken.output
    finally:
        rig.ctx.engine.dispose()


def test_no_anchors_where_the_cd_does_not_keep_them(tmp_path: Path) -> None:
    from bodyworn.cdclient.capabilities import READ_CATEGORIES, STORE_READ_SYSTEM_ID

    rig = make_rig(tmp_path, capabilities={"Read": [READ_CATEGORIES],
                                           "StoreAndRead": [STORE_READ_SYSTEM_ID]})
    try:
        _activity(rig)
        status = _anchor(rig)
        assert not status.kept
        names = [o.name for o in rig.cd.store.list_objects(rig.cd_account, "System")]
        assert not any(".audit." in n for n in names)
        assert _verify(rig).kept is False
    finally:
        rig.ctx.engine.dispose()


def test_anchoring_waits_between_anchors(irig: IntegrityRig) -> None:
    _activity(irig)
    _anchor(irig)
    _activity(irig)

    async def due(cd):  # type: ignore[no-untyped-def]
        return await integrity.anchor_if_due(irig.ctx, cd)

    assert irig.run(due).last_seq == 1  # type: ignore[attr-defined]
    irig.clock.advance(integrity.ANCHOR_EVERY)
    assert irig.run(due).last_seq == 2  # type: ignore[attr-defined]
    assert asyncio.iscoroutinefunction(integrity.anchor_if_due)
