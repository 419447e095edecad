"""The conformance battery: passes against good CDs, names the failing check otherwise."""

from __future__ import annotations

import json
from datetime import UTC, datetime
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
from bodyworn.destination.swift import CDMode, FaultRule, SwiftAccount, SwiftApp
from bodyworn.domain.clock import ManualClock

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
    text = console.export_text()
    assert "rejected-content" in text
    # Our RSA policy is stated beside the reference server's.
    assert "at least 2048 bits" in text and "reference server accepts 1024" in text


async def test_the_reference_like_cd_passes_with_a_warning_about_etags(tmp_path: Path) -> None:
    app = await embedded(tmp_path, mode=CDMode.REFERENCE)
    report = await run_conformance(
        CONN, tmp_path / "work", retry=FAST, transport=httpx.ASGITransport(app=app.app),
        connection_warnings=[],
    )
    assert report.ok, report.to_json()
    got = statuses(report)
    assert got["recording"] == "warn" and [c.name for c in report.warnings] == ["recording"]
    assert "without an ETag" in report.warnings[0].detail
    assert "unverified by the CD" in report.warnings[0].detail
    assert got["connection-file"] == "pass" and got["complete"] == "pass"
    assert got["system-id"] == "pass" and got["gnss-and-bookmarks"] == "pass"
    # It stores a recording for an unknown user: there is no 400 to provoke.
    assert got["rejected-content"] == "skip"


async def test_connection_file_warnings_are_reported_not_failed(tmp_path: Path) -> None:
    app = await embedded(tmp_path)
    warning = "The connection file does not say whether ... (ContentDestinationAsNTPServer)."
    report = await run_conformance(
        CONN, tmp_path / "work", retry=FAST, transport=httpx.ASGITransport(app=app.app),
        connection_warnings=[warning],
    )
    assert report.ok and report.checks[0].name == "connection-file"
    assert (report.checks[0].status, report.checks[0].detail) == ("warn", warning)


async def test_a_recording_sent_to_rejected_content_skips_what_it_cannot_have(
    tmp_path: Path,
) -> None:
    # The CD's clock is a year behind: the recording is "in the future" to it, so it
    # answers 400 and the recording goes to rejected content, which has no Status and
    # no bookmarks; the battery must not fail those checks on it.
    app = await embedded(tmp_path, clock=ManualClock(datetime(2025, 3, 1, tzinfo=UTC)))
    report = await run_conformance(
        CONN, tmp_path / "work", retry=FAST, clock=ManualClock(datetime(2026, 3, 1, tzinfo=UTC)),
        transport=httpx.ASGITransport(app=app.app),
    )
    got = statuses(report)
    assert got["recording"] == "fail"
    detail = next(c.detail for c in report.checks if c.name == "recording")
    assert "rejected content RejectedContent_20260301T000000Z_" in detail
    assert "timestamps out of bounds" in detail
    assert got["complete"] == "skip" and got["gnss-and-bookmarks"] == "skip"
    assert got["rejected-content"] == "pass"


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
    # Swift's ETags confirm every object: no warning.
    assert statuses(report)["recording"] == "pass" and report.warnings == []


async def test_main_prints_json_and_exit_status(tmp_path: Path) -> None:
    console = Console(record=True, width=200)
    conn = CDConnection(uris=(f"http://127.0.0.1:{closed_port()}/auth/v1.0",), user="u", key="k")
    status = await conformance_main(
        conn, as_json=True, console=console, workdir=tmp_path, retry=FAST
    )
    assert status == 1
    doc = json.loads(console.export_text())
    assert doc["ok"] is False and doc["checks"][0]["name"] == "auth"
