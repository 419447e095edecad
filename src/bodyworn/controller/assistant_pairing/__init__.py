"""Pairings of body worn users with AXIS Body Worn Assistant (QR code and PIN)."""
