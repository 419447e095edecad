"""The dock link's two errors: a refusal or failure, and a message that breaks the format."""

from __future__ import annotations


class DockLinkError(Exception):
    """The camera refused or failed a request (status 0: the link itself failed)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class MessageError(DockLinkError, ValueError):
    """A message that does not follow docs/dock-link.md; the text names the field."""

    def __init__(self, message: str) -> None:
        super().__init__(0, "bad_message", message)
        self.args = (message,)
