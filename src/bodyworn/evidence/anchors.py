"""Audit anchors: the audit log's hashes, signed by the system identity, kept at the CD.

One anchor covers the entries written since the one before: the system signs their
hashes in order (with the hash before the first, and the sha256 of the previous
anchor), and the object at the CD carries that JWS plus the entries themselves, so the
CD holds a copy of the log it can hand out with evidence. Anchors are numbered from 1
and named `System/<SystemID>.audit.<n>` (ten digits); they are written with
`If-None-Match: *` and never overwritten, so a controller whose database was lost or
rewritten cannot replace what it anchored before without the CD noticing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509

from bodyworn.domain import strict_json
from bodyworn.evidence.audit_chain import ChainedEntry
from bodyworn.evidence.signing import (
    AUDIT_ANCHOR,
    Jws,
    SignatureProblem,
    common_name,
    parse_jws,
    public_key_of,
    same_key,
    time_text,
    verify_jws,
)

ANCHOR_NAME = re.compile(r"^(?P<system>[^/]+)\.audit\.(?P<seq>\d{10})$")


def anchor_object_name(system_id: str, seq: int) -> str:
    """The System object holding anchor `seq` (from 1) of a system."""
    return f"{system_id}.audit.{seq:010d}"


def parse_anchor_name(name: str) -> tuple[str, int] | None:
    """(system ID, seq) of an anchor object's name, else None."""
    m = ANCHOR_NAME.match(name)
    return (m.group("system"), int(m.group("seq"))) if m else None


def anchor_payload(*, system: str, seq: int, entries: Sequence[ChainedEntry],
                   prev_anchor: str | None, at: datetime) -> dict[str, Any]:
    """What the system identity signs for one audit anchor."""
    return {
        "type": AUDIT_ANCHOR,
        "system": system,
        "seq": seq,
        "from_id": entries[0].id,
        "to_id": entries[-1].id,
        "prev_hash": entries[0].prev_hash,
        "hashes": [e.entry_hash for e in entries],
        "head": entries[-1].entry_hash,
        "prev_anchor": prev_anchor,
        "at": time_text(at),
    }


def anchor_body(jws: str, entries: Sequence[ChainedEntry]) -> bytes:
    """The anchor object's bytes: the signed anchor and the entries it covers."""
    doc = {"anchor": jws, "entries": [e.to_json() for e in entries]}
    return (json.dumps(doc, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def anchor_digest(jws: str) -> str:
    """What the next anchor names as `prev_anchor`: the sha256 of this one's JWS."""
    return hashlib.sha256(jws.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class StoredAnchor:
    """An anchor object read back: the JWS (signature not checked yet) and its entries."""

    jws: Jws
    entries: tuple[ChainedEntry, ...]

    @property
    def seq(self) -> int:
        return int(self.jws.payload.get("seq", 0))

    @property
    def hashes(self) -> list[str]:
        return [str(h) for h in self.jws.payload.get("hashes", [])]


def parse_anchor_body(data: bytes) -> StoredAnchor:
    """Read an anchor object; SignatureProblem when it is not one."""
    try:
        doc = strict_json.loads(data.decode("utf-8"))
        jws = parse_jws(str(doc["anchor"]))
        entries = tuple(ChainedEntry.from_json(e) for e in doc.get("entries", []))
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise SignatureProblem(f"not an audit anchor: {exc}") from exc
    if jws.type != AUDIT_ANCHOR:
        raise SignatureProblem("not an audit anchor")
    return StoredAnchor(jws, entries)


def signed_by_system(jws: Jws, trusted: Mapping[str, x509.Certificate]) -> x509.Certificate:
    """The trusted system certificate that signed an anchor (no camera in between)."""
    signer = jws.chain[0]
    anchor = trusted.get(common_name(signer))
    if anchor is None or not same_key(public_key_of(anchor), public_key_of(signer)):
        raise SignatureProblem("not signed by the system identity")
    return anchor


def check_anchor(stored: StoredAnchor, trusted: Mapping[str, x509.Certificate]) -> None:
    """Signature, signer, and the entries it carries against its hashes; SignatureProblem."""
    verify_jws(stored.jws, AUDIT_ANCHOR)
    signed_by_system(stored.jws, trusted)
    hashes = stored.hashes
    if [e.entry_hash for e in stored.entries] != hashes:
        raise SignatureProblem("its entries are not the ones it signed")
    prev = str(stored.jws.payload.get("prev_hash", ""))
    for entry in stored.entries:
        if entry.prev_hash != prev or entry.computed_hash() != entry.entry_hash:
            raise SignatureProblem(f"audit entry {entry.id} does not hold")
        prev = entry.entry_hash
