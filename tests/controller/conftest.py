"""Controller fixtures: a data directory, a movable clock, an app, a set-up system."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bodyworn.controller.app import build_context, create_app
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.settings import ControllerSettings
from bodyworn.controller.setup import service
from bodyworn.controller.setup.service import Identity, SetupAnswers
from bodyworn.domain.clock import ManualClock
from tests.domain.connection_factory import connection_file_bytes

ROOT_PASSWORD = "correct horse battery staple"
PASSPHRASE = "a long super admin passphrase"


def good_answers(**overrides: object) -> SetupAnswers:
    """Answers that pass every rule."""
    values: dict[str, object] = {
        "language": "en",
        "root_password": ROOT_PASSWORD,
        "super_admin_passphrase": PASSPHRASE,
        "system_name": "North precinct",
        "timezone": "Europe/Stockholm",
        "time_mode": "manual",
        "manual_time": datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
        "connection_file": connection_file_bytes(),
        "power_line_frequency": 50,
        "camera_assignment": "fixed",
    }
    values.update(overrides)
    return SetupAnswers(**values)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> ManualClock:
    """A clock the test moves."""
    return ManualClock(datetime(2026, 11, 27, 8, 0, tzinfo=UTC))


@pytest.fixture
def settings(tmp_path: Path) -> ControllerSettings:
    """Settings of a controller in a fresh data directory."""
    return ControllerSettings(data_dir=tmp_path / "data")


@pytest.fixture
def ctx(settings: ControllerSettings, clock: ManualClock) -> Iterator[ControllerContext]:
    """A controller context that has not been set up."""
    context = build_context(settings, clock=clock)
    yield context
    context.engine.dispose()


def set_up(ctx: ControllerContext, identity: Identity | None = None,
           **overrides: object) -> Identity:
    """Commit setup directly through the service (the wizard has its own tests); with
    `identity`, as a controller restored from that system's restore key."""
    restored = "the System restore key" if identity is not None else ""
    identity = identity or Identity.generate()
    row = service.commit(ctx.factory, ctx.clock, good_answers(**overrides), identity,
                         offset_seconds=0.0, source="test", restored=restored)
    ctx.apply_system(row)
    return identity


@pytest.fixture
def client(ctx: ControllerContext) -> Iterator[TestClient]:
    """An HTTPS test client of a controller that has not been set up."""
    with TestClient(create_app(ctx), base_url="https://testserver") as c:
        yield c


@pytest.fixture
def ready(ctx: ControllerContext, client: TestClient) -> TestClient:
    """A client of a set-up controller, not logged in."""
    set_up(ctx)
    return client


def csrf_of(client: TestClient, page: str) -> str:
    """The CSRF token embedded in a page's form."""
    import re

    html = client.get(page).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, f"no CSRF token on {page}"
    return found.group(1)


def login(client: TestClient, password: str = ROOT_PASSWORD) -> str:
    """Log in as root through the form; returns the session's CSRF token."""
    token = csrf_of(client, "/login")
    r = client.post("/login", data={"username": "root", "password": password,
                                    "csrf_token": token, "next": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return csrf_of(client, "/settings/password")


@pytest.fixture
def logged_in(ready: TestClient) -> tuple[TestClient, str]:
    """A client logged in as root, with its CSRF token."""
    return ready, login(ready)
