"""Message catalogs (gettext .po files read with Babel) for the manager's languages."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

CATALOG_DIR = Path(__file__).parent
DOMAIN = "bodyworn"

# Languages offered in the setup wizard: code -> name in that language.
LANGUAGES: dict[str, str] = {"en": "English", "sv": "Svenska"}
DEFAULT_LANGUAGE = "en"


@cache
def translations(language: str) -> NullTranslations:
    """The gettext translations for a language; English (the source) needs none."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language: {language}")
    po_path = CATALOG_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_path.exists():
        return NullTranslations()
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=language, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf, domain=DOMAIN)
