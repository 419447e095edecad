"""Notification fixtures: a set-up system with cloud extensions on, a notifier to drive."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bodyworn.controller.context import ControllerContext
from bodyworn.controller.notifications import service
from bodyworn.controller.notifications.sender import Notifier, SenderConfig
from tests.controller.conftest import set_up
from tests.smtp_server import SmtpServer

ADDRESS = "duty-officers@example.org"
SENDER = "bodyworn@example.org"


@pytest.fixture
def cloud_ctx(ctx: ControllerContext) -> ControllerContext:
    """A set-up system with cloud extensions on (email notifications need them)."""
    set_up(ctx, cloud_extensions=True, cloud_location="eu-de")
    return ctx


@pytest.fixture
def notifier(cloud_ctx: ControllerContext) -> Iterator[Notifier]:
    """A notifier subscribed to the context's bus, driven by the test (run_once)."""
    n = Notifier(cloud_ctx, config=SenderConfig(initial_s=60, maximum_s=600))
    n.subscribe()
    yield n
    n.unsubscribe()


def configure(ctx: ControllerContext, smtp: SmtpServer, *, address: str | None = ADDRESS,
              send_test: bool = False, password: str | None = None) -> None:
    """Point notifications at a test server (and set the address)."""
    with ctx.factory() as session, session.begin():
        service.set_smtp(session, ctx.clock, host=smtp.host, port=smtp.port,
                         security=smtp.security, username=smtp.username or "",
                         password=password if password is not None else smtp.password,
                         clear_password=False, from_address=SENDER, ca_pem=smtp.ca_pem,
                         actor="root", source="test")
        if address is not None:
            service.set_address(session, ctx.clock, address, send_test, actor="root",
                                source="test")
