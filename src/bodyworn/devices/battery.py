"""Battery model: hours of recording left, drain by conditions, charging time in a dock.

The manual gives the charging time (3 to 6.5 hours from empty), the charging temperature
range and which conditions raise power use; the absolute figures below are our
assumptions, chosen to give a shift-long battery at 1080p.
"""

from __future__ import annotations

from dataclasses import dataclass

from bodyworn.devices.environment import Environment, Scene
from bodyworn.domain.profile import CameraProfile, Resolution

FULL_BATTERY_RECORDING_HOURS = {Resolution.P1080: 9.0, Resolution.P720: 11.0}
SCENE_POWER = {Scene.LOW: 0.95, Scene.MEDIUM: 1.0, Scene.HIGH: 1.1}
LOCATION_POWER = 1.08
OUTDOOR_DISPLAY_POWER = 1.05
POWER_PER_DEGREE_OFF_OPTIMUM = 0.015
OPTIMUM_TEMPERATURE_C = 25.0
# Idle with a pre-buffer still runs sensor and encoder; without one only the housekeeping.
STANDBY_SHARE_WITH_PRE_BUFFER = 0.7
STANDBY_SHARE_WITHOUT_PRE_BUFFER = 0.3

FASTEST_CHARGE_HOURS = 3.0
SLOWEST_CHARGE_HOURS = 6.5
CHARGING_RANGE_C = (0.0, 40.0)


def power_factor(profile: CameraProfile, env: Environment) -> float:
    """How much more power than ideal conditions the camera draws (1.0 = ideal)."""
    factor = SCENE_POWER[env.scene]
    if profile.location_data:
        factor *= LOCATION_POWER
    if env.outdoor:
        factor *= OUTDOOR_DISPLAY_POWER
    factor *= 1 + POWER_PER_DEGREE_OFF_OPTIMUM * abs(env.temperature_c - OPTIMUM_TEMPERATURE_C)
    return factor


def recording_drain_per_hour(profile: CameraProfile, env: Environment) -> float:
    """Share of a full battery used per hour of recording."""
    return power_factor(profile, env) / FULL_BATTERY_RECORDING_HOURS[profile.resolution]


def standby_drain_per_hour(profile: CameraProfile, env: Environment) -> float:
    """Share of a full battery used per hour switched on but not recording."""
    share = STANDBY_SHARE_WITHOUT_PRE_BUFFER
    if profile.pre_buffer:
        share = STANDBY_SHARE_WITH_PRE_BUFFER
    return share * recording_drain_per_hour(profile, env)


def can_charge(env: Environment) -> bool:
    """Whether the temperature allows charging."""
    low, high = CHARGING_RANGE_C
    return low <= env.temperature_c <= high


def charge_hours_from_empty(env: Environment) -> float:
    """Hours to charge a depleted battery: fastest at room temperature, slower toward the edges."""
    distance = min(1.0, abs(env.temperature_c - OPTIMUM_TEMPERATURE_C) / OPTIMUM_TEMPERATURE_C)
    return FASTEST_CHARGE_HOURS + (SLOWEST_CHARGE_HOURS - FASTEST_CHARGE_HOURS) * distance


@dataclass
class Battery:
    """A battery's charge as a share of full (0.0 to 1.0)."""

    charge: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.charge <= 1.0:
            raise ValueError("battery charge must be between 0 and 1")

    @property
    def empty(self) -> bool:
        """Whether the battery is depleted."""
        return self.charge <= 0.0

    @property
    def full(self) -> bool:
        """Whether the battery is fully charged."""
        return self.charge >= 1.0

    def hours_left(self, profile: CameraProfile, env: Environment) -> float:
        """Hours of recording the remaining charge gives under these conditions."""
        return self.charge / recording_drain_per_hour(profile, env)

    def drain(self, hours: float, per_hour: float) -> float:
        """Use charge for `hours` at `per_hour`; return the hours it lasted (less if it emptied)."""
        if per_hour <= 0 or hours <= 0:
            return max(hours, 0.0)
        lasted = min(hours, self.charge / per_hour)
        self.charge = max(0.0, self.charge - lasted * per_hour)
        return lasted

    def charge_for(self, hours: float, env: Environment) -> None:
        """Charge for `hours` in a dock at this temperature (nothing happens out of range)."""
        if hours <= 0 or not can_charge(env):
            return
        self.charge = min(1.0, self.charge + hours / charge_hours_from_empty(env))

    def hours_until_empty(self, per_hour: float) -> float | None:
        """Hours until the battery is empty at this drain, or None if it never is."""
        if per_hour <= 0:
            return None
        return self.charge / per_hour
