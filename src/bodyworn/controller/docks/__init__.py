"""Docking stations, their bays, and the dock events they post."""
