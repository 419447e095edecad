"""Comparing names the way people read them: case and Unicode form do not matter."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """The key two names share when they differ only in case or Unicode form.

    Unicode's canonical caseless match (decompose, case-fold), stored composed (NFC) so that
    what the database holds is short and searchable with the same folding of a query.
    """
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).casefold())
