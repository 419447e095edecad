"""The conformance battery: passes against good CDs, names the failing check otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import av
import httpx
import pytest
from rich.console import Console

from bodyworn.cdclient import CDConnection, RetryPolicy
from bodyworn.cdclient.capabilities import DEFAULT_CATEGORIES, KNOWN_CAPABILITIES
from bodyworn.cdclient.conformance import (
    conformance_main,
    render_table,
    run_conformance,
    tiny_clip,
)
from bodyworn.destination.publish import publish_capabilities, publish_categories
from bodyworn.destination.store import ObjectStore
from bodyworn.destination.swift import FaultRule, SwiftAccount, SwiftApp

from .conftest import SwiftInstance
from .factories import closed_port, make_rsa

FAST = RetryPolicy(attempts=2, timeout=10, wait_initial=0.01, wait_max=0.02, wait_jitter=0)
CONN = CDConnection(uris=("http://cd.test/auth/v1.0",), user="bw", key="secret")


async def embedded(tmp_path: Path, **kw: object) -> SwiftApp:
    app = SwiftApp(ObjectStore(tmp_path / "data"), [SwiftAccount("bw", "secret", "bw")], **kw)  # type: ignore[arg-type]
    await publish_capabilities(app.store, "bw", {"Store": list(KNOWN_CAPABILITIES)})
    await publish_categories(app.store, "bw", DEFAULT_CATEGORIES)
    return app


def statuses(report: object) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}  # type: ignore[attr-defined]


def test_tiny_clips_are_real_video(tmp_path: Path) -> None:
    for ctype in ("mkv", "mp4"):
        path = tmp_path / f"c.{ctype}"
        tiny_clip(path, ctype, frames=5)
        with av.open(str(path)) as f:
            assert sum(1 for _ in f.decode(video=0)) == 5


async def test_embedded_cd_passes_everything(tmp_path: Path) -> None:
    app = await embedded(tmp_path)
    keys = make_rsa()
    conn = CDConnection(
        uris=CONN.uris,
        user="bw",
        key="secret",
        want_encryption=True,
        public_key_pem=keys.public_pem,
        public_key_id="k",
    )
    sent: list[int] = []
    report = await run_conformance(
        conn,
        tmp_path / "work",
        retry=FAST,
        transport=httpx.ASGITransport(app=app.app),
        on_clip_bytes=sent.append,
    )
    assert report.ok, report.to_json()
    assert set(statuses(report).values()) == {"pass"}
    assert sum(sent) > 0
    console = Console(record=True, width=200)
    console.print(render_table(report))
    assert "rejected-content" in console.export_text()


async def test_faults_are_named(tmp_path: Path) -> None:
    app = await embedded(tmp_path, faults=[FaultRule(503, "Devices/")])
    report = await run_conformance(
        CONN, tmp_path / "work", retry=FAST, transport=httpx.ASGITransport(app=app.app)
    )
    assert not report.ok
    got = statuses(report)
    assert got["devices"] == "fail" and got["users"] == "pass" and got["recording"] == "skip"
    detail = next(c.detail for c in report.checks if c.name == "devices")
    assert "CDUnavailable" in detail and "503" in detail and "Devices" in detail


async def test_bad_credentials_stop_at_auth(tmp_path: Path) -> None:
    app = await embedded(tmp_path)
    conn = CDConnection(uris=CONN.uris, user="bw", key="wrong")
    report = await run_conformance(
        conn, tmp_path / "w", retry=FAST, transport=httpx.ASGITransport(app=app.app)
    )
    assert [(c.name, c.status) for c in report.checks] == [("auth", "fail")]


@pytest.mark.swift
async def test_real_swift_passes(swift: SwiftInstance, tmp_path: Path) -> None:
    user, key = swift.account("bwfull")
    conn = CDConnection(uris=(swift.auth_url,), user=user, key=key, full_store_and_read=True)
    report = await run_conformance(conn, tmp_path, retry=FAST)
    assert report.ok, report.to_json()
    # A plain Swift accepts anything, so there is no 400 to provoke.
    assert statuses(report)["rejected-content"] == "skip"
    assert statuses(report)["categories"] == "skip"


async def test_main_prints_json_and_exit_status(tmp_path: Path) -> None:
    console = Console(record=True, width=200)
    conn = CDConnection(uris=(f"http://127.0.0.1:{closed_port()}/auth/v1.0",), user="u", key="k")
    status = await conformance_main(
        conn, as_json=True, console=console, workdir=tmp_path, retry=FAST
    )
    assert status == 1
    doc = json.loads(console.export_text())
    assert doc["ok"] is False and doc["checks"][0]["name"] == "auth"
