"""Getting started: the manual's first steps after setup, each ticked from what is there.

The dashboard shows the list until every step is done: a camera profile, users, docking
stations reporting, cameras added, cameras given to users (assigned, or self-assign tags
paired), and a first recording at the content destination.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from bodyworn.controller.assignment import service as assignment
from bodyworn.controller.cameras import service as cameras
from bodyworn.controller.docks import service as docks
from bodyworn.controller.metrics import service as metrics
from bodyworn.controller.profiles import service as profiles
from bodyworn.controller.users import service as users
from bodyworn.domain.assignment import Mode


@dataclass(frozen=True)
class Step:
    """One step: what to do, whether it is done, where to do it, and what is there."""

    key: str
    title: str
    done: bool
    link: str
    # What the system holds now, said in numbers (translated with ngettext when shown).
    count: int | None = None


@dataclass(frozen=True)
class Checklist:
    """The steps in the manual's order."""

    steps: tuple[Step, ...]

    @property
    def complete(self) -> bool:
        """Every step is done."""
        return all(s.done for s in self.steps)

    @property
    def done_count(self) -> int:
        """How many steps are done."""
        return sum(1 for s in self.steps if s.done)


def checklist(session: Session, mode: Mode) -> Checklist:
    """The Getting started steps, ticked from the database (reads only)."""
    added = cameras.registered(session)
    people = users.count(session)
    if mode == Mode.FIXED:
        given = sum(1 for c in added if c.user_uuid)
        hand_out = Step("assign", "Assign each camera to a user",
                        bool(added) and given == len(added), "/cameras", given)
    else:
        tags = assignment.paired_tags(session)
        hand_out = Step("tags", "Pair the users' self-assign tags", tags > 0, "/users", tags)
    stations = len(docks.list_stations(session))
    return Checklist((
        Step("setup", "Set up the system", True, "/settings/system"),
        Step("profile", "Create a camera profile, or adjust one", profiles.customised(session),
             "/profiles"),
        Step("users", "Add users", people > 0, "/users", people),
        Step("stations", "Connect the docking stations and dock the cameras", stations > 0,
             "/docks", stations),
        Step("cameras", "Add the docked cameras", bool(added), "/devices/new", len(added)),
        hand_out,
        Step("offload", "Record, then dock: the recordings reach the content destination",
             metrics.delivered_clips(session) > 0, "/transfers"),
    ))
