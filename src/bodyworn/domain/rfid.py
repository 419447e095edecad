"""Self-assign RFID tags: the two tag families, what a tag id looks like, and enrolment.

Shared by the simulated RFID reader and the manager, which stores a user's tag and
matches the taps the dock reader reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

ENROLMENT_TAPS = 3
# Low-frequency (EM4100-style) tags carry 40 bits; high-frequency (ISO 14443) UIDs are 4,
# 7 or 10 bytes.
_TAG_DIGITS = {"125kHz": (10,), "13.56MHz": (8, 14, 20)}


class TagFrequency(StrEnum):
    """The two tag families the reader understands."""

    LF_125KHZ = "125kHz"
    HF_13_56MHZ = "13.56MHz"


@dataclass(frozen=True)
class Tag:
    """A self-assign tag: its frequency and its id as upper-case hex."""

    uid: str
    frequency: TagFrequency

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[0-9A-F]+", self.uid):
            raise ValueError("tag id must be upper-case hexadecimal")
        if len(self.uid) not in _TAG_DIGITS[self.frequency.value]:
            raise ValueError(f"a {self.frequency.value} tag id has not {len(self.uid)} digits")

    @property
    def key(self) -> str:
        """One string naming the tag, for storage and lookup."""
        return f"{self.frequency.value}:{self.uid}"


class EnrolmentError(ValueError):
    """A tap during enrolment did not fit."""


class TagEnrolment:
    """Registering a tag for a user: the same tag must be tapped a few times in a row."""

    def __init__(self, taps_needed: int = ENROLMENT_TAPS) -> None:
        self.taps_needed = taps_needed
        self._tag: Tag | None = None
        self.taps = 0

    def __call__(self, tag: Tag) -> None:
        """Count a tap; a different tag starts the count again."""
        if self._tag is not None and tag != self._tag:
            self._tag, self.taps = tag, 1
            return
        self._tag = tag
        self.taps = min(self.taps + 1, self.taps_needed)

    @property
    def done(self) -> bool:
        """Whether every progress dot is filled."""
        return self.taps >= self.taps_needed

    @property
    def tag(self) -> Tag:
        """The enrolled tag once done."""
        if not self.done or self._tag is None:
            raise EnrolmentError("keep tapping the tag")
        return self._tag
