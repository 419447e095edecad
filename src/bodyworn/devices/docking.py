"""Docking stations (1-bay and 8-bay): hold cameras, charge them, link them to a controller."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from bodyworn.devices.camera import Camera, CameraError


class DockModel(StrEnum):
    """The docking station models and their bay counts."""

    W700 = "AXIS W700 Docking Station 1-bay"
    W701 = "AXIS W701 Docking Station 8-bay"

    @property
    def bays(self) -> int:
        """How many cameras the station holds."""
        return 1 if self is DockModel.W700 else 8


class DockError(Exception):
    """A bay request the station cannot carry out."""


@dataclass(frozen=True)
class BayEvent:
    """A camera went into or came out of a bay."""

    station: str
    bay: int
    camera: Camera
    docked: bool


DockListener = Callable[[BayEvent], None]


class DockingStation:
    """A docking station: bays, mains power and the cable to a controller's dock port."""

    def __init__(
        self,
        serial: str,
        model: DockModel = DockModel.W701,
        *,
        listener: DockListener | None = None,
    ) -> None:
        self.serial = serial
        self.model = model
        self._bays: list[Camera | None] = [None] * model.bays
        self._listeners: list[DockListener] = [listener] if listener else []
        self.powered = True
        self.controller_port: str | None = None

    def subscribe(self, listener: DockListener) -> None:
        """Call `listener` on every dock and undock."""
        self._listeners.append(listener)

    @property
    def link_up(self) -> bool:
        """Whether docked cameras reach a controller (power and cable both needed)."""
        return self.powered and self.controller_port is not None

    @property
    def led_on(self) -> bool:
        """The station's own LED lights whenever it has power."""
        return self.powered

    @property
    def bays(self) -> tuple[Camera | None, ...]:
        """The camera in each bay (None for an empty bay)."""
        return tuple(self._bays)

    @property
    def cameras(self) -> list[Camera]:
        """The cameras sitting in the station."""
        return [camera for camera in self._bays if camera is not None]

    def bay_of(self, camera: Camera) -> int | None:
        """The bay holding `camera`, if any."""
        for index, held in enumerate(self._bays):
            if held is camera:
                return index
        return None

    def connect(self, controller_port: str) -> None:
        """Cable the station to a controller's docking-station port."""
        self.controller_port = controller_port
        self._tell_cameras()

    def disconnect(self) -> None:
        """Pull the cable to the controller."""
        self.controller_port = None
        self._tell_cameras()

    def set_power(self, on: bool) -> None:
        """Switch mains power (the station cannot run on PoE)."""
        self.powered = on
        for camera in self.cameras:
            camera.set_dock_power(on)
        self._tell_cameras()

    def _tell_cameras(self) -> None:
        for camera in self.cameras:
            camera.set_link(self.link_up)

    def insert(self, camera: Camera, bay: int | None = None) -> int:
        """Put `camera` into a bay (the first free one unless given); return the bay."""
        if self.bay_of(camera) is not None:
            raise DockError(f"camera {camera.serial} is already in this station")
        if camera.docked:
            raise DockError(f"camera {camera.serial} is in another dock")
        if bay is None:
            free = [index for index, held in enumerate(self._bays) if held is None]
            if not free:
                raise DockError("no free bay")
            bay = free[0]
        if not 0 <= bay < len(self._bays):
            raise DockError(f"no bay {bay} on a {self.model.bays}-bay station")
        if self._bays[bay] is not None:
            raise DockError(f"bay {bay} is taken")
        self._bays[bay] = camera
        camera.dock(link_up=self.link_up, powered=self.powered)
        self._emit(BayEvent(self.serial, bay, camera, docked=True))
        return bay

    def remove(self, bay: int) -> Camera:
        """Take the camera out of `bay`; it restarts on battery."""
        if not 0 <= bay < len(self._bays):
            raise DockError(f"no bay {bay} on a {self.model.bays}-bay station")
        camera = self._bays[bay]
        if camera is None:
            raise DockError(f"bay {bay} is empty")
        self._bays[bay] = None
        try:
            camera.undock()
        except CameraError:  # pragma: no cover - undock never refuses today
            self._bays[bay] = camera
            raise
        self._emit(BayEvent(self.serial, bay, camera, docked=False))
        return camera

    def take(self, camera: Camera) -> int:
        """Take `camera` out of whichever bay holds it; return that bay."""
        bay = self.bay_of(camera)
        if bay is None:
            raise DockError(f"camera {camera.serial} is not in this station")
        self.remove(bay)
        return bay

    def _emit(self, event: BayEvent) -> None:
        for listener in self._listeners:
            listener(event)
