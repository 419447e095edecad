"""The Swedish catalog covers every string the manager's pages put through gettext."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bodyworn.controller.setup.wizard import STEPS
from bodyworn.i18n.catalog import CATALOG_DIR, DOMAIN, LANGUAGES, translations

SRC = Path(__file__).resolve().parents[2] / "src" / "bodyworn"
CONTROLLER = SRC / "controller"
SV_PO = CATALOG_DIR / "sv" / "LC_MESSAGES" / f"{DOMAIN}.po"
POT = CATALOG_DIR / "messages.pot"
# _("...") or _('...') with a literal argument, as the templates write it.
GETTEXT_CALL = re.compile(r"""\b_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\)""")


def _templates() -> list[Path]:
    return sorted(CONTROLLER.glob("*/templates/**/*.html"))


def _regex_msgids() -> set[str]:
    found: set[str] = set()
    for path in _templates():
        for match in GETTEXT_CALL.finditer(path.read_text(encoding="utf-8")):
            raw = match.group(1) if match.group(1) is not None else match.group(2)
            found.add(raw.encode().decode("unicode_escape"))
    return found


def _babel_msgids() -> set[str]:
    method_map = [("*/templates/**.html", "jinja2")]
    options = {"*/templates/**.html": {"trim_blocks": "True", "lstrip_blocks": "True"}}
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(CONTROLLER), method_map, options
    ):
        if isinstance(message, str):
            found.add(message)
    return found


def plural_msgids() -> set[tuple[str, str]]:
    """Every (singular, plural) the pages put through ngettext."""
    method_map = [("*/templates/**.html", "jinja2")]
    options = {"*/templates/**.html": {"trim_blocks": "True", "lstrip_blocks": "True"}}
    found: set[tuple[str, str]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(CONTROLLER), method_map, options
    ):
        if isinstance(message, tuple) and len(message) >= 2:
            found.add((str(message[0]), str(message[1])))
    return found


def used_msgids() -> set[str]:
    """Every msgid the pages translate: literal _() calls plus the wizard's step titles."""
    return _regex_msgids() | _babel_msgids() | {title for _slug, title in STEPS}


@cache
def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=locale, domain=DOMAIN, abort_invalid=True)


def test_extraction_finds_the_templates_strings() -> None:
    # Guards the extraction itself: an empty set would make the coverage test pass vacuously.
    assert _templates()
    msgids = used_msgids()
    assert {"Log in", "Next", "Create or extend", "Summary"} <= msgids
    assert len(msgids) > 50
    assert _regex_msgids() == _babel_msgids()


def test_swedish_catalog_parses_with_babel() -> None:
    catalog = _read(SV_PO, "sv")
    assert str(catalog.locale) == "sv"
    assert catalog.charset.lower() == "utf-8"
    assert catalog.plural_forms == "nplurals=2; plural=(n != 1);"
    header = SV_PO.read_text(encoding="utf-8")
    assert '"Language: sv\\n"' in header
    assert '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"' in header
    assert not catalog.fuzzy
    assert not [m.id for m in catalog if m.id and m.fuzzy]
    assert not list(catalog.check())  # babel's own checks (placeholders, plurals)


@pytest.mark.parametrize("msgid", sorted(used_msgids()))
def test_every_used_string_has_a_swedish_translation(msgid: str) -> None:
    message = _read(SV_PO, "sv").get(msgid)
    assert message is not None, f"{msgid!r} is missing from {SV_PO.name}"
    assert isinstance(message.string, str)
    assert message.string.strip(), f"{msgid!r} has an empty Swedish translation"
    assert not message.fuzzy


def test_template_lists_every_used_string() -> None:
    template = _read(POT)
    missing = sorted(m for m in used_msgids() if m not in template)
    assert not missing, f"regenerate {POT.name}: missing {missing}"
    assert all(not (any(m.string) if isinstance(m.string, tuple) else m.string)
               for m in template if m.id)


def test_catalog_module_translates_to_swedish() -> None:
    assert "sv" in LANGUAGES
    sv = translations("sv")
    assert sv.gettext("Log in") == "Logga in"
    assert sv.gettext("Administrator account") == "Administratörskonto"
    assert sv.gettext("Next") == "Nästa"
    # English is the source language: no catalog, msgids come back unchanged.
    assert translations("en").gettext("Log in") == "Log in"


def test_extraction_finds_the_templates_plurals() -> None:
    assert ("%(n)s user", "%(n)s users") in plural_msgids()


@pytest.mark.parametrize("pair", sorted(plural_msgids()))
def test_every_plural_has_both_swedish_forms(pair: tuple[str, str]) -> None:
    message = _read(SV_PO, "sv").get(pair[0])
    assert message is not None and message.id == pair, f"{pair!r} is missing from {SV_PO.name}"
    assert isinstance(message.string, tuple) and all(f.strip() for f in message.string)
    assert _read(POT).get(pair[0]) is not None, f"{pair!r} is missing from {POT.name}"
    sv = translations("sv")
    for n in (1, 2):
        assert sv.ngettext(*pair, n) == message.string[0 if n == 1 else 1]
