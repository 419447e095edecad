"""Cameras: the registry, adding, assigning, removing, unlocking."""
