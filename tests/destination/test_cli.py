"""`bodyworn destination`: the connection-file command, and a real server process driven by
python-swiftclient's `swift` command (listings must page, or `swift list` never ends)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from bodyworn.cdclient import CDConnection, RetryPolicy
from bodyworn.cdclient.conformance import run_conformance
from bodyworn.destination.cli import destination_app, parse_fault
from bodyworn.destination.config import connection_file_for, load_destination
from bodyworn.destination.swift import FaultKind
from bodyworn.domain.connection_file import parse_connection_file

SWIFT = Path(sys.executable).parent / "swift"
PASSWORD = "a long browser password"
# Every subprocess gets a deadline: a listing that never ends must fail, not hang.
TIMEOUT = 20
FAST = RetryPolicy(attempts=2, timeout=10, wait_initial=0.01, wait_max=0.02, wait_jitter=0)


def test_connection_file_plain_and_full(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(
        destination_app,
        ["connection-file", "--data-dir", str(tmp_path), "--port", "9999", "--full-store-and-read"],
    )
    assert r.exit_code == 0, r.output
    parsed = parse_connection_file(r.stdout.encode())
    doc = json.loads(r.stdout)
    assert doc["AuthenticationTokenURI"] == ["http://127.0.0.1:9999/auth/v1.0"]
    assert doc["FullStoreAndReadSupport"] is True and doc["WantEncryption"] is False
    assert parsed is not None
    # Every capability is published now (StoreSignedVideo too): nothing is over-claimed.
    assert "StoreSignedVideo" not in r.stderr
    assert doc["BlobAPIKey"] == load_destination(tmp_path).key
    # A CD made before signed video keeps what it published: the over-claim is pointed out.
    config = json.loads((tmp_path / "destination.json").read_text())
    config["capabilities"]["Store"].remove("StoreSignedVideo")
    (tmp_path / "destination.json").write_text(json.dumps(config))
    older = runner.invoke(destination_app, ["connection-file", "--data-dir", str(tmp_path),
                                            "--port", "9999", "--full-store-and-read"])
    assert older.exit_code == 0 and "StoreSignedVideo" in older.stderr


def test_connection_file_https_and_encryption(tmp_path: Path) -> None:
    args = ["connection-file", "--data-dir", str(tmp_path), "--https", "--encryption"]
    r = CliRunner().invoke(destination_app, args)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    parse_connection_file(r.stdout.encode())
    assert doc["AuthenticationTokenURI"][0].startswith("https://127.0.0.1:8080/")
    assert len(doc["HTTPSCertificate"]) == 1 and doc["WantEncryption"] is True
    assert doc["PublicKeyId"] and "PRIVATE" not in r.stdout
    again = CliRunner().invoke(destination_app, ["connection-file", "--data-dir", str(tmp_path)])
    assert json.loads(again.stdout)["BlobAPIKey"] == doc["BlobAPIKey"]  # same CD, same file
    plain = tmp_path / "plain"
    CliRunner().invoke(destination_app, ["connection-file", "--data-dir", str(plain)])
    refused = CliRunner().invoke(
        destination_app, ["connection-file", "--data-dir", str(plain), "--encryption"]
    )
    assert refused.exit_code == 2 and "encryption" in refused.stderr


def test_parse_fault() -> None:
    rule = parse_fault("Users/=503:2")
    assert (rule.prefix, rule.status, rule.times) == ("Users/", 503, 2)
    assert rule.kind is FaultKind.STATUS
    assert parse_fault("auth=500").times is None
    assert (parse_fault("auth=reset:1").kind, parse_fault("auth=reset:1").times) == (
        FaultKind.RESET, 1)
    assert parse_fault("=cut").kind is FaultKind.CUT and parse_fault("=cut").prefix == ""
    slow = parse_fault("Devices/=slow2.5:3")
    assert (slow.kind, slow.delay, slow.times) == (FaultKind.SLOW, 2.5, 3)
    assert parse_fault("Users/=expire-tokens").kind is FaultKind.EXPIRE_TOKENS
    for bad in ("Users/", "x=200", "x=5xx", "x=503:0", "x=slow", "x=slow0", "x=slow-1",
                "x=resets", "x=cut:0"):
        with pytest.raises(typer.BadParameter):
            parse_fault(bad)


@dataclass
class Running:
    base: str
    user: str
    key: str
    data: Path
    log: Path

    def swift(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run python-swiftclient's CLI against the server, with a deadline."""
        auth = ["-A", f"{self.base}/auth/v1.0", "-U", self.user, "-K", self.key]
        return subprocess.run(
            [str(SWIFT), *auth, *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            cwd=cwd,
            check=False,
            env={**os.environ, "SWIFTCLIENT_INSECURE": "false"},
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """`bodyworn destination` in its own process, started through the typer app."""
    with _running(tmp_path_factory.mktemp("cd"), [
        "--fault",
        "Devices/FAULTY=507",
        "--fault",
        "Devices/DROPPED=reset",
    ]) as running:
        yield running


@contextmanager
def _running(data: Path, extra: list[str]) -> Iterator[Running]:
    pw = data.parent / "pw.txt"
    pw.write_text(PASSWORD + "\n")
    port = _free_port()
    code = (
        "from bodyworn.destination.cli import destination_app; "
        "destination_app(prog_name='bodyworn destination')"
    )
    args = [
        "--data-dir",
        str(data),
        "--port",
        str(port),
        "--browser-password-file",
        str(pw),
        *extra,
    ]
    # Output goes to a file: a pipe nobody reads would stall the server once it fills.
    log = data.parent / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, *args], stdout=sink, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(log.read_text())
            try:
                if httpx.get(f"{base}/auth/v1.0", timeout=1).status_code == 401:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("destination did not start")
            time.sleep(0.05)
        config = load_destination(data)
        yield Running(base, config.user, config.key, data, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_server_process_answers_auth_browser_and_faults(server: Running) -> None:
    r = httpx.get(
        f"{server.base}/auth/v1.0", headers={"X-Auth-User": server.user, "X-Auth-Key": server.key}
    )
    assert r.status_code == 200 and r.headers["X-Storage-Url"].startswith(server.base)
    token = {"X-Auth-Token": r.headers["X-Auth-Token"]}
    storage = r.headers["X-Storage-Url"]
    assert httpx.put(f"{storage}/Devices", headers=token).status_code == 201
    assert httpx.put(f"{storage}/Devices/FAULTY", headers=token, content=b"").status_code == 507
    with pytest.raises(httpx.TransportError):
        httpx.put(f"{storage}/Devices/DROPPED", headers=token, content=b"")
    output = server.log.read_text()
    assert "FAULT INJECTION ON" in output and "Evidence browser:" in output
    assert PASSWORD not in output  # a password from a file is never echoed
    login = httpx.get(f"{server.base}/browser/login")
    assert login.status_code == 200 and "password" in login.text
    assert httpx.get(f"{server.base}/browser/").status_code == 303


def test_swift_cli_lists_stats_uploads_and_downloads(server: Running, tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("first\n")
    (tmp_path / "notes" / "b.txt").write_text("second\n")
    (tmp_path / "top.bin").write_bytes(os.urandom(70_000))
    up = server.swift("upload", "plainbox", "notes", "top.bin", cwd=tmp_path)
    assert up.returncode == 0, up.stderr

    listing = server.swift("list")
    assert listing.returncode == 0, listing.stderr
    assert {"System", "plainbox"} <= set(listing.stdout.split())
    objects = server.swift("list", "plainbox")
    assert objects.stdout.split() == ["notes/a.txt", "notes/b.txt", "top.bin"]
    # Several pages: swift asks again with marker= until a page comes back empty.
    paged = server.swift("list", "plainbox", "--prefix", "notes/")
    assert paged.stdout.split() == ["notes/a.txt", "notes/b.txt"]
    dirs = server.swift("list", "plainbox", "--delimiter", "/")
    assert dirs.stdout.split() == ["notes/", "top.bin"]

    stat = server.swift("stat")
    assert stat.returncode == 0, stat.stderr
    assert f"Containers: {len(listing.stdout.split())}" in stat.stdout
    cstat = server.swift("stat", "plainbox")
    assert "Objects: 3" in cstat.stdout and f"Bytes: {70_000 + 13}" in cstat.stdout

    out = tmp_path / "out"
    out.mkdir()
    down = server.swift("download", "plainbox", "top.bin", "-o", str(out / "top.bin"))
    assert down.returncode == 0, down.stderr
    assert (out / "top.bin").read_bytes() == (tmp_path / "top.bin").read_bytes()
    whole = server.swift("download", "plainbox", "-D", str(out / "all"))
    assert whole.returncode == 0, whole.stderr
    assert (out / "all" / "notes" / "b.txt").read_text() == "second\n"
    refused = server.swift("delete", "plainbox", "top.bin")
    assert refused.returncode != 0  # evidence is not deleted through the API


async def test_server_process_passes_conformance(server: Running, tmp_path: Path) -> None:
    raw = connection_file_for(load_destination(server.data), server.data, [server.base])
    conn = CDConnection.from_parsed(parse_connection_file(raw))
    report = await run_conformance(conn, tmp_path, retry=FAST)
    assert report.ok, report.to_json()


async def test_reference_mode_process_answers_like_the_reference_server(
    tmp_path: Path,
) -> None:
    with _running(tmp_path / "cd", ["--mode", "reference"]) as ref:
        output = ref.log.read_text()
        assert "REFERENCE-LIKE MODE" in output
        raw = connection_file_for(load_destination(ref.data), ref.data, [ref.base])
        conn = CDConnection.from_parsed(parse_connection_file(raw))
        report = await run_conformance(conn, tmp_path / "work", retry=FAST)
        assert report.ok, report.to_json()
        assert [c.name for c in report.warnings] == ["recording"]
        r = httpx.get(f"{ref.base}/auth/v1.0",
                      headers={"X-Auth-User": ref.user, "X-Auth-Key": ref.key})
        token = {"X-Auth-Token": r.headers["X-Auth-Token"]}
        assert r.headers["X-Auth-Token-Expires"] == "900"
        storage = r.headers["X-Storage-Url"]
        assert httpx.get(storage, headers=token).status_code == 403  # no listings
        assert httpx.get(f"{storage}/System/Capabilities.json", headers=token).status_code == 200
    bad = subprocess.run(
        [sys.executable, "-c", "from bodyworn.destination.cli import destination_app; "
         "destination_app(prog_name='bodyworn destination')", "--mode", "s3",
         "--data-dir", str(tmp_path / "other")],
        capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )
    assert bad.returncode == 2 and "--mode" in bad.stderr


RCLONE = shutil.which("rclone")


@pytest.mark.skipif(RCLONE is None, reason="rclone is not installed (scripts/debian-deps.sh "
                    "installs Debian's package)")
def test_rclone_lists_and_copies_from_it(server: Running, tmp_path: Path) -> None:
    assert RCLONE is not None
    # rclone reads a remote's settings from RCLONE_CONFIG_<NAME>_<OPTION> variables.
    env = {**os.environ, "RCLONE_CONFIG_CD_TYPE": "swift",
           "RCLONE_CONFIG_CD_AUTH": f"{server.base}/auth/v1.0",
           "RCLONE_CONFIG_CD_USER": server.user, "RCLONE_CONFIG_CD_KEY": server.key,
           "RCLONE_CONFIG_CD_AUTH_VERSION": "1", "RCLONE_CONFIG": str(tmp_path / "none.conf")}
    source = tmp_path / "src"
    source.mkdir()
    (source / "clip.bin").write_bytes(os.urandom(150_000))
    (source / "note.txt").write_text("rclone was here\n")

    def rclone(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([RCLONE, *args], capture_output=True, text=True, env=env,
                              timeout=TIMEOUT, check=False)

    up = rclone("copy", str(source), "cd:rclonebox")
    assert up.returncode == 0, up.stderr
    listed = rclone("lsf", "cd:rclonebox")
    assert listed.returncode == 0, listed.stderr
    assert sorted(listed.stdout.split()) == ["clip.bin", "note.txt"]
    containers = rclone("lsd", "cd:")
    assert "rclonebox" in containers.stdout
    back = tmp_path / "back"
    down = rclone("copy", "cd:rclonebox", str(back))
    assert down.returncode == 0, down.stderr
    assert (back / "clip.bin").read_bytes() == (source / "clip.bin").read_bytes()
    check = rclone("check", str(source), "cd:rclonebox")  # compares sizes and md5 hashes
    assert check.returncode == 0, check.stderr
