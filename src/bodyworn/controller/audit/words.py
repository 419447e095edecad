"""The audit log in people's words: what each action code means, who and how it ended.

Entries keep their codes (the hash chain covers them, the API and the CSV export give
them); pages show these words instead. An action without words here (a newer feature's)
is shown as its code made readable.
"""

from __future__ import annotations

import re

ACTIONS: dict[str, str] = {
    "setup.completed": "Set up the system",
    "login": "Logged in",
    "logout": "Logged out",
    "password.change": "Changed the password",
    "system.rename": "Renamed the system",
    "system.time": "Changed the date and time",
    "system.privacy": "Changed the privacy settings",
    "system.cloud": "Turned on cloud extensions",
    "restore_key.download": "Downloaded the System restore key",
    "destination.replace": "Replaced the content destination connection file",
    "profile.preconfigure": "Made the pre-configured camera profiles",
    "profile.create": "Created a camera profile",
    "profile.update": "Changed a camera profile",
    "profile.default": "Made a camera profile the default",
    "profile.remove": "Removed a camera profile",
    "user.create": "Added a user",
    "user.update": "Changed a user",
    "user.remove": "Removed a user",
    "user.import": "Imported users",
    "camera.add": "Added a camera",
    "camera.assign": "Assigned a camera",
    "camera.remove.request": "Asked to remove a camera",
    "camera.remove": "Removed a camera",
    "camera.unlock": "Unlocked a camera",
    "dock.token.reveal": "Showed the dock port token",
    "assignment.settings": "Changed the self-assign settings",
    "assignment.tag.pair": "Paired a self-assign tag",
    "assignment.tag.remove": "Removed a self-assign tag",
    "assignment.self.tap": "Tapped a tag at the dock reader",
    "assignment.self.take": "Took a camera with a tag",
    "assignment.self.lapse": "A self-assignment lapsed",
    "assignment.holster.pair": "Paired a holster sensor",
    "assignment.holster.remove": "Removed a holster sensor",
    "assistant.pair.start": "Started a Body Worn Assistant pairing",
    "assistant.pair.complete": "Completed a Body Worn Assistant pairing",
    "assistant.pair.blocked": "Blocked a Body Worn Assistant pairing",
    "assistant.pair.remove": "Removed a Body Worn Assistant pairing",
    "notifications.address": "Changed the notification address",
    "notifications.smtp": "Changed the mail server",
    "token.create": "Made an API token",
    "token.revoke": "Revoked an API token",
    "certificate.create": "Made a self-signed certificate",
    "certificate.csr": "Made a certificate signing request",
    "certificate.install": "Installed a certificate",
    "certificate.activate": "Activated a certificate",
    "certificate.delete": "Deleted a certificate",
}
OUTCOMES: dict[str, str] = {"success": "Done", "denied": "Refused", "failure": "Failed"}
# Who did it, when it was not an account: the words for the system's own actors.
ACTORS: dict[str, str] = {"system": "The system", "demo": "The demo", "rfid": "Dock reader",
                          "dock": "Docking station"}
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def action_words(action: str) -> str:
    """What an action code means (a code without words: the code made readable)."""
    known = ACTIONS.get(action)
    if known:
        return known
    text = action.replace(".", " ").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def readable_detail(detail: str, names: dict[str, str]) -> str:
    """A detail with the user uuids it names replaced by the users' names (`names`), and
    arrows drawn as arrows."""
    shown = _UUID.sub(lambda m: names.get(m.group(0), m.group(0)), detail)
    return shown.replace(" -> ", " → ")


def uuids_in(details: list[str]) -> set[str]:
    """Every uuid the details mention."""
    return {m.group(0) for d in details for m in _UUID.finditer(d)}
