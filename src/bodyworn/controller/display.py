"""How the manager writes things for people: field labels, times in the system's zone.

Below every other module of the controller (it imports none): refusals use the labels
for their one-line message, the templates use both (context.py makes them globals).
Times are stored and answered by the API in UTC; pages show them in the system's time
zone, with the zone named.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

# Written the same way in the evidence browser (webui/ holds them for both apps).
from bodyworn.webui import duration, local_time, size, zone_abbreviation, zone_of

__all__ = ["duration", "local_time", "size", "zone_abbreviation", "zone_label", "zone_of"]

# Form field (the name the code and the API use) -> the label people see next to it.
# Every FieldError's field is here (tests/controller/test_words.py checks the sources), so
# no error summary shows an internal name. Translated when shown.
FIELD_LABELS: dict[str, str] = {
    "mode": "System",
    "language": "Language",
    "root_password": "Password",
    "root_password_confirm": "Repeat password",
    "super_admin_passphrase": "Super admin passphrase",
    "super_admin_passphrase_confirm": "Repeat passphrase",
    "restore_key": "System restore key",
    "restore_passphrase": "Super admin passphrase",
    "restore_key_file": "System restore key file",
    "backup_passphrase": "Super admin passphrase",
    "backup_file": "System backup file",
    "restore_key_path": "System restore key",
    "system_name": "System name",
    "listen_host": "Listening address",
    "listen_port": "Port",
    "timezone": "Time zone",
    "time_mode": "Time source",
    "ntp_server": "NTP server",
    "ntp_fallback_server": "Fallback NTP server",
    "manual_time": "Manual time",
    "cloud_location": "Cloud server location",
    "connection_file": "Connection file",
    "power_line_frequency": "Power line frequency",
    "camera_assignment": "Camera assignment",
    "firmware": "Firmware file",
    "firmware_file": "Firmware file",
    "name": "Name",
    "user_id": "User ID",
    "cd_username": "User name at the content destination",
    "profile_id": "Camera profile",
    "camera_profile": "Camera profile",
    "confirm": "Confirmation",
    "passphrase": "Super admin passphrase",
    "common_name": "Common name",
    "hosts": "Host names and IP addresses",
    "country": "Country",
    "key_type": "Key type",
    "days": "Valid for (days)",
    "access": "Access",
    "address": "Email address",
    "smtp_host": "SMTP server",
    "smtp_port": "SMTP port",
    "smtp_security": "Connection security",
    "smtp_username": "SMTP user name",
    "smtp_password": "SMTP password",
    "smtp_ca_pem": "CA certificate of the SMTP server",
    "from_address": "Sender address",
    "organization": "Organization",
    "organizational_unit": "Organizational unit",
    "locality": "City",
    "state": "State or province",
    "certificate": "Certificate",
    "answers": "Answers file",
    # A users CSV file (the column names are in the file; the labels say what they hold).
    "file": "File",
    "columns": "Columns",
    "encoding": "Characters",
    "row": "Row",
    # Camera profile settings (domain/profile.py).
    "profile": "Camera profile",
    "resolution": "Resolution",
    "audio": "Audio",
    "optimize_for_post_processing": "Optimize for post processing",
    "pre_buffer": "Pre-buffer",
    "pre_buffer_length": "Pre-buffer length",
    "pre_buffer_audio": "Audio in the pre-buffer",
    "overlay": "Text overlay",
    "location_data": "Location data",
    "assisted_gnss": "Assisted GNSS",
    "activation": "Recording activation",
    "fall_detection": "Fall detection",
    "front_indicator": "Front recording indicator",
    "notification": "Notification",
    "periodic_reminder": "Periodic recording reminder",
    "allow_silent_mode": "Allow silent mode",
    "allow_audio_off": "Allow audio recording off",
    "disable_front_button_with_mini_cube": "Mini cube sensor",
    "allow_assistant_access": "Assistant",
    "max_clip_length": "Maximum clip length",
    # System backup (backup/).
    "target": "Backup to",
    "folder": "Folder",
    "interval_hours": "Back up every (hours)",
    "copy_of": "Start from",
    "is_default": "Default profile",
}
# Fields whose message is a whole sentence of its own: shown without a label.
STANDALONE = frozenset({"confirm", "ntp_unreachable"})
# A problem with the connection file as a whole (domain/connection_file.py's FILE).
CONNECTION_FILE_PREFIX = "connection_file."
WHOLE_FILE = "file"


def field_label(field: str, gettext: Callable[[str], str] = str) -> str:
    """The label of a form field, translated with `gettext`.

    A connection file attribute keeps its name from the specification, which is what the
    file itself says ("Connection file, ContainerType"); the file as a whole is the
    Connection file. A field without a label is shown by its label-less message alone
    (see error_box); this answers "" for it.
    """
    if field.startswith(CONNECTION_FILE_PREFIX):
        attribute = field.removeprefix(CONNECTION_FILE_PREFIX)
        base = gettext("Connection file")
        return base if attribute == WHOLE_FILE else f"{base}, {attribute}"
    label = None if field in STANDALONE else FIELD_LABELS.get(field)
    return gettext(label) if label else ""


def plural(n: int, singular: str, plural: str) -> str:
    """A count in English words for messages the code writes (pages use ngettext)."""
    return f"{n} {singular if n == 1 else plural}"


def labelled(field: str, message: str, gettext: Callable[[str], str] = str) -> str:
    """One field's problem as a sentence people read: "Label: message"."""
    label = field_label(field, gettext)
    return f"{label}: {message}" if label else message


def zone_label(zone: str, now: datetime) -> str:
    """The system zone named for the page header: "Europe/Stockholm (CET)"."""
    shown = now.astimezone(zone_of(zone))
    short = zone_abbreviation(shown)
    return zone if short == zone else f"{zone} ({short})"
