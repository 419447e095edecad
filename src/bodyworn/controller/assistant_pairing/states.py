"""The vocabulary of Assistant pairings (one place): states, how they were handed out."""

from __future__ import annotations

from enum import StrEnum


class PairingState(StrEnum):
    """A pairing: pending (QR code and PIN valid 24 h) → paired, or blocked.

    Whether a pending pairing has expired is read from its `expires_at`, not stored.
    """

    PENDING = "pending"
    PAIRED = "paired"  # a device completed it on a camera of the user
    BLOCKED = "blocked"  # see BlockedReason


class BlockedReason(StrEnum):
    """Why a pairing was blocked (reported by a camera at its docking)."""

    WRONG_PINS = "wrong_pins"  # too many wrong PINs were entered
    DEVICE_TAKEN = "device_taken"  # the device is paired with another user


class PairingMode(StrEnum):
    """How the QR code reaches the user (the manual's Local and Remote pairing)."""

    LOCAL = "local"  # shown on the manager's screen, next to the user's camera and phone
    REMOTE = "remote"  # sent to the user: today a pairing sheet to download and hand over
