"""Rules for names people type or files carry: comparing them the way people read them,
and the characters no name may hold."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

# Characters that reorder how text around them is shown (Unicode's bidirectional
# controls): "U+202E" can make "gpj.exe" read as "exe.jpg". Nobody needs them in a name.
BIDI_CONTROLS: Final = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_CONTROL: Final = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def fold(text: str) -> str:
    """The key two names share when they differ only in case or Unicode form.

    Unicode's canonical caseless match (decompose, case-fold), stored composed (NFC) so that
    what the database holds is short and searchable with the same folding of a query.
    """
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).casefold())


def has_control_characters(text: str) -> bool:
    """True when `text` holds a C0/C1 control, a lone surrogate or a bidirectional control."""
    return bool(_CONTROL.search(text)) or any(c in BIDI_CONTROLS for c in text)
