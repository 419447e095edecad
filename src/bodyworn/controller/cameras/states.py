"""The camera registry's state vocabulary (one place, per STYLE 6)."""

from __future__ import annotations

from enum import StrEnum


class CameraState(StrEnum):
    """Where a camera stands with this system: new → added → removing (→ forgotten)."""

    NEW = "new"  # seen docked, not added to this system
    ADDED = "added"
    REMOVING = "removing"  # removal asked; done at a docking once everything is offloaded
