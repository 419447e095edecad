"""Signed firmware bundles: the file format, the release key, building and verifying."""
