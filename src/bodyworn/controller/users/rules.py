"""What a user's name, user ID and content destination user name may hold (form and CSV alike)."""

from __future__ import annotations

import unicodedata

NAME_MAX_BYTES = 64
# Recording containers carry the user ID as a 32-byte metadata string and in their name.
USER_ID_MAX_BYTES = 32
# The visual watermark shows only the start of the user ID (the manual's troubleshooting table).
WATERMARK_CHARS = 12
CD_USERNAME_MAX = 256


def _has_control(value: str) -> bool:
    return any(unicodedata.category(ch).startswith("C") for ch in value)


def clean_name(raw: str) -> tuple[str, str | None]:
    """The name as stored (composed, NFC), or why it is refused."""
    value = unicodedata.normalize("NFC", " ".join(raw.split()))
    if not value:
        return value, "must not be empty"
    if _has_control(value):
        return value, "must not contain control characters"
    if len(value.encode("utf-8")) > NAME_MAX_BYTES:
        return value, f"must be at most {NAME_MAX_BYTES} bytes in UTF-8"
    return value, None


def clean_user_id(raw: str | None) -> tuple[str | None, str | None]:
    """The user ID as stored (composed, NFC; None when empty), or why it is refused.

    IDs are unique as written (the organisation's own identifiers, copied to recordings);
    only their Unicode form is made one, so that "Å1" typed two ways is one ID.
    """
    value = unicodedata.normalize("NFC", (raw or "").strip())
    if not value:
        return None, None
    if _has_control(value):
        return value, "must not contain control characters"
    if "/" in value:
        # It becomes part of the recording's container name at the content destination.
        return value, "must not contain '/'"
    if len(value.encode("utf-8")) > USER_ID_MAX_BYTES:
        return value, f"must be at most {USER_ID_MAX_BYTES} bytes in UTF-8"
    return value, None


def clean_cd_username(raw: str | None) -> tuple[str | None, str | None]:
    """The content destination user name as stored (None when empty), or why it is refused."""
    value = (raw or "").strip()
    if not value:
        return None, None
    if _has_control(value) or any(ch.isspace() for ch in value):
        return value, "must not contain spaces or control characters"
    if len(value) > CD_USERNAME_MAX:
        return value, f"must be at most {CD_USERNAME_MAX} characters"
    return value, None
