"""Power: the battery and storage over time, starting up and shutting down, what falls due."""

from __future__ import annotations

from datetime import datetime

from bodyworn.devices import battery as battery_model
from bodyworn.devices.camera.dockside import DockPart
from bodyworn.devices.camera.model import (
    LOCK_AFTER_UNDOCKED,
    POWER_OFF_HOLD,
    POWER_ON_TIME,
    Fault,
    Power,
    StopReason,
    moment_after,
)
from bodyworn.devices.feedback import Sound
from bodyworn.devices.storage import bitrate


class PowerPart(DockPart):
    """The clock loop's steps (what falls due, what time wears down) and the power button."""

    def _next_event(self, after: datetime) -> datetime | None:
        due: list[datetime] = []
        for moment in (
            self._ready_at,
            self._self_assign_until,
            self._extension_until,
            self._next_reminder if self._recording else None,
        ):
            if moment is not None:
                due.append(moment)
        if self._recording and self._recording.clips:
            due.append(self._recording.clips[-1].start + self.profile.max_clip_length)
        if self._running() and not self._on_mains():
            hours = self._battery.hours_until_empty(self._drain_per_hour())
            if hours is not None:
                due.append(moment_after(after, hours))
        if self._recording:
            per_second = bitrate(self.profile, self._env) / 8
            storage_hours = self._storage.free_bytes(self.profile) / per_second / 3600
            due.append(moment_after(after, storage_hours))
        if self._undocked_at and self.system_id and not self.docked and not self._locked:
            due.append(self._undocked_at + LOCK_AFTER_UNDOCKED)
        later = [moment for moment in due if moment > after]
        return min(later) if later else None

    def _drain_per_hour(self) -> float:
        if self._recording:
            return battery_model.recording_drain_per_hour(self.profile, self._env)
        return battery_model.standby_drain_per_hour(self.profile, self._env)

    def _integrate(self, start: datetime, end: datetime) -> None:
        hours = (end - start).total_seconds() / 3600
        if hours <= 0:
            return
        if self._on_mains():
            if Fault.BATTERY_NOT_CHARGING not in self.faults:
                self._battery.charge_for(hours, self._env)
        elif self._running():
            self._battery.drain(hours, self._drain_per_hour())
            if self._battery.charge < 1e-9:
                self._battery.charge = 0.0
        if self._recording:
            written = self._storage.write(hours * 3600, self.profile, self._env)
            per_second = bitrate(self.profile, self._env) / 8
            self._recording.clips[-1].nominal_bytes += written * per_second

    def _fire_due(self) -> None:
        now = self._last
        if self._ready_at and now >= self._ready_at:
            self._ready_at = None
            self._power = Power.ON
            self._buffer_since = now
            if self.profile.location_data:
                self.gnss.switch_on(now, assisted=self.profile.assisted_gnss)
        if self._self_assign_until and now >= self._self_assign_until:
            self._self_assign_until = None
            if self.docked:
                self._user_id = None
        if self._extension_until and now >= self._extension_until:
            self._extension_until = None
            self._extension = self._extension_target
        if self._running() and self._battery.empty:
            self._power_off(StopReason.BATTERY_EMPTY)
        if self._recording and self._storage.full(self.profile):
            self._stop(StopReason.STORAGE_FULL)
        if (
            self._undocked_at
            and self.system_id
            and not self.docked
            and not self._locked
            and now >= self._undocked_at + LOCK_AFTER_UNDOCKED
        ):
            self._lock()
            self._note("warning", "locked: undocked for eight weeks")
        while self._recording:
            boundary = self._recording.clips[-1].start + self.profile.max_clip_length
            if now < boundary:
                break
            self._split(boundary)
        if self._recording and self._next_reminder and now >= self._next_reminder:
            self._signal("reminder", Sound.NONE, Sound.SHORT)
            interval = self.profile.periodic_reminder
            self._next_reminder = now + interval if interval else None

    # ---- power on and off ---------------------------------------------------------

    def _power_button(self, now: datetime, hold: float) -> None:
        if self.docked:
            return
        if self._power is Power.OFF:
            if self.system_id is None or self._battery.empty:
                return
            self._power = Power.STARTING
            self._ready_at = now + POWER_ON_TIME
        elif hold >= POWER_OFF_HOLD:
            self._notify("power_off")
            self._power_off(StopReason.POWER_OFF)

    def _power_off(self, reason: StopReason) -> None:
        if self._recording:
            self._stop(reason)
        self._note("info", f"powered off ({reason.value})")
        self._power = Power.OFF
        self.gnss.switch_off()
        self._ready_at = None
        self._buffer_since = None
        self._silent = False
        self._peek_until = None

    def connect_usb_power(self, connected: bool = True) -> None:
        """Plug a 5 V USB charger or power bank in (or out)."""
        self._sync()
        self.usb_power = connected

    def battery_hours_left(self) -> float:
        """Hours of recording the battery has left under present conditions."""
        self._sync()
        return self._battery.hours_left(self.profile, self._env)

    def storage_hours_left(self) -> float:
        """Hours of recording the free storage holds under present conditions."""
        self._sync()
        return self._storage.hours_left(self.profile, self._env)
