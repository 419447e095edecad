"""What each dashboard lamp means, as the manual's LED tables say it (our words).

One table per kind of device: the dashboard draws its lamps from these states and its
legend from the same rows, so a lamp never shows a state the legend does not explain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bodyworn.domain.led import (
    AMBER,
    FLASHING_AMBER,
    FLASHING_GREEN,
    GREEN,
    OFF,
    PULSING_AMBER,
    RED,
    LedState,
)


@dataclass(frozen=True)
class Meaning:
    """One lamp state and what it means (translated when shown)."""

    state: LedState
    meaning: str

    @property
    def words(self) -> str:
        """The state in words ("Pulsing amber")."""
        return WORDS[self.state]

    def said(self, gettext: Callable[[str], str]) -> str:
        """What it means, in the page's language (as a lamp says it)."""
        return gettext(self.meaning)

    @property
    def colour(self) -> str:
        """The CSS class word of the colour."""
        return self.state.colour.value

    @property
    def pattern(self) -> str:
        """The CSS class word of the pattern."""
        return self.state.pattern.value


CONTROLLER: tuple[Meaning, ...] = (
    Meaning(GREEN, "Ready"),
    Meaning(AMBER, "Storage warning: less than 8 percent of its storage is free"),
    Meaning(RED, "The connection to the content destination failed, or a storage error"),
)
STATION: tuple[Meaning, ...] = (
    Meaning(GREEN, "Answering; its bays are shown"),
    Meaning(RED, "Not answering: check its power and its network cable"),
    Meaning(OFF, "Not asked yet since the system controller started"),
)
# A docked camera shows its docking status LED.
CAMERA_DOCKED: tuple[Meaning, ...] = (
    Meaning(GREEN, "Ready to use: charged, offloaded, software up to date"),
    Meaning(PULSING_AMBER, "Charging, offloading or updating its software"),
    Meaning(FLASHING_AMBER, "Not added to this system yet, or locked"),
    Meaning(OFF, "No user assigned (with self-assign: ready to be taken)"),
)
# A camera out of the dock shows its operation status LED, as last reported.
CAMERA_OUT: tuple[Meaning, ...] = (
    Meaning(GREEN, "In use: ready to record"),
    Meaning(FLASHING_GREEN, "Less than half an hour of battery or storage left"),
    Meaning(AMBER, "Cannot record: storage, software or another error"),
    Meaning(OFF, "Switched off, or not heard from since it left the dock"),
)
LEGEND: tuple[tuple[str, tuple[Meaning, ...]], ...] = (
    ("System controller", CONTROLLER),
    ("Docking station", STATION),
    ("Camera in a dock", CAMERA_DOCKED),
    ("Camera out of the dock", CAMERA_OUT),
)
UNKNOWN = "State not known"
# How a state is said in words, as the manual's LED tables say it.
WORDS: dict[LedState, str] = {
    GREEN: "Green", AMBER: "Amber", RED: "Red", OFF: "Off",
    FLASHING_GREEN: "Flashing green", FLASHING_AMBER: "Flashing amber",
    PULSING_AMBER: "Pulsing amber",
}


def meaning_of(table: tuple[Meaning, ...], state: LedState) -> str:
    """What a state means in a table (UNKNOWN for one it does not list)."""
    return next((m.meaning for m in table if m.state == state), UNKNOWN)


def every_meaning() -> set[str]:
    """Every text the legend and the lamps may show (for the catalog's test)."""
    return {m.meaning for _title, rows in LEGEND for m in rows} | {
        title for title, _rows in LEGEND} | {UNKNOWN} | set(WORDS.values())
