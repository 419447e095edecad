"""Running the embedded CD as a real server on a loopback port."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import pytest

from bodyworn.cdclient import CDClient, CDConnection, CDDevice, RetryPolicy
from bodyworn.destination.config import connection_file_for, load_destination
from bodyworn.destination.serve import certificate_hosts, make_server, prepare
from bodyworn.domain.connection_file import parse_connection_file

FAST = RetryPolicy(attempts=2, timeout=10, wait_initial=0.01, wait_max=0.02, wait_jitter=0)


def test_certificate_hosts() -> None:
    assert certificate_hosts("10.0.0.5") == ["10.0.0.5"]
    assert "127.0.0.1" in certificate_hosts("0.0.0.0")


def test_settings_are_fixed_at_first_run(tmp_path: Path) -> None:
    prepare(tmp_path, host="127.0.0.1", https=False, encryption=False, site_name="s")
    with pytest.raises(ValueError, match="HTTPS"):
        prepare(tmp_path, host="127.0.0.1", https=True, encryption=False, site_name="s")
    with pytest.raises(ValueError, match="encryption"):
        prepare(tmp_path, host="127.0.0.1", https=False, encryption=True, site_name="s")


async def test_https_server_serves_the_client(tmp_path: Path) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = await make_server(tmp_path, host="127.0.0.1", port=port, https=True)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.01)
        config = load_destination(tmp_path)
        raw = connection_file_for(config, tmp_path, [f"https://127.0.0.1:{port}"])
        conn = CDConnection.from_parsed(parse_connection_file(raw))
        async with CDClient(conn, retry=FAST) as client:
            await client.put_device(CDDevice("S1", "Cam", "W110"))
            assert (await client.capabilities()).supports("StoreRejectedContent")
        with pytest.raises(httpx.ConnectError):
            async with httpx.AsyncClient() as plain:
                await plain.get(f"https://127.0.0.1:{port}/auth/v1.0")
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()
