"""The conditions a simulated camera works in, which drive its battery and bitrate."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scene(StrEnum):
    """How busy the scene is: movement and many objects raise both power use and bitrate."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True)
class Environment:
    """Scene complexity, light, indoor or outdoor, and temperature around a camera."""

    scene: Scene = Scene.MEDIUM
    low_light: bool = False
    outdoor: bool = False
    temperature_c: float = 25.0
