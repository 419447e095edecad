"""When a system controller may be reset to factory state, as pure rules.

A reset forgets the system: its identity, users, profiles, the content destination it is
locked to. So it waits until nothing depends on it any more: every camera removed (its
evidence at the content destination and the camera back in shipping mode), no evidence
in this controller's spool or not yet at the CD, nothing still to tell the CD, every
extension system controller removed. The backup extension is never reset: it holds the
one copy a failed main controller is restored from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

BACKUP_HOLDER = ("This system controller keeps the system backup, and the backup extension "
                 "cannot be reset. Choose another backup target on the main system "
                 "controller first.")


@dataclass(frozen=True)
class ResetFacts:
    """What a reset decision needs to know."""

    cameras: Sequence[str] = ()           # serials still in the system (added or removing)
    pending_evidence: Sequence[str] = ()  # one line per recording not at the CD yet
    cd_changes: int = 0                   # users and devices still to be sent to the CD
    extensions: Sequence[str] = ()        # extension system controllers not removed
    backup_holder: Sequence[str] = field(default_factory=tuple)  # why this one keeps a backup


def blockers(facts: ResetFacts) -> list[str]:
    """Everything that holds the reset up, in the words the page shows (empty: go ahead)."""
    found: list[str] = []
    if facts.backup_holder:
        found.append(BACKUP_HOLDER)
        found.extend(facts.backup_holder)
    found.extend(f"Camera {serial} is still in the system: remove it first."
                 for serial in facts.cameras)
    found.extend(f"Extension system controller {name} is still in the system: remove it "
                 "first." for name in facts.extensions)
    found.extend(f"Evidence is not at the content destination yet: {line}"
                 for line in facts.pending_evidence)
    if facts.cd_changes:
        found.append(f"{facts.cd_changes} change(s) of users or cameras are still to be sent "
                     "to the content destination.")
    return found
