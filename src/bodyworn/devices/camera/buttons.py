"""The buttons, the mini cube sensor, camera extensions and injected faults."""

from __future__ import annotations

from bodyworn.devices.camera.display import DisplayPart
from bodyworn.devices.camera.model import (
    EXTENSION_SWITCH_TIME,
    FUNCTION_HOLD,
    PEEK_TIME,
    SILENT_HOLD,
    STOP_HOLD,
    Extension,
    Fault,
    Power,
    StopReason,
)
from bodyworn.devices.feedback import Button, Sound
from bodyworn.domain.profile import RecordingActivation, Trigger


class ButtonsPart(DisplayPart):
    """What the user and the accessories do to the camera."""

    def press(self, button: Button, hold: float = 0.0, clicks: int = 1) -> None:
        """Press `button` for `hold` seconds, `clicks` times in quick succession."""
        now = self._now()
        if button is Button.POWER:
            self._power_button(now, hold)
            return
        if self.docked or self._power is not Power.ON or self._user_id is None:
            return
        if button is Button.FRONT:
            if self.mini_cube and self.profile.disable_front_button_with_mini_cube:
                return
            self._record_button(hold, clicks, Trigger.BUTTON, StopReason.BUTTON)
        elif button is Button.FUNCTION:
            if hold >= FUNCTION_HOLD and self.profile.allow_audio_off and self.profile.audio:
                self._toggle_microphone(now)
        elif button is Button.TOP:
            if hold >= SILENT_HOLD:
                if self.profile.allow_silent_mode:
                    self._silent = not self._silent
            else:
                self._peek_until = now + PEEK_TIME
                if self._extension is Extension.ERROR and not self._extension_fault_in_camera:
                    self._extension = Extension.NONE

    def press_mini_cube(self, hold: float = 0.0) -> None:
        """Press the mini cube sensor's recording button."""
        self._sync()
        if not self.mini_cube or self.docked or self._power is not Power.ON or not self._user_id:
            return
        self._record_button(hold, 0, Trigger.MINI_CUBE_BUTTON, StopReason.MINI_CUBE_BUTTON)

    def _record_button(
        self, hold: float, clicks: int, trigger: Trigger, reason: StopReason
    ) -> None:
        if hold >= STOP_HOLD:
            if self._recording:
                self._stop(reason)
            return
        needed = 2 if self.profile.activation is RecordingActivation.DOUBLE_CLICK else 1
        if trigger is Trigger.MINI_CUBE_BUTTON or clicks >= needed:
            self.start_recording(trigger)

    # ---- faults and accessories ---------------------------------------------------

    def set_fault(self, fault: Fault, present: bool = True) -> None:
        """Inject or clear a fault."""
        self._sync()
        if present:
            self.faults.add(fault)
            self._note("error", f"fault: {fault.value}")
            if fault in (Fault.SOFTWARE, Fault.STORAGE) and self._running():
                if self._recording:
                    self._stop(StopReason.FAULT)
                self._signal("cannot_record", Sound.TWO_SHORT_ONE_LONG, Sound.TWO_SHORT_ONE_LONG)
        elif fault in self.faults:
            self.faults.discard(fault)
            self._note("info", f"fault cleared: {fault.value}")

    def connect_extension(self) -> None:
        """Plug in a camera extension: the camera switches source, then shows it connected."""
        now = self._now()
        self._extension = Extension.SWITCHING
        self._extension_target = Extension.CONNECTED
        self._extension_until = now + EXTENSION_SWITCH_TIME

    def disconnect_extension(self) -> None:
        """Unplug the camera extension (a fault indication stays until the top button)."""
        now = self._now()
        if self._extension is Extension.ERROR:
            return
        self._extension = Extension.SWITCHING
        self._extension_target = Extension.NONE
        self._extension_until = now + EXTENSION_SWITCH_TIME

    def extension_fault(self, *, in_camera: bool = False) -> None:
        """The sensor camera (or, with `in_camera`, the body worn camera's port) is faulty."""
        self._sync()
        self._extension_until = None
        self._extension = Extension.ERROR
        self._extension_fault_in_camera = in_camera
        self._signal("extension_fault", Sound.SHORT, Sound.SHORT)

    def connect_mini_cube(self, connected: bool = True) -> None:
        """Plug in (or out) a mini cube sensor with its own recording button."""
        self._sync()
        self.mini_cube = connected
