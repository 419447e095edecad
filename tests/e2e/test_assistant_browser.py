"""The Assistant in a real Chromium with a phone's viewport, against the real services.

The administrator pairs a user in the manager; the QR code is read from a screenshot of
the manager's page with a real QR decoder (zxing-cpp) and the PIN typed into the app.
Then: a recording is listed (pull to refresh) and played on the canvas with its
watermark in the pixels, stepped a frame at a time and slowed down; live view plays well
under 2 s behind the camera; a category and notes reach the content destination with the
recording, and after docking the app shows nothing of the camera.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect

from bodyworn.assistant.app import create_app as assistant_app
from bodyworn.controller.app import create_app as controller_app
from bodyworn.tlsutil import self_signed_certificate
from tests.assistant.rig import USER_ID, AssistantRig, assistant_rig
from tests.controller.conftest import ROOT_PASSWORD
from tests.e2e.live_latency import MEASURE_JS, percentiles
from tests.e2e.servers import serving

pytestmark = pytest.mark.e2e
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True, "locale": "en-GB"}
SHOTS = "assistant-screens"

# The player's canvas against the watermark drawn alone (fill only) on a blank canvas of
# the same size: the share of the watermark's pixels that are its white in the frame.
WATERMARK_JS = """
(other) => {
  const c = document.getElementById('player-canvas');
  const text = other || c.dataset.watermark;
  const ref = document.createElement('canvas');
  ref.width = c.width; ref.height = c.height;
  const rctx = ref.getContext('2d');
  window.bwaWatermark.draw(rctx, text, c.width, c.height, false);
  const a = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const b = rctx.getImageData(0, 0, c.width, c.height).data;
  let ink = 0, white = 0;
  for (let i = 0; i < b.length; i += 4) {
    if (b[i + 3] > 250) {
      ink++;
      if (a[i] > 225 && a[i + 1] > 225 && a[i + 2] > 225) white++;
    }
  }
  return { text: c.dataset.watermark, ink, share: ink ? white / ink : 0 };
}
"""


@pytest.fixture
def arig(tmp_path: Path) -> Iterator[AssistantRig]:
    with assistant_rig(tmp_path) as rig:
        yield rig


def _context(chromium: Browser, **extra: object) -> BrowserContext:
    context = chromium.new_context(ignore_https_errors=True, **extra)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    return context


def wait_js(page: Page, expression: str, timeout: float = 15.0) -> None:
    """Wait until a JavaScript expression holds on the page. (Playwright's own
    wait_for_function evaluates strings with eval, which the app's CSP forbids.)"""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({expression})"):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {expression}")
        time.sleep(0.05)


def _decode_qr(png: bytes) -> str:
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    codes = [f.text for f in found if f.format == zxingcpp.BarcodeFormat.QRCode]
    assert len(codes) == 1, f"QR codes found: {codes}"
    return str(codes[0])


def _pull_to_refresh(context: BrowserContext, page: Page) -> None:
    """A finger pulls the list down from its top and lets go."""
    cdp = context.new_cdp_session(page)
    x, y = 180, 150

    def touch(kind: str, at: float) -> None:
        points = [] if kind == "touchEnd" else [{"x": x, "y": at}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", y)
    for step in range(1, 11):
        touch("touchMove", y + step * 12)
    expect(page.locator("#puller")).to_have_text("Release to refresh")
    touch("touchEnd", y + 120)


def _manager_pairing(manager: Page, base: str, user_uuid: str, shots: Path) -> tuple[str, str]:
    """Users → user → Pair (Assistant) → Local → Next: the QR code (decoded) and the PIN."""
    manager.goto(f"{base}/login")
    manager.fill("input[name=username]", "root")
    manager.fill("input[name=password]", ROOT_PASSWORD)
    manager.click("button[type=submit]")
    manager.goto(f"{base}/users/{user_uuid}")
    manager.click("#pair-assistant")
    expect(manager.locator("#mode-local")).to_be_checked()
    manager.click("#pair-next")
    expect(manager.locator("#pairing-qr svg")).to_be_visible()
    png = manager.screenshot(full_page=True)
    (shots / "manager-pairing.png").write_bytes(png)
    pin = manager.locator("#pairing-pin").inner_text().strip()
    return _decode_qr(png), pin


def test_pair_play_live_annotate_and_dock(arig: AssistantRig, chromium: Browser,
                                          tmp_path: Path) -> None:
    shots = tmp_path / SHOTS
    shots.mkdir()
    phone = arig.phone()
    made = self_signed_certificate(["127.0.0.1"])
    cert = (tmp_path / "manager.crt", tmp_path / "manager.key")
    cert[0].write_bytes(made.cert_pem)
    cert[1].write_bytes(made.key_pem)
    with serving(controller_app(arig.ctx), cert=cert) as manager_url, \
            serving(assistant_app(phone)) as app_url:
        desk = _context(chromium)
        mobile = _context(chromium, **PHONE)
        try:
            code, pin = _manager_pairing(desk.new_page(), manager_url, arig.user_uuid, shots)
            assert code.startswith("BWA1:") and len(pin) == 6
            # The camera learns the pairing at its next docking; the officer undocks it.
            arig.dock()
            arig.undock()

            page = mobile.new_page()
            page.goto(phone.open_url(app_url))
            expect(page.locator("#pair-code")).to_be_visible()
            page.screenshot(path=str(shots / "pair.png"))
            page.fill("#pair-code", code)
            page.click("#use-code")
            expect(page.locator("#pin-step")).to_be_visible()
            page.locator("#pin").press_sequentially(pin)
            page.click("#pair")
            expect(page.locator("#paired")).to_be_visible()
            expect(page.locator("#no-recordings")).to_be_visible()

            # A recording made now appears after a pull to refresh.
            recording = arig.record(20)
            _pull_to_refresh(mobile, page)
            item = page.locator(f"a.recording[data-id='{recording.id}']")
            expect(item).to_be_visible()
            page.screenshot(path=str(shots / "recordings.png"))
            item.click()

            # Played on the canvas, with the watermark in its pixels.
            page.click("#play")
            wait_js(page,
                "document.getElementById('player-video').currentTime > 1.5")
            mark = page.evaluate(WATERMARK_JS, None)
            assert mark["text"].startswith(USER_ID[:12] + " ")
            assert USER_ID[:13] not in mark["text"]
            assert mark["ink"] > 500 and mark["share"] > 0.97, mark
            control = page.evaluate(WATERMARK_JS, "WWWWWWWWWWWW 8888-88-88 88:88:88")
            assert control["share"] < 0.8, control
            page.screenshot(path=str(shots / "player.png"))
            # No way to save it: nothing to download, no video element shown.
            assert page.locator("a[download], [download]").count() == 0
            source = page.locator("#player-video")
            assert source.get_attribute("controls") is None
            shown = source.bounding_box()
            assert shown is not None and shown["width"] <= 1 and shown["height"] <= 1

            # Frame steps by double taps, slow motion by press and hold.
            page.click("#play")  # pause
            wait_js(page, "document.getElementById('player-video').paused")
            before = page.evaluate("document.getElementById('player-video').currentTime")
            box = page.locator("#player-canvas").bounding_box()
            assert box is not None
            page.mouse.dblclick(box["x"] + box["width"] * 0.8, box["y"] + box["height"] / 2)
            wait_js(page,
                f"Math.abs(document.getElementById('player-video').currentTime - {before}"
                " - 1/30) < 0.005")
            page.mouse.dblclick(box["x"] + box["width"] * 0.2, box["y"] + box["height"] / 2)
            wait_js(page,
                f"Math.abs(document.getElementById('player-video').currentTime - {before})"
                " < 0.005")
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.down()
            wait_js(page,
                "document.getElementById('player-video').playbackRate === 0.25")
            expect(page.locator("#slow-label")).to_be_visible()
            page.mouse.up()
            wait_js(page, "document.getElementById('player-video').playbackRate === 1")

            # Information: category and notes, saved when it closes; the track on a map.
            page.click("#info-open")
            expect(page.locator("#track-map")).to_be_visible()
            page.select_option("#category", "Traffic stop")
            page.fill("#notes", "Driver stopped at the harbour gate; calm.")
            page.screenshot(path=str(shots / "information.png"))
            page.click("#info-close")
            expect(page.locator("#saved")).to_be_visible()

            # Live view: playing, and behind the camera by well under 2 s.
            page.click("#tab-live")
            wait_js(page,
                "document.getElementById('live-video') &&"
                " document.getElementById('live-video').currentTime > 0.5")
            latency = percentiles(page.evaluate(MEASURE_JS, 30))
            page.screenshot(path=str(shots / "live.png"))
            assert latency["p95_ms"] < 2000, latency
            assert latency["p50_ms"] > 0, latency  # the code was read (not garbage)

            # The shell is cached; evidence never is.
            cached = page.evaluate("""async () => {
                const urls = [];
                for (const name of await caches.keys()) {
                  const cache = await caches.open(name);
                  for (const r of await cache.keys()) urls.push(new URL(r.url).pathname);
                }
                return urls; }""")
            assert "/static/assistant/app.js" in cached
            assert not [u for u in cached if u.startswith(("/api/", "/media/"))]

            # Docked: offloaded with its category and notes; the app shows nothing of it.
            page.click("#tab-recordings")
            expect(page.locator("a.recording")).to_have_count(1)
            arig.dock()
            page.click("#refresh")
            expect(page.locator("#problem")).to_contain_text("docked")
            assert page.locator("a.recording").count() == 0
            arig.deliver()
            bookmarks = arig.bookmarks_at_cd(recording.id)
            assert "Traffic stop" in {unquote(m.get("Categoryname", "")) for m, _ in bookmarks}
            assert b"Driver stopped at the harbour gate; calm." in [b for _, b in bookmarks]
            evidence = arig.evidence_page(arig.container_of(recording.id))
            assert "Traffic stop" in evidence and "harbour gate" in evidence
            arig.undock()
            page.click("#refresh")
            expect(page.locator("#no-recordings")).to_be_visible()
        finally:
            desk.close()
            mobile.close()
