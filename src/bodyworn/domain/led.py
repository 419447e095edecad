"""The LED vocabulary shared by the simulated devices and the manager: colours and patterns.

A camera reports each LED as text ("pulsing amber", "steady green", "off"); the manager
draws its lamps in the same words.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Colour(StrEnum):
    """Colour an LED shows."""

    OFF = "off"
    GREEN = "green"
    AMBER = "amber"
    RED = "red"

    @property
    def css(self) -> str:
        """A colour a web page can paint this LED with."""
        return {"off": "#3b3f45", "green": "#2f9e44", "amber": "#f08c00", "red": "#e03131"}[
            self.value
        ]


class Pattern(StrEnum):
    """How an LED is lit: flashing is a hard on/off blink, pulsing a slow fade."""

    OFF = "off"
    STEADY = "steady"
    FLASHING = "flashing"
    PULSING = "pulsing"


class LedState(NamedTuple):
    """One LED's colour and pattern."""

    colour: Colour
    pattern: Pattern

    def __str__(self) -> str:
        if self.pattern is Pattern.OFF:
            return "off"
        return f"{self.pattern.value} {self.colour.value}"

    @classmethod
    def parse(cls, text: str) -> LedState:
        """The state `str()` wrote ("off", "steady green", "pulsing amber"); ValueError if not."""
        words = text.split()
        if words == ["off"]:
            return OFF
        if len(words) != 2:
            raise ValueError(f"not an LED state: {text!r}")
        pattern, colour = Pattern(words[0]), Colour(words[1])
        if pattern is Pattern.OFF or colour is Colour.OFF:
            raise ValueError(f"not an LED state: {text!r}")
        return cls(colour, pattern)


OFF = LedState(Colour.OFF, Pattern.OFF)
GREEN = LedState(Colour.GREEN, Pattern.STEADY)
AMBER = LedState(Colour.AMBER, Pattern.STEADY)
RED = LedState(Colour.RED, Pattern.STEADY)
FLASHING_GREEN = LedState(Colour.GREEN, Pattern.FLASHING)
FLASHING_AMBER = LedState(Colour.AMBER, Pattern.FLASHING)
FLASHING_RED = LedState(Colour.RED, Pattern.FLASHING)
PULSING_AMBER = LedState(Colour.AMBER, Pattern.PULSING)
