"""Docking: the one place where a dock or an undock is handled, from event to offload."""
