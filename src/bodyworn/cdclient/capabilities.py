"""Capabilities.json and Categories.json: parsed strictly, never trusted when corrupt.

Both objects come with an Etag that must equal the md5 of the body; a mismatch means
"corrupt" and counts as missing. A missing or malformed capabilities object means
nothing is supported; a connection with FullStoreAndReadSupport supports everything.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from bodyworn.domain import strict_json

CAPABILITY_SECTIONS = ("Read", "Store", "StoreAndRead")

READ_CATEGORIES = "ReadCategories"
STORE_READ_SYSTEM_ID = "StoreReadSystemID"
STORE_USER_ID_KEY = "StoreUserIDKey"
STORE_BOOKMARKS = "StoreBookmarks"
STORE_SIGNED_VIDEO = "StoreSignedVideo"
STORE_GNSS_TRACK = "StoreGNSSTrackRecording"
STORE_REJECTED_CONTENT = "StoreRejectedContent"

KNOWN_CAPABILITIES = (
    READ_CATEGORIES,
    STORE_READ_SYSTEM_ID,
    STORE_USER_ID_KEY,
    STORE_BOOKMARKS,
    STORE_SIGNED_VIDEO,
    STORE_GNSS_TRACK,
    STORE_REJECTED_CONTENT,
)

# Not a capability of the CD API: ours, published by the embedded CD (and implied by
# FullStoreAndReadSupport, as a plain Swift store keeps any object). It says the CD keeps
# audit anchors in its System container: objects `<SystemID>.audit.<n>` it never
# overwrites, read back with GET (docs/integrity.md).
STORE_READ_AUDIT_ANCHOR = "StoreReadAuditAnchor"
EXTENSION_CAPABILITIES = (STORE_READ_AUDIT_ANCHOR,)

MAX_CATEGORIES = 1000


def etag_matches(body: bytes, etag: str | None) -> bool:
    """True when the response Etag is the md5 of the body (quotes and case ignored)."""
    if not etag:
        return False
    tag = etag.strip()
    if tag.startswith("W/"):
        return False
    return tag.strip('"').lower() == hashlib.md5(body, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Capabilities:
    """What a CD supports; `problem` says why nothing is, when the object was unusable."""

    enabled: frozenset[str] = frozenset()
    full: bool = False
    problem: str | None = None

    @classmethod
    def everything(cls) -> Capabilities:
        """All capabilities, for a connection with FullStoreAndReadSupport."""
        return cls(enabled=frozenset(KNOWN_CAPABILITIES), full=True)

    @classmethod
    def nothing(cls, problem: str) -> Capabilities:
        """No capability, with the reason."""
        return cls(problem=problem)

    def supports(self, name: str) -> bool:
        """True when capability `name` is on."""
        return self.full or name in self.enabled


def parse_capabilities(body: bytes, etag: str | None) -> Capabilities:
    """Parse a Capabilities.json response; anything wrong yields Capabilities.nothing()."""
    if not etag_matches(body, etag):
        return Capabilities.nothing("object corrupt: Etag is not the md5 of the body")
    try:
        doc: Any = strict_json.loads(body)
    except strict_json.JsonRefused:
        return Capabilities.nothing("malformed: not JSON")
    if not isinstance(doc, dict):
        return Capabilities.nothing("malformed: not a JSON object")
    enabled: set[str] = set()
    for section in CAPABILITY_SECTIONS:
        if section not in doc:
            continue
        entries = doc[section]
        if not isinstance(entries, dict):
            return Capabilities.nothing(f"malformed: {section} is not an object")
        for name, on in entries.items():
            if not isinstance(on, bool):
                return Capabilities.nothing(f"malformed: {section}.{name} is not a boolean")
            if on:
                enabled.add(name)
    return Capabilities(enabled=frozenset(enabled))


@dataclass(frozen=True)
class Category:
    """A recording category offered to users: the CD's ID and display name."""

    id: str
    name: str


# Used when the CD does not publish categories; our own list.
DEFAULT_CATEGORIES: tuple[Category, ...] = (
    Category("1", "Uncategorised"),
    Category("2", "Incident"),
    Category("3", "Arrest"),
    Category("4", "Traffic stop"),
    Category("5", "Witness statement"),
    Category("6", "Use of force"),
    Category("7", "Training"),
    Category("8", "Accidental recording"),
)


@dataclass(frozen=True)
class CategoryList:
    """Categories in use and where they came from; `problem` explains a fallback."""

    categories: tuple[Category, ...]
    from_cd: bool
    problem: str | None = None


class CategoriesError(ValueError):
    """Categories.json is corrupt or malformed."""


def parse_categories(body: bytes, etag: str | None) -> tuple[Category, ...]:
    """Parse a Categories.json response, a list of {"Name", "Id"}; raises CategoriesError."""
    if not etag_matches(body, etag):
        raise CategoriesError("object corrupt: Etag is not the md5 of the body")
    try:
        doc: Any = strict_json.loads(body)
    except strict_json.JsonRefused as exc:
        raise CategoriesError(f"not JSON: {exc}") from exc
    if not isinstance(doc, list):
        raise CategoriesError("not a JSON list")
    if len(doc) > MAX_CATEGORIES:
        raise CategoriesError(f"more than {MAX_CATEGORIES} categories")
    out: list[Category] = []
    seen: set[str] = set()
    for i, entry in enumerate(doc):
        if not isinstance(entry, dict):
            raise CategoriesError(f"entry {i} is not an object")
        cid, name = entry.get("Id"), entry.get("Name")
        # Integer IDs are accepted as written; bool is an int in Python, so refuse it first.
        if isinstance(cid, bool) or not isinstance(cid, (str, int)):
            raise CategoriesError(f"entry {i}: Id must be a string")
        if not isinstance(name, str) or not name.strip():
            raise CategoriesError(f"entry {i}: Name must be a non-empty string")
        cid = str(cid)
        if not cid or cid in seen:
            raise CategoriesError(f"entry {i}: Id {cid!r} is empty or repeated")
        seen.add(cid)
        out.append(Category(cid, name))
    return tuple(out)
