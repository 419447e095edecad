"""Measure the host clock's offset from an NTP server, falling back to a second server.

The result feeds ``SystemClock.set_offset``; this module never sets the host clock.
A server may be written ``host``, ``host:port``, ``[v6-address]`` or ``[v6-address]:port``;
without a port the ``port`` argument is used.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import timedelta

import ntplib

_NTP_VERSION = 4
_SERVER_MODE = 4
_LEAP_UNSYNCHRONISED = 3


class NtpError(Exception):
    """No usable time could be had from any server tried."""


@dataclass(frozen=True, slots=True)
class NtpResult:
    """One measurement: which server answered, how far off the host clock is, the delay."""

    server_used: str
    offset_seconds: float
    delay_seconds: float

    @property
    def offset(self) -> timedelta:
        """The offset as a timedelta, ready for ``SystemClock.set_offset``."""
        return timedelta(seconds=self.offset_seconds)


def measure_offset(
    server: str, fallback: str | None, *, port: int = 123, timeout: float = 2.0
) -> NtpResult:
    """Ask `server`, then `fallback`, for the time; return the first good measurement."""
    failures: list[str] = []
    for candidate in (server, fallback):
        if candidate is None or not candidate.strip():
            continue
        try:
            return _query(candidate.strip(), port, timeout)
        except NtpError as e:
            failures.append(f"{candidate}: {e}")
    if not failures:
        raise NtpError("no NTP server given")
    raise NtpError("no usable answer from NTP servers (" + "; ".join(failures) + ")")


def split_server(server: str, default_port: int) -> tuple[str, int]:
    """Split ``host[:port]`` or ``[v6][:port]`` into host and port."""
    host, port_text = server, ""
    if server.startswith("["):
        end = server.find("]")
        if end < 0 or (len(server) > end + 1 and server[end + 1] != ":"):
            raise NtpError("malformed address")
        host, port_text = server[1:end], server[end + 2 :]
    elif server.count(":") == 1:
        host, port_text = server.split(":")
    if not host:
        raise NtpError("no host name")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise NtpError(f"bad port {port_text!r}")
    return host, int(port_text)


def _query(server: str, default_port: int, timeout: float) -> NtpResult:
    host, port = split_server(server, default_port)
    try:
        stats = ntplib.NTPClient().request(host, version=_NTP_VERSION, port=port, timeout=timeout)
    except ntplib.NTPException as e:
        raise NtpError(str(e) or "invalid answer") from e
    except socket.gaierror as e:
        raise NtpError(f"cannot resolve host ({e.strerror})") from e
    except OSError as e:
        raise NtpError(e.strerror or str(e)) from e
    # ntplib does not vet the answer; a stratum-0 "kiss of death" or an unsynchronised
    # server would otherwise set our clock to nonsense.
    if stats.mode != _SERVER_MODE:
        raise NtpError(f"answer is not from a server (mode {stats.mode})")
    if not 1 <= stats.stratum <= 15:
        raise NtpError(f"server refused or is unsynchronised (stratum {stats.stratum})")
    if stats.leap == _LEAP_UNSYNCHRONISED:
        raise NtpError("server clock is unsynchronised")
    if stats.tx_timestamp == 0:
        raise NtpError("answer carries no transmit time")
    return NtpResult(
        server_used=server, offset_seconds=float(stats.offset), delay_seconds=float(stats.delay)
    )
