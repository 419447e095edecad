"""A simulated body worn camera (W100 behaviour) as a state machine on an injected clock.

The camera never reads the host time: every public method first catches the model up to
`clock.now()`, replaying in order whatever fell due in between (start-up finishing, clip
splits, reminders, the battery running out, the eight-week lock), so a test can jump a
ManualClock by weeks and see exactly what the hardware would have done.

`Camera` is assembled from its parts, each building on the one before:
`model` (timings, states, clips, recordings), `state` (the state and the clock loop),
`recording` (recordings, clips, their storage), `dockside` (docking, system, settings,
lock), `power` (battery and storage over time, power on and off, what falls due),
`display` (LEDs and sounds), `buttons` (buttons, accessories, faults) and `assistant`
(pairings with AXIS Body Worn Assistant and what an app may see).
"""

from __future__ import annotations

from bodyworn.devices.camera.assistant import AssistantPart, AssistantRefused
from bodyworn.devices.camera.model import (
    DEFAULT_FIRMWARE,
    DOCK_RESTART_DARK,
    DOCK_RESTART_STARTING,
    EXTENSION_SWITCH_TIME,
    FUNCTION_HOLD,
    LOCK_AFTER_UNDOCKED,
    LOG_LINES,
    MODEL,
    PEEK_TIME,
    POWER_OFF_HOLD,
    POWER_ON_TIME,
    SELF_ASSIGN_WINDOW,
    SILENT_HOLD,
    STOP_HOLD,
    TRACK_STEP,
    UNDOCK_RESTART_TIME,
    CameraError,
    Clip,
    ClipSink,
    Extension,
    Fault,
    Holster,
    Power,
    Recording,
    StopReason,
)

__all__ = [
    "DEFAULT_FIRMWARE",
    "DOCK_RESTART_DARK",
    "DOCK_RESTART_STARTING",
    "EXTENSION_SWITCH_TIME",
    "FUNCTION_HOLD",
    "LOCK_AFTER_UNDOCKED",
    "LOG_LINES",
    "MODEL",
    "PEEK_TIME",
    "POWER_OFF_HOLD",
    "POWER_ON_TIME",
    "SELF_ASSIGN_WINDOW",
    "SILENT_HOLD",
    "STOP_HOLD",
    "TRACK_STEP",
    "UNDOCK_RESTART_TIME",
    "AssistantRefused",
    "Camera",
    "CameraError",
    "Clip",
    "ClipSink",
    "Extension",
    "Fault",
    "Holster",
    "Power",
    "Recording",
    "StopReason",
]


class Camera(AssistantPart):
    """A body worn camera: life cycle, buttons, LEDs, battery, storage, recordings and the
    Assistant."""
