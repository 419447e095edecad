"""The words the app's script shows, as msgids of the shared catalog (i18n/).

The shell page hands them to the script translated into the phone's language; the
refusals' sentences are in `camera.MESSAGES`.
"""

from __future__ import annotations

from collections.abc import Callable

STRINGS: dict[str, str] = {
    "app": "Body Worn Assistant",
    "recordings": "Recordings",
    "live": "Live view",
    "connect": "Connect",
    "new_pairing": "New pairing",
    "pair_title": "Pair with your camera",
    "pair_intro": "Your administrator gave you a QR code and a PIN. The QR code and the PIN"
                  " are valid for 24 hours.",
    "scan": "Scan the QR code",
    "scan_stop": "Stop scanning",
    "paste_label": "Or paste the QR code's text",
    "paste_only": "Paste the QR code's text",
    "use_code": "Use this code",
    "code_ok": "The QR code is read.",
    "pin_intro": "Undock your camera and wait until it has started. Then enter the PIN"
                 " within 5 minutes.",
    "pin_label": "PIN",
    "pair": "Pair",
    "paired": "Paired. Your camera's recordings are shown here until you dock it.",
    "replace_title": "Replace the pairing",
    "replace_confirm": "Remove the existing pairing from this device? You need a new QR code"
                       " and PIN from your administrator to pair again.",
    "replace_yes": "Remove the pairing",
    "cancel": "Cancel",
    "refresh": "Refresh",
    "pull": "Pull down to refresh",
    "release": "Release to refresh",
    "no_recordings": "No recordings on the camera. Recordings are shown here until you dock"
                     " the camera.",
    "loading": "Loading…",
    "back": "Back",
    "play": "Play",
    "pause": "Pause",
    "frame_back": "One frame back",
    "frame_forward": "One frame forward",
    "slow": "Slow motion",
    "clip": "Clip",
    "of": "of",
    "information": "Information",
    "close": "Close",
    "category": "Category",
    "no_category": "No category",
    "notes": "Notes",
    "saved": "Saved on the camera.",
    "no_annotations": "Categories and notes are not available: your content destination does"
                      " not take them.",
    "location": "Location",
    "no_location": "No location data for this recording.",
    "start": "Start",
    "stop": "Stop",
    "duration": "Duration",
    "trigger": "Started by",
    "live_hint": "Check that the camera points where it should.",
    "live_stopped": "Live view stopped.",
    "delay": "Delay",
    "help_gestures": "Double-tap the right side for one frame forward, the left side for one"
                     " frame back. Press and hold for slow motion.",
    "camera": "Camera",
    "user": "User",
    "battery": "Battery",
    "recording_now": "Recording",
    "offline": "No connection",
}


def translated(gettext: Callable[[str], str]) -> dict[str, str]:
    """The strings in one language."""
    return {key: gettext(text) for key, text in STRINGS.items()}
