"""Support → System reset: back to the first-start wizard once nothing is left to lose."""
