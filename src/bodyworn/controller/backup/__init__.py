"""The system backup: an encrypted copy of the configuration, sent daily; restore from it."""
