"""The audit log's hash chain as data: the one formula that links an entry to the one before.

The controller writes entries with it (controller/audit), the audit anchors it sends to
the content destination carry the resulting hashes, and an evidence archive's verifier
recomputes them offline, all from this function.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


def entry_time(at: datetime) -> str:
    """How an entry's time enters its digest (and an export): ISO 8601, microseconds."""
    return at.isoformat(timespec="microseconds")


def entry_digest(
    prev_hash: str, at: str, actor: str, action: str, detail: str, source: str, outcome: str
) -> str:
    """The sha256 that links an entry to the one before it (`at` as `entry_time` writes it)."""
    body = json.dumps(
        {
            "prev": prev_hash,
            "at": at,
            "actor": actor,
            "action": action,
            "detail": detail,
            "source": source,
            "outcome": outcome,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainedEntry:
    """One audit entry as it leaves the controller (anchors, exports)."""

    id: int
    at: str
    actor: str
    action: str
    detail: str
    source: str
    outcome: str
    prev_hash: str
    entry_hash: str

    def to_json(self) -> dict[str, Any]:
        """The entry as a JSON object."""
        return {
            "id": self.id, "at": self.at, "actor": self.actor, "action": self.action,
            "detail": self.detail, "source": self.source, "outcome": self.outcome,
            "prev_hash": self.prev_hash, "entry_hash": self.entry_hash,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChainedEntry:
        """Read one back; ValueError when a field is missing or of the wrong type."""
        try:
            entry = cls(
                id=int(data["id"]), at=str(data["at"]), actor=str(data["actor"]),
                action=str(data["action"]), detail=str(data["detail"]),
                source=str(data["source"]), outcome=str(data["outcome"]),
                prev_hash=str(data["prev_hash"]), entry_hash=str(data["entry_hash"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not an audit entry: {exc}") from exc
        if isinstance(data["id"], bool) or not isinstance(data["id"], int):
            raise ValueError("not an audit entry: id must be a whole number")
        return entry

    def computed_hash(self) -> str:
        """The hash its content gives (equal to `entry_hash` unless it was edited)."""
        return entry_digest(self.prev_hash, self.at, self.actor, self.action, self.detail,
                            self.source, self.outcome)
