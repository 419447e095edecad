"""The device rig for the words tests."""

from tests.controller.device_rig import rig  # noqa: F401
