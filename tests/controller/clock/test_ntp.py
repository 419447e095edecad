"""measure_offset against a tiny real SNTP server on a loopback UDP port."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bodyworn.controller.clock.ntp import NtpError, measure_offset, split_server
from bodyworn.domain.clock import SystemClock

NTP_EPOCH_DELTA = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01
PACKET = struct.Struct("!BBbbII4sQQQQ")


def to_ntp(unix_seconds: float) -> int:
    return int((unix_seconds + NTP_EPOCH_DELTA) * 2**32)


class SntpServer:
    """Answers client (mode 3) packets with the host time shifted by `shift` seconds."""

    def __init__(self, shift: float, *, stratum: int = 2, leap: int = 0) -> None:
        self.shift = shift
        self.stratum = stratum
        self.leap = leap
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self.queries = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> SntpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(512)
            except TimeoutError:
                continue
            if len(data) < PACKET.size or data[0] & 0x7 != 3:
                continue
            self.queries += 1
            version = (data[0] >> 3) & 0x7
            client_tx = PACKET.unpack(data[: PACKET.size])[10]
            received = to_ntp(time.time() + self.shift)
            answer = PACKET.pack(
                (self.leap << 6) | (version << 3) | 4,
                self.stratum,
                6,
                -20,
                0,
                0,
                b"TEST",
                received,
                client_tx,
                received,
                to_ntp(time.time() + self.shift),
            )
            self.sock.sendto(answer, peer)


@pytest.fixture
def dead_address() -> Iterator[str]:
    """A loopback port with a socket bound but never answering."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def test_offset_is_measured_from_the_server() -> None:
    with SntpServer(shift=1000.0) as server:
        result = measure_offset(server.address, None, timeout=2.0)
    assert result.server_used == server.address
    assert result.offset_seconds == pytest.approx(1000.0, abs=0.5)
    assert 0 <= result.delay_seconds < 0.5


def test_negative_offset() -> None:
    with SntpServer(shift=-3600.0) as server:
        result = measure_offset(server.address, None)
    assert result.offset_seconds == pytest.approx(-3600.0, abs=0.5)


def test_result_sets_the_system_clock() -> None:
    with SntpServer(shift=1000.0) as server:
        result = measure_offset(server.address, None)
    clock = SystemClock()
    clock.set_offset(result.offset)
    assert abs(clock.offset - timedelta(seconds=1000)) < timedelta(seconds=0.5)


def test_port_argument_is_used_for_a_bare_host() -> None:
    with SntpServer(shift=1000.0) as server:
        result = measure_offset("127.0.0.1", None, port=server.port)
    assert result.offset_seconds == pytest.approx(1000.0, abs=0.5)


def test_dead_primary_falls_back(dead_address: str) -> None:
    with SntpServer(shift=1000.0) as fallback:
        result = measure_offset(dead_address, fallback.address, timeout=0.3)
    assert result.server_used == fallback.address
    assert result.offset_seconds == pytest.approx(1000.0, abs=0.5)


def test_primary_answering_means_fallback_is_not_asked() -> None:
    with SntpServer(shift=10.0) as primary, SntpServer(shift=20.0) as fallback:
        result = measure_offset(primary.address, fallback.address)
    assert result.server_used == primary.address
    assert fallback.queries == 0


def test_both_dead_raises_naming_both(dead_address: str) -> None:
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.1", 0))
    second = f"127.0.0.1:{other.getsockname()[1]}"
    try:
        with pytest.raises(NtpError) as caught:
            measure_offset(dead_address, second, timeout=0.3)
    finally:
        other.close()
    assert dead_address in str(caught.value)
    assert second in str(caught.value)


def test_dead_primary_without_fallback_raises(dead_address: str) -> None:
    with pytest.raises(NtpError, match=dead_address):
        measure_offset(dead_address, None, timeout=0.3)


def test_unresolvable_host_falls_back() -> None:
    with SntpServer(shift=5.0) as fallback:
        result = measure_offset("no-such-host.invalid", fallback.address, timeout=0.5)
    assert result.server_used == fallback.address


@pytest.mark.parametrize(("stratum", "leap"), [(0, 0), (16, 0), (2, 3)])
def test_unsynchronised_or_refusing_server_is_not_trusted(stratum: int, leap: int) -> None:
    with (
        SntpServer(shift=1000.0, stratum=stratum, leap=leap) as bad,
        pytest.raises(NtpError, match="unsynchronised"),
    ):
        measure_offset(bad.address, None, timeout=0.5)


def test_bad_server_falls_back_to_good() -> None:
    with SntpServer(shift=99.0, stratum=0) as bad, SntpServer(shift=5.0) as good:
        result = measure_offset(bad.address, good.address)
    assert result.server_used == good.address
    assert result.offset_seconds == pytest.approx(5.0, abs=0.5)


def test_no_server_given() -> None:
    with pytest.raises(NtpError, match="no NTP server"):
        measure_offset("", None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pool.ntp.org", ("pool.ntp.org", 123)),
        ("10.0.0.1:1123", ("10.0.0.1", 1123)),
        ("::1", ("::1", 123)),
        ("[::1]", ("::1", 123)),
        ("[2001:db8::1]:5123", ("2001:db8::1", 5123)),
    ],
)
def test_split_server(text: str, expected: tuple[str, int]) -> None:
    assert split_server(text, 123) == expected


@pytest.mark.parametrize("text", ["host:0", "host:70000", "host:abc", ":123", "[::1", "[::1]x"])
def test_split_server_refuses_malformed(text: str) -> None:
    with pytest.raises(NtpError):
        split_server(text, 123)
