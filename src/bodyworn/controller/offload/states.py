"""The transfer state vocabulary, with labels for the manager (one place, per STYLE 6)."""

from __future__ import annotations

ON_CAMERA = "on_camera"
IN_SPOOL = "in_spool"
DELIVERING = "delivering"
AT_CD = "at_cd"
REJECTED = "rejected"
NOT_TRANSFERRED = "not_transferred"

# Recording: on_camera → in_spool → delivering → at_cd | rejected | not_transferred.
# Clip: on_camera → in_spool → at_cd | rejected | not_transferred (released_at and
# spool_removed_at record the camera's deletion and the spool's, independently).
LABELS: dict[str, str] = {
    ON_CAMERA: "On the camera",
    IN_SPOOL: "In the controller",
    DELIVERING: "Delivering",
    AT_CD: "At the content destination",
    REJECTED: "In rejected content",
    NOT_TRANSFERRED: "Not transferred",
}

# A recording under delivery whose last try failed, until its next one (its time and
# last error are shown with it).
WAITING_TO_RETRY = "Waiting to retry"

# Where the evidence no longer needs the controller (the CD holds it).
DONE = frozenset({AT_CD, REJECTED})
# Recordings the deliver loop works on.
DELIVERABLE = frozenset({IN_SPOOL, DELIVERING})
# Clips the controller holds durably, so the camera may be told to delete them.
HELD = frozenset({IN_SPOOL, AT_CD, REJECTED, NOT_TRANSFERRED})
