"""The wireless link's wire format: paths, host names, limits, the bytes a device signs.

Nothing here knows a camera or an app; both sides build and check requests with it.
"""

from __future__ import annotations

from datetime import timedelta

VERSION = "v1"
PREFIX = f"/wireless/{VERSION}"
# The air: what a phone in range sees (no TLS trust needed, nothing secret in it).
BEACONS_PATH = f"{PREFIX}/beacons"
# Per camera (chosen by the TLS server name, see camera_host):
CA_PATH = f"{PREFIX}/ca"
PAIR_PATH = f"{PREFIX}/pair"
CHALLENGE_PATH = f"{PREFIX}/challenge"
SESSION_PATH = f"{PREFIX}/session"
INFO_PATH = f"{PREFIX}/info"
RECORDINGS_PATH = f"{PREFIX}/recordings"
CLIPS_PATH = f"{PREFIX}/clips"
LIVE_PATH = f"{PREFIX}/live"

# A camera's certificate names it `<serial>.camera.bodyworn.invalid`: a name that never
# resolves (RFC 6761), used only as the TLS server name the app asks for and checks.
CAMERA_DOMAIN = "camera.bodyworn.invalid"

# The manual's limits: the QR code and PIN are valid 24 hours; the PIN is entered within
# 5 minutes of undocking the camera. Ours: 5 wrong PINs end the pairing.
PAIRING_VALIDITY = timedelta(hours=24)
PIN_WINDOW = timedelta(minutes=5)
PIN_TRIES = 5
PIN_DIGITS = 6
# Notes the app may attach to a recording (characters).
MAX_NOTES = 2000
# Categories a camera keeps (the CD may publish up to 1000; the app shows a list).
MAX_CATEGORIES = 1000

SESSION_CONTEXT = b"bodyworn-wireless-v1-session\n"
# The codec of the live stream (RFC 6381), so the browser can open a SourceBuffer.
HEADER_CODEC = "X-Bodyworn-Codec"
LIVE_CONTENT_TYPE = "video/mp4"


def camera_host(serial: str) -> str:
    """The TLS server name of camera `serial`."""
    return f"{serial.lower()}.{CAMERA_DOMAIN}"


def serial_of_host(host: str | None) -> str | None:
    """The serial a TLS server name names (upper case), or None when it names no camera."""
    if not host:
        return None
    name = host.lower().rstrip(".")
    suffix = "." + CAMERA_DOMAIN
    if not name.endswith(suffix):
        return None
    serial = name[: -len(suffix)]
    if not serial or "." in serial or not serial.isalnum():
        return None
    return serial.upper()


def session_message(serial: str, pairing_id: str, challenge: str) -> bytes:
    """The bytes a paired device signs to open a session with camera `serial`."""
    return SESSION_CONTEXT + "\n".join([serial.upper(), pairing_id, challenge]).encode("utf-8")
