"""A system with something of everything a backup keeps, and a comparison of two systems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from bodyworn.controller.assignment.models import AssignmentSettings, HolsterPairing, SelfAssignTag
from bodyworn.controller.backup import service as backup
from bodyworn.controller.cameras.models import CameraRow
from bodyworn.controller.cameras.states import CameraState
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.identity.models import SystemIdentity
from bodyworn.controller.identity.restore_key import KdfParams
from bodyworn.controller.notifications import service as notifications
from bodyworn.controller.profiles import service as profiles
from bodyworn.controller.setup.models import SystemSettings
from bodyworn.controller.users import service as users
from bodyworn.controller.users.models import BodyWornUser
from tests.controller.conftest import PASSPHRASE

WHO = {"actor": "root", "source": "test"}
FAST = KdfParams(iterations=1, lanes=1, memory_cost_kib=8)


def populate(ctx: ControllerContext) -> dict[str, str]:
    """Profiles, users (one with a non-ASCII name), a tag, a holster pairing, an added camera
    held by a user, readiness and notification settings; the users' uuids by name."""
    now = ctx.clock.now()
    with ctx.factory() as session, session.begin():
        night = profiles.create(session, ctx.clock, "Night shift", {"resolution": "720p"}, **WHO)
        anna = users.create(session, ctx.clock, name="Anna Berg", user_id="officer-1",
                            profile_id=night.id, **WHO)
        bjorn = users.create(session, ctx.clock, name="Björn Ålund", user_id=None, **WHO)
        session.add(SelfAssignTag(tag="125kHz:01A2B3C4D5", user_uuid=anna.uuid, created_at=now))
        session.add(HolsterPairing(user_uuid=anna.uuid, sensor_serial="123456",
                                   camera_serial="B8A44F000001", state="paired",
                                   created_at=now, updated_at=now))
        session.add(CameraRow(serial="B8A44F000001", state=CameraState.ADDED, model="W100",
                              firmware="11.2.3", user_uuid=anna.uuid, docked=False,
                              locked=False, info_json="{}", seen_at=now, added_at=now))
        session.add(AssignmentSettings(id=1, shift_hours=10.0, firmware="11.2.3"))
        notifications.set_smtp(session, ctx.clock, host="mail.example.org", port=465,
                               security="tls", username="mailer", password="smtp secret",
                               clear_password=False, from_address="bw@example.org",
                               ca_pem="", **WHO)
    return {"anna": anna.uuid, "bjorn": bjorn.uuid}


def configure_folder(ctx: ControllerContext, folder: Path, hours: float = 24.0) -> None:
    """Back up to a folder (with cheap key costs: the tests derive keys often)."""
    folder.mkdir(parents=True, exist_ok=True)
    backup.configure(ctx, target=f"folder:{folder}", interval_hours=hours,
                     passphrase=PASSPHRASE, kdf=FAST, **WHO)


def system_view(ctx: ControllerContext) -> dict[str, Any]:
    """What a restore must carry over, in a form two systems can be compared by."""
    with ctx.factory() as session:
        s = session.get(SystemSettings, 1)
        ident = session.get(SystemIdentity, 1)
        assert s is not None and ident is not None
        names = profiles.names_by_id(session)
        return {
            "system": (s.system_id, s.system_name, s.timezone, s.camera_assignment,
                       s.power_line_frequency, s.cloud_extensions, s.cloud_location),
            "public_key": ident.public_key_pem,
            "profiles": sorted((p["name"], p["is_default"], str(p["settings"]))
                               for p in profiles.export_rows(session)),
            "users": sorted((u.uuid, u.name, u.user_id, names[u.profile_id])
                            for u in session.scalars(select(BodyWornUser))),
            "tags": sorted((t.tag, t.user_uuid) for t in session.scalars(select(SelfAssignTag))),
            "holsters": sorted((h.sensor_serial, h.user_uuid, h.state)
                               for h in session.scalars(select(HolsterPairing))),
            "cameras": sorted((c.serial, c.user_uuid) for c in session.scalars(select(CameraRow))),
            "readiness": (lambda r: (r.shift_hours, r.firmware) if r else None)(
                session.get(AssignmentSettings, 1)),
            "mail": notifications.export_settings(session),
        }
