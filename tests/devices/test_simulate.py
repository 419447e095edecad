"""`bodyworn simulate` against a stub controller that adds, assigns and offloads cameras."""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bodyworn.controller.identity.keys import generate_identity_keypair
from bodyworn.devices.scenario import example_scenarios
from bodyworn.devices.simulate import (
    DockLayout,
    SimulationError,
    SimulationOptions,
    run_simulation,
    simulate_app,
)
from bodyworn.docklink import wire as proto
from bodyworn.docklink.client import DockLinkClient, DockLinkError, Identity
from bodyworn.docklink.messages import ClipEntry, Manifest, RecordingEntry
from bodyworn.domain.profile import CameraProfile, OverlayField
from tests.devices.media import probe

SYSTEM_ID = "sys-stub"
PROFILE = CameraProfile(
    name="Patrol",
    location_data=True,
    assisted_gnss=True,
    fall_detection=True,
    overlay=frozenset({OverlayField.USER_ID, OverlayField.DATE_TIME, OverlayField.LOCATION}),
)


@dataclass
class StubController:
    """Just enough controller: takes dock events, adds and assigns, offloads, confirms."""

    spool: Path
    private_pem: bytes
    public_pem: str
    events: list[dict[str, Any]] = field(default_factory=list)
    offloaded: dict[str, ClipEntry] = field(default_factory=dict)
    recordings: dict[str, RecordingEntry] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    work: queue.Queue[dict[str, Any] | None] = field(default_factory=queue.Queue)

    def handle_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        self.work.put(event)

    def worker(self) -> None:
        while (event := self.work.get()) is not None:
            if event["event"] != "dock":
                continue
            try:
                self.on_dock(event)
            except Exception as exc:  # the test asserts there were none
                self.errors.append(f"{event['camera_serial']}: {exc!r}")

    def on_dock(self, event: dict[str, Any]) -> None:
        identity = Identity(SYSTEM_ID, self.private_pem)
        with DockLinkClient(event["camera_url"], identity) as client:
            if client.info().shipping_mode:
                client.add_to_system(SYSTEM_ID, self.public_pem)
                number = int(event["camera_serial"][-6:])
                client.configure(
                    profile=PROFILE, user_id=f"officer-{number}",
                    categories=["Traffic", "Incident"], timezone="Europe/Stockholm",
                )
            manifest = self._manifest(client)
            if manifest is None:
                return
            for recording in manifest.recordings:
                self.recordings[recording.id] = recording
                for clip in recording.clips:
                    target = self.spool / clip.name
                    client.download_clip(clip.name, target, sha256=clip.sha256, size=clip.size)
                    # Durable before the camera may delete: the rule that evidence is never lost.
                    with open(target, "rb") as handle:
                        assert hashlib.sha256(handle.read()).hexdigest() == clip.sha256
                    self.offloaded[clip.name] = clip
                    client.delete_clip(clip.name, clip.sha256)

    def _manifest(self, client: DockLinkClient) -> Manifest | None:
        stop = threading.Event()
        for _ in range(400):
            try:
                return client.manifest()
            except DockLinkError as exc:
                if exc.status == 404:  # taken out again before we got to it
                    return None
                if exc.status != 503:
                    raise
            stop.wait(0.05)
        raise AssertionError("camera never became ready for offload")


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[tuple[str, StubController]]:
    private, public = generate_identity_keypair()
    spool = tmp_path / "spool"
    spool.mkdir()
    stub = StubController(spool, private, public.decode())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != proto.EVENTS_PATH:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            event = json.loads(body)
            assert self.headers[proto.HEADER_STATION] == event["station_serial"]
            stub.handle_event(event)
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threads = [
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True),
        threading.Thread(target=stub.worker, daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", stub
    finally:
        stub.work.put(None)
        server.shutdown()
        server.server_close()
        for thread in threads:
            thread.join(timeout=5)


def test_shift_runs_against_a_stub_controller(
    controller: tuple[str, StubController], tmp_path: Path
) -> None:
    url, stub = controller
    lines: list[str] = []
    report = run_simulation(
        url, "2x8", 3, example_scenarios()["shift"], work_dir=tmp_path / "cameras",
        options=SimulationOptions(speed=0, offload_timeout=30), log=lines.append,
    )
    assert stub.errors == []
    assert report.warnings == [], report.warnings
    assert report.offloaded and report.events_failed == 0
    # Three cameras docked at start; two taken out and docked again.
    docks = [e for e in stub.events if e["event"] == "dock"]
    undocks = [e for e in stub.events if e["event"] == "undock"]
    assert len(docks) == 5 and len(undocks) == 2
    assert {e["station_serial"] for e in docks} == {"DOCK0001"}
    assert all(e["camera_url"].endswith(e["camera_serial"]) for e in stub.events)

    produced = [path for paths in report.clips.values() for path in paths]
    assert produced and set(stub.offloaded) == {path.name for path in produced}
    for path in produced:
        assert not path.exists()  # deleted on the camera after the signed confirmation
        copy = stub.spool / path.name
        clip = stub.offloaded[path.name]
        assert hashlib.sha256(copy.read_bytes()).hexdigest() == clip.sha256
        found = probe(copy)
        assert found.streams["video"] == "h264" and found.streams["audio"] == "aac"
        assert found.duration == pytest.approx(clip.duration_s, abs=0.2)

    first, second = (report.recordings[f"B8A44F{n:06d}"] for n in (1, 2))
    assert len(first) == 2 and len(second) == 2
    button, fall = (stub.recordings[rid] for rid in first)
    assert len(button.clips) == 2  # 12 minutes split at the 10-minute clip limit
    assert button.categories == ("Traffic",) and button.notes
    assert button.trigger_on_location is not None and button.gnss_track
    assert fall.trigger == "fall" and fall.notes == ("Slipped on the quay; no injury.",)
    unholster, short = (stub.recordings[rid] for rid in second)
    assert unholster.trigger == "unholster" and unholster.categories == ("Incident",)
    assert short.trigger == "button" and short.stop_reason == "button"
    assert unholster.user_id == "officer-2" and unholster.timezone == "Europe/Stockholm"


def test_cli_runs_the_incident_scenario(
    controller: tuple[str, StubController], tmp_path: Path
) -> None:
    url, stub = controller
    result = CliRunner().invoke(simulate_app, [
        "--controller", url, "--docks", "1x1", "--cameras", "1", "--scenario", "incident",
        "--speed", "0", "--work-dir", str(tmp_path / "cameras"), "--offload-timeout", "30",
    ])
    assert result.exit_code == 0, result.output
    assert "2 recording(s)" in result.output and stub.errors == []
    assert len(stub.offloaded) >= 2


def test_a_controller_that_never_assigns_stops_the_run_with_a_clear_error(
    tmp_path: Path,
) -> None:
    result = CliRunner().invoke(simulate_app, [
        "--controller", "http://127.0.0.1:9", "--docks", "1x8", "--cameras", "1",
        "--scenario", "incident", "--speed", "0", "--ready-timeout", "0.3",
        "--work-dir", str(tmp_path),
    ])
    assert result.exit_code == 2
    assert "Officer Lind" in result.output and "still in shipping mode" in result.output


def test_bad_layouts_are_refused() -> None:
    assert DockLayout.parse("2x8") == DockLayout(2, 8)
    for text in ("2", "2x4", "0x8", "axb"):
        with pytest.raises(SimulationError):
            DockLayout.parse(text)
    result = CliRunner().invoke(simulate_app, [
        "--controller", "http://127.0.0.1:9", "--docks", "1x1", "--cameras", "2",
        "--scenario", "shift", "--speed", "0",
    ])
    assert result.exit_code == 2 and "do not fit" in result.output


def test_clock_runs_at_the_given_speed(
    controller: tuple[str, StubController], tmp_path: Path
) -> None:
    from bodyworn.devices.simulate import Simulation

    url, _ = controller
    simulation = Simulation(url, DockLayout(1, 1), 1, work_dir=tmp_path,
                            options=SimulationOptions(speed=600))
    try:
        start = simulation.clock.now()
        import time

        began = time.monotonic()
        simulation.advance_to(start + timedelta(seconds=120))
        assert 0.15 <= time.monotonic() - began < 1.0
        assert simulation.clock.now() == start + timedelta(seconds=120)
    finally:
        simulation.close()


def test_an_unreadable_dock_token_file_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(simulate_app, [
        "--controller", "http://127.0.0.1:9", "--dock-token-file", str(tmp_path / "missing"),
    ])
    assert result.exit_code == 2 and "--dock-token-file" in result.output
