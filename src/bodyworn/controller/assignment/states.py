"""The state vocabularies of self-assignment and holster sensor pairing (one place)."""

from __future__ import annotations

from enum import StrEnum


class SelfAssignState(StrEnum):
    """A tap's self-assignment: pending (15 s window) → taken → returned, or lapsed."""

    PENDING = "pending"  # the camera flashes green; the user has 15 s to undock it
    TAKEN = "taken"
    LAPSED = "lapsed"  # not undocked in time: the camera is free again
    RETURNED = "returned"  # docked again after use


class HolsterState(StrEnum):
    """A holster sensor pairing, as the camera reports it after its next undock."""

    PENDING = "pending"
    PAIRED = "paired"
    FAILED = "failed"
