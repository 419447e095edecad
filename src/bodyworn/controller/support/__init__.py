"""Support → System report: what an administrator hands support, secrets removed."""
