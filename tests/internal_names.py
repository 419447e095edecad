"""Names the code uses that people must never read: form and API field names, column
names, audit action codes, Python leftovers. Every page and every API error message is
checked against this list (tests/controller/words/, tests/e2e/test_walk_browser.py).
"""

from __future__ import annotations

import re
from functools import cache

from bodyworn.controller.audit.words import ACTIONS
from bodyworn.controller.display import FIELD_LABELS, STANDALONE
from bodyworn.domain.profile_codec import setting_names

# Words of the code beside the field names: columns, keys, and what Python prints for
# nothing, an error, or a dataclass.
CODE_WORDS = frozenset({
    "user_uuid", "user_ref", "csrf_token", "info_json", "camera_url", "station_serial",
    "camera_serial", "recording_id", "seen_at", "added_at", "manifest_json",
    "time_mode", "cd_verified", "None", "True", "False", "Traceback", "[object Object]",
    "nobody ->", "confirm:",
})


@cache
def internal_names() -> frozenset[str]:
    """Every internal name: those with an underscore or a dot (an English word that is also
    a field, like "name", cannot be told apart and is left out)."""
    fields = {f for f in {*FIELD_LABELS, *STANDALONE} if "_" in f}
    settings = {n for n in setting_names() if "_" in n}
    actions = {a for a in ACTIONS if "." in a or "_" in a}
    return frozenset(fields | settings | actions | CODE_WORDS)


@cache
def _pattern() -> re.Pattern[str]:
    names = sorted(internal_names(), key=len, reverse=True)
    return re.compile(r"(?<![\w.-])(" + "|".join(re.escape(n) for n in names) + r")(?![\w-])")


def leaks(text: str) -> list[str]:
    """The internal names `text` shows."""
    return sorted(set(_pattern().findall(text)))
