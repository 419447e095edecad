"""Live view, glass to glass on loopback: how long after the camera draws a frame the
phone's browser shows it, p50/p95 (docs/assistant.md).

The simulated camera stamps each frame with the moment it made it, as cells of black and
white (devices/live.py). Side by side in one run:

- baseline: the camera's live stream over its wireless API (pinned TLS), decoded by
  PyAV in this process as it arrives, the stamp read from each decoded picture;
- assistant: the same stream through the Assistant's service into Chromium (Media
  Source Extensions), the stamp read from each frame the <video> presents, against the
  moment it presents it.

Run: .venv/bin/python bench/bench_assistant_live.py [--frames 300] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import av  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from tests.assistant.rig import AssistantRig, assistant_rig  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.e2e.live_latency import MEASURE_JS, percentiles  # noqa: E402
from tests.e2e.servers import serving  # noqa: E402

from bodyworn.assistant.app import create_app  # noqa: E402
from bodyworn.devices.live import read_time_code  # noqa: E402
from bodyworn.wireless.client import CameraLink  # noqa: E402


def pair(rig: AssistantRig) -> object:
    """A phone paired with the rig's camera (the camera undocked and running)."""
    code = rig.start_pairing()
    rig.dock()
    rig.undock()
    phone = rig.phone()
    phone.service.scan(code.text)
    rig.run(phone.service.enter_pin(code.pin))
    return phone


def baseline(rig: AssistantRig, phone: object, frames: int) -> list[float]:
    """Latencies (ms) of frames decoded straight from the camera's stream in Python."""
    pairing = phone.store.pairing()  # type: ignore[attr-defined]
    private, _ = phone.store.device_key()  # type: ignore[attr-defined]
    read_fd, write_fd = os.pipe()
    found: list[float] = []
    done = threading.Event()

    async def feed() -> None:
        async with CameraLink(rig.air.url, rig.camera.serial,
                              pairing.ca_pem.encode()) as link:
            await link.open_session(pairing.pairing_id, private)
            response = await link.live()
            try:
                async for chunk in response.aiter_raw():
                    os.write(write_fd, chunk)
                    if done.is_set():
                        break
            finally:
                await response.aclose()
                os.close(write_fd)

    def decode() -> None:
        with os.fdopen(read_fd, "rb", buffering=0) as pipe, av.open(pipe, format="mp4") as box:
            box.streams.video[0].thread_type = "SLICE"
            for frame in box.decode(video=0):
                now_ms = time.time() * 1000
                found.append(now_ms - read_time_code(frame.to_image()))
                if len(found) >= frames:
                    done.set()
                    break

    reader = threading.Thread(target=decode)
    reader.start()
    with contextlib.suppress(OSError, BrokenPipeError):
        rig.run(feed())
    reader.join(60)
    return found[5:]  # the first frames wait for the decoder to start


def browser(rig: AssistantRig, phone: object, frames: int) -> list[float]:
    """Latencies (ms) of frames the Assistant's live view presents in Chromium."""
    with serving(create_app(phone)) as url, sync_playwright() as p:  # type: ignore[arg-type]
        chrome = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                   args=CHROMIUM_ARGS)
        try:
            context = chrome.new_context(viewport={"width": 360, "height": 740},
                                         is_mobile=True, has_touch=True)
            page = context.new_page()
            page.goto(phone.open_url(url))  # type: ignore[attr-defined]
            page.click("#tab-live")
            page.wait_for_selector("#live-video")
            deadline = time.monotonic() + 20
            while not page.evaluate(
                    "() => document.getElementById('live-video').currentTime > 1"):
                if time.monotonic() > deadline:
                    raise RuntimeError("live view did not start")
                time.sleep(0.05)
            return list(page.evaluate(MEASURE_JS, frames))
        finally:
            chrome.close()


def main() -> None:
    """Measure both paths and print p50/p95 and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp, \
            assistant_rig(Path(tmp)) as rig:
        phone = pair(rig)
        direct = percentiles(baseline(rig, phone, args.frames))
        shown = percentiles(browser(rig, phone, args.frames))
    result = {"baseline_python_decoder": direct, "assistant_in_chromium": shown,
              "p50_ratio": round(shown["p50_ms"] / direct["p50_ms"], 2),
              "p95_ratio": round(shown["p95_ms"] / direct["p95_ms"], 2)}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print("live view, glass to glass on loopback (ms)")
    for name, row in (("camera → PyAV decoder (baseline)", direct),
                      ("camera → Assistant → Chromium", shown)):
        print(f"  {name:36} p50 {row['p50_ms']:7.1f}  p95 {row['p95_ms']:7.1f}"
              f"  max {row['max_ms']:7.1f}  n={row['n']}")
    print(f"  ratio assistant/baseline: p50 {result['p50_ratio']}×, p95 {result['p95_ratio']}×")


if __name__ == "__main__":
    main()
