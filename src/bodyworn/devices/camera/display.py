"""What the camera shows: its LEDs, front indicator and repeating sounds (the manual's tables)."""

from __future__ import annotations

from datetime import datetime

from bodyworn.devices import battery as battery_model
from bodyworn.devices.camera.model import (
    DOCK_RESTART_DARK,
    DOCK_RESTART_STARTING,
    Extension,
    Fault,
    Holster,
    Power,
)
from bodyworn.devices.camera.power import PowerPart
from bodyworn.devices.feedback import (
    MICROPHONE_OFF_STATE,
    Feedback,
    Led,
    Sound,
    all_leds,
    level_state,
)
from bodyworn.domain.led import (
    AMBER,
    FLASHING_AMBER,
    FLASHING_GREEN,
    FLASHING_RED,
    GREEN,
    OFF,
    PULSING_AMBER,
    RED,
    LedState,
)
from bodyworn.domain.profile import FrontIndicator


class DisplayPart(PowerPart):
    """The camera's feedback computed from its state."""

    def feedback(self) -> Feedback:
        """What the camera shows now: LEDs, front indicator, repeating sounds."""
        now = self._now()
        if self.docked:
            return Feedback(self._docked_leds(now))
        if self._power is Power.OFF:
            return Feedback(all_leds(OFF))
        if self._power is Power.STARTING:
            return Feedback(all_leds(PULSING_AMBER))
        if self._user_id is None:
            return Feedback(
                all_leds(FLASHING_RED), beep=Sound.INTERMITTENT, buzz=Sound.INTERMITTENT
            )
        leds = all_leds(OFF)
        if self._locked:
            leds[Led.OPERATION] = AMBER
            return Feedback(leds)
        if self._silent:
            if self._peek_until and now < self._peek_until:
                leds[Led.BATTERY] = self._battery_state()
                leds[Led.STORAGE] = self._storage_state()
            return Feedback(leds)
        leds[Led.RECORDING] = RED if self._recording else OFF
        leds[Led.OPERATION] = self._operation_state()
        leds[Led.BATTERY] = self._battery_state()
        leds[Led.STORAGE] = self._storage_state()
        leds[Led.MICROPHONE] = OFF if self._microphone_on else MICROPHONE_OFF_STATE
        leds[Led.WIRELESS] = {
            Holster.NONE: OFF,
            Holster.PAIRING: PULSING_AMBER,
            Holster.PAIRED: GREEN,
            Holster.FAILED: RED,
        }[self.holster]
        leds[Led.EXTENSION] = {
            Extension.NONE: OFF,
            Extension.SWITCHING: PULSING_AMBER,
            Extension.CONNECTED: GREEN,
            Extension.ERROR: RED,
        }[self._extension]
        front = self._front_state()
        return Feedback(
            leds, front_indicator=front, mini_cube_indicator=front if self.mini_cube else OFF
        )

    def _docked_leds(self, now: datetime) -> dict[Led, LedState]:
        if not self.dock_powered:
            return all_leds(OFF)
        if self.system_id is None:
            return all_leds(FLASHING_AMBER if self.link_up else OFF)
        since = now - (self._docked_at or now)
        if since < DOCK_RESTART_DARK:
            return all_leds(OFF)
        if since < DOCK_RESTART_DARK + DOCK_RESTART_STARTING:
            return all_leds(PULSING_AMBER)
        leds = all_leds(OFF)
        if self._locked:
            leds[Led.DOCKING] = FLASHING_AMBER
            return leds
        if self._self_assign_until:
            return all_leds(FLASHING_GREEN)
        if self._user_id is None:
            return leds
        if Fault.UPLOAD in self.faults:
            leds[Led.DOCKING] = FLASHING_AMBER
            leds[Led.STORAGE] = RED
        elif self._not_charging():
            leds[Led.DOCKING] = FLASHING_AMBER
            leds[Led.BATTERY] = RED
        elif Fault.GENERAL in self.faults:
            leds[Led.DOCKING] = FLASHING_AMBER
        elif self.busy_docked:
            leds[Led.DOCKING] = PULSING_AMBER
        else:
            leds[Led.DOCKING] = GREEN
        return leds

    def _not_charging(self) -> bool:
        if self._battery.full:
            return False
        return Fault.BATTERY_NOT_CHARGING in self.faults or not battery_model.can_charge(self._env)

    @property
    def busy_docked(self) -> bool:
        """Whether charging, offloading or a firmware update is still going on."""
        firmware_busy = self._firmware_until is not None and self._last < self._firmware_until
        return not self._battery.full or bool(self.recordings) or firmware_busy

    def _battery_state(self) -> LedState:
        return level_state(self._battery.hours_left(self.profile, self._env))

    def _storage_state(self) -> LedState:
        return level_state(self._storage.hours_left(self.profile, self._env))

    def _operation_state(self) -> LedState:
        if self._cannot_record():
            return AMBER
        if RED in (self._battery_state(), self._storage_state()):
            return FLASHING_GREEN
        return GREEN

    def _front_state(self) -> LedState:
        if not self._recording:
            return OFF
        return {
            FrontIndicator.ON: RED,
            FrontIndicator.FLASHING: FLASHING_RED,
            FrontIndicator.OFF: OFF,
        }[self.profile.front_indicator]
