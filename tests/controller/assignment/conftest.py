"""Fixtures: a set-up controller and a docking station of simulated cameras."""

from tests.controller.device_rig import rig, self_assign_rig  # noqa: F401
