"""The dashboard: every device with its status, and the issues that need attention."""
