"""Fixtures: a set-up controller whose docking runs the whole on-dock sequence."""

from tests.controller.device_rig import synced_rig  # noqa: F401
