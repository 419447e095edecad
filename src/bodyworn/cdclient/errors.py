"""What can go wrong talking to a content destination, one exception per decision to make."""

from __future__ import annotations


class CDError(Exception):
    """Base of every content destination failure."""

    def __init__(self, message: str, *, status: int | None = None, url: str | None = None):
        super().__init__(message)
        self.status = status
        self.url = url


class CDAuthError(CDError):
    """The CD refused our credentials (401 on auth, or again right after re-auth)."""


class CDTLSError(CDError):
    """The CD's certificate does not validate against the connection's certificates."""


class CDUnavailable(CDError):
    """The CD stayed busy or unreachable (500/503/timeouts/resets) through every retry."""


class ContentRejected(CDError):
    """400: the CD can never store this content; route to rejected content or mark it."""


class LicenceError(CDError):
    """402: the CD has no licence left for another user or camera."""


class InsufficientStorage(CDError):
    """507: the CD is out of storage; pause deliveries to it and report."""


class CDForbidden(CDError):
    """403: our account may not do this."""


class CDNotFound(CDError):
    """404: the container or object does not exist."""


class CDProtocolError(CDError):
    """The CD answered something the API does not allow (status or missing headers)."""


class SystemBindingError(CDError):
    """The CD is bound to another connection of this system, or lost the binding."""
