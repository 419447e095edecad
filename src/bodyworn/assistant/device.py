"""What the phone keeps: its device key, its one pairing, the browser sessions of its screen.

All of it lives in the app's data directory, private to its owner (0700 / 0600). The
device key is made on first start and never leaves the phone: cameras learn only its
public half. A device holds one pairing at a time (the manual: a mobile device pairs
with one body worn user); replacing it forgets the old one first.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bodyworn.store.files import write_file_atomic
from bodyworn.store.private import secure_data_dir
from bodyworn.wireless.pairing import device_keypair

KEY_FILE = "device_key.pem"
PAIRING_FILE = "pairing.json"
SESSIONS_FILE = "sessions.json"
# How long the phone's browser stays let in without opening the app's link again.
SESSION_DAYS = 30


@dataclass(frozen=True)
class StoredPairing:
    """The device's pairing: which one, the system CA it pinned, whose it is."""

    pairing_id: str
    fingerprint: str
    ca_pem: str
    user_id: str
    camera: str
    paired_at: float


class DeviceStore:
    """The app's data directory."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.data_dir = secure_data_dir(data_dir)
        self._lock = threading.Lock()
        self._key: tuple[bytes, str] | None = None

    # ---- the device key ------------------------------------------------------------------

    def device_key(self) -> tuple[bytes, str]:
        """(private PEM, public PEM) of the device key, made on first use."""
        with self._lock:
            if self._key is None:
                path = self.data_dir / KEY_FILE
                if path.exists():
                    private = path.read_bytes()
                    from cryptography.hazmat.primitives import serialization

                    key = serialization.load_pem_private_key(private, password=None)
                    public = key.public_key().public_bytes(
                        serialization.Encoding.PEM,
                        serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")
                    self._key = (private, public)
                else:
                    self._key = device_keypair()
                    write_file_atomic(path, self._key[0], mode=0o600)
            return self._key

    # ---- the pairing --------------------------------------------------------------------

    def pairing(self) -> StoredPairing | None:
        """The device's pairing, if it has one."""
        path = self.data_dir / PAIRING_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return StoredPairing(**data)
        except FileNotFoundError:
            return None
        except (ValueError, TypeError):
            return None  # a damaged file: the device pairs again

    def save_pairing(self, pairing: StoredPairing) -> None:
        """Keep a completed pairing."""
        write_file_atomic(self.data_dir / PAIRING_FILE,
                          json.dumps(asdict(pairing), indent=2).encode("utf-8"), mode=0o600)

    def forget_pairing(self) -> None:
        """Remove the pairing from the device (the first step of replacing it)."""
        (self.data_dir / PAIRING_FILE).unlink(missing_ok=True)

    # ---- the screen's sessions ------------------------------------------------------------

    def _sessions(self) -> dict[str, float]:
        try:
            data = json.loads((self.data_dir / SESSIONS_FILE).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        now = time.time()
        return {k: float(v) for k, v in data.items()
                if isinstance(v, int | float) and now - float(v) < SESSION_DAYS * 86400}

    def new_session(self) -> str:
        """A browser session (its cookie's value); only its hash is kept."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            sessions = self._sessions()
            sessions[_hash(token)] = time.time()
            write_file_atomic(self.data_dir / SESSIONS_FILE,
                              json.dumps(sessions).encode("utf-8"), mode=0o600)
        return token

    def session_valid(self, token: str | None) -> bool:
        """Whether a cookie's value is a live session of this app."""
        if not token or len(token) > 128:
            return False
        with self._lock:
            return _hash(token) in self._sessions()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
