"""The identity as the rest of the controller uses it: signing dock link requests, passphrase."""

from __future__ import annotations

from bodyworn.controller.context import ControllerContext
from bodyworn.controller.identity import service
from bodyworn.controller.identity.keys import sign, verify
from tests.controller.conftest import PASSPHRASE, set_up


def test_dock_link_clients_sign_as_this_system(ctx: ControllerContext) -> None:
    identity = set_up(ctx)
    with ctx.docklink("http://127.0.0.1:9/docklink/v1/cameras/X") as client:
        assert client.identity is not None
        assert client.identity.system_id == identity.system_id
        signature = sign(client.identity.private_key_pem, b"payload")
    with ctx.factory() as session:
        assert verify(service.public_key_pem(session).encode(), signature, b"payload")


def test_passphrase_check(ctx: ControllerContext) -> None:
    set_up(ctx)
    with ctx.factory() as session:
        assert service.passphrase_matches(session, PASSPHRASE)
        assert not service.passphrase_matches(session, PASSPHRASE + "x")
