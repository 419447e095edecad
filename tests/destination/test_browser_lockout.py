"""The evidence browser's password: wrong guesses lock it, however many arrive at once."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bodyworn.destination import browser as browser_module
from bodyworn.destination.browser import LOGIN_COOKIE
from bodyworn.destination.browser_auth import LOGIN_THRESHOLD, ensure_browser_password
from bodyworn.destination.config import Site, build_site, init_destination
from bodyworn.domain.clock import ManualClock

PASSWORD = "correct horse battery staple"
WRONG = "not the browser password"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 27, 8, 0, tzinfo=UTC))


@pytest.fixture
def site(tmp_path: Path, clock: ManualClock) -> Site:
    init_destination(tmp_path)
    (tmp_path / "pw.txt").write_text(PASSWORD + "\n")
    ensure_browser_password(tmp_path, tmp_path / "pw.txt")
    return asyncio.run(build_site(init_destination(tmp_path), tmp_path, clock=clock))


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password the browser checked against its stored hash."""
    seen: list[str] = []
    real = browser_module.verify_browser_password

    def counting(data_dir: Path, password: str) -> bool:
        seen.append(password)
        return real(data_dir, password)

    monkeypatch.setattr(browser_module, "verify_browser_password", counting)
    return seen


async def _token(http: httpx.AsyncClient) -> str:
    page = await http.get("/browser/login")
    found = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


async def _post(site: Site, token: str, password: str) -> httpx.Response:
    # A client of its own: answers set new login cookies, which must not mix between guesses.
    async with _client(site) as http:
        return await http.post("/browser/login", data={"login_token": token, "password": password},
                               headers={"Cookie": f"{LOGIN_COOKIE}={token}"})


def _client(site: Site) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=site.app),
                             base_url="http://cd.test")


async def test_forty_concurrent_wrong_passwords_check_only_the_limit(
    site: Site, checked: list[str],
) -> None:
    async with _client(site) as http:
        token = await _token(http)
        answers = await asyncio.gather(*(_post(site, token, WRONG) for _ in range(40)))
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [401] * LOGIN_THRESHOLD + [429] * (40 - LOGIN_THRESHOLD)
        assert len(checked) == LOGIN_THRESHOLD
        locked = next(r for r in answers if r.status_code == 429)
        assert locked.headers["retry-after"] == "31"
        assert "Too many failed attempts" in locked.text


async def test_the_lock_holds_the_right_password_and_ends(
    site: Site, checked: list[str], clock: ManualClock,
) -> None:
    async with _client(site) as http:
        token = await _token(http)
        for _ in range(LOGIN_THRESHOLD):
            assert (await _post(site, token, WRONG)).status_code == 401
        assert (await _post(site, token, PASSWORD)).status_code == 429
        assert PASSWORD not in checked  # the lock is checked before the password
        clock.advance(timedelta(seconds=31))
        assert (await _post(site, token, PASSWORD)).status_code == 303
        # A right password starts the count again.
        for _ in range(LOGIN_THRESHOLD - 1):
            assert (await _post(site, token, WRONG)).status_code == 401
        assert (await _post(site, token, PASSWORD)).status_code == 303
