"""The embedded CD's evidence browser says, per clip, what its signature check found."""

from __future__ import annotations

import asyncio
import re

import httpx

from bodyworn.destination.browser_auth import ensure_browser_password
from bodyworn.destination.config import build_site
from tests.controller.integrity.conftest import IntegrityRig

PASSWORD = "correct horse battery staple"


def _pages(rig: IntegrityRig, containers: list[str]) -> dict[str, str]:
    """Each recording's page in the evidence browser, logged in."""
    assert rig.cd_dir is not None and rig.cd_config is not None
    pw = rig.tmp / "pw.txt"
    pw.write_text(PASSWORD + "\n")
    ensure_browser_password(rig.cd_dir, pw)

    async def go() -> dict[str, str]:
        site = await build_site(rig.cd_config, rig.cd_dir, clock=rig.clock)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=site.app),
                                     base_url="http://cd.test") as http:
            page = await http.get("/browser/login")
            token = re.search(r'name="login_token" value="([^"]+)"', page.text)
            assert token
            await http.post("/browser/login", data={"login_token": token.group(1),
                                                    "password": PASSWORD})
            found = {}
            for container in containers:
                got = await http.get(f"/browser/recordings/{container}")
                assert got.status_code == 200
                found[container] = got.text
            return found

    return asyncio.run(go())


def _labels(page: str) -> dict[str, str]:
    """Clip name → the signature label shown beside it."""
    return dict(re.findall(r'<figure class="clip" data-clip="([^"]+)">'
                           r'(?:(?!</figure>).)*?<span class="sig sig-\w+" title="[^"]*">'
                           r'([^<]+)</span>', page, flags=re.S))


def test_each_clip_shows_signature_valid_invalid_or_missing(irig: IntegrityRig) -> None:
    signed = irig.certified_camera("B8A44F000001")
    irig.record(signed)
    # Recorded before it held a certificate: its clips carry no signature (docking
    # certifies it afterwards, and nothing is signed after the fact).
    unsigned = irig.camera("B8A44F000002")
    irig.record(unsigned)
    irig.dock(signed)
    irig.dock(unsigned)
    irig.deliver()
    containers = {c.split("_")[1]: c for c in irig.recordings()}
    mine, theirs = containers[signed.serial], containers[unsigned.serial]
    clips = sorted((o for o in irig.cd.store.list_objects(irig.cd_account, mine)
                    if o.name.endswith(".mkv")), key=lambda o: o.name)
    assert len(clips) >= 2
    victim = clips[0]
    data = bytearray(victim.path.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.path.chmod(0o600)
    victim.path.write_bytes(bytes(data))

    pages = _pages(irig, [mine, theirs])
    shown = _labels(pages[mine])
    assert shown[victim.name] == "signature invalid"
    assert {shown[c.name] for c in clips[1:]} == {"signature valid"}
    assert "not the ones the camera signed" in pages[mine]
    missing = _labels(pages[theirs])
    assert missing and set(missing.values()) == {"signature missing"}
