"""bodyworn: an open, complete body worn camera system."""

__version__ = "0.1.0"
