"""What a service raises when it says no: a refusal with the status a route answers.

Services stay free of the web framework; routes run them through `web/routes.py`, which
answers an unhandled refusal as JSON (API and machine routes) or as the error page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bodyworn.controller.display import labelled


@dataclass(frozen=True)
class FieldError:
    """One form field a rule refuses, and why (what FieldsRefused carries)."""

    field: str
    message: str


class Refused(Exception):
    """The rules or a device said no; nothing was written unless `keep` is set.

    `status` is the HTTP status a route answers with. With `keep` the transaction the
    service ran in is committed before the refusal goes on (the service wrote down the
    refusal itself: an audit entry, a failed-login count).
    """

    status: int = 409

    def __init__(self, message: str = "", status: int | None = None, *,
                 keep: bool = False) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.keep = keep

    def body(self) -> dict[str, Any]:
        """The JSON an API route answers."""
        return {"detail": self.message}

    def headers(self) -> dict[str, str] | None:
        """Response headers an API route adds (Retry-After, …)."""
        return None


class NotFound(Refused, LookupError):
    """The row a request names does not exist."""

    status = 404


class FieldsRefused(Refused):
    """Form fields the rules refuse (`errors`: each with `field` and `message`)."""

    status = 422

    def __init__(self, errors: Sequence[Any], status: int | None = None, *,
                 keep: bool = False) -> None:
        # The one-line message names each field by its label, never by its internal name.
        super().__init__("; ".join(labelled(e.field, self.describe(e)) for e in errors),
                         status, keep=keep)
        self.errors = list(errors)

    @staticmethod
    def describe(error: Any) -> str:
        """What is wrong with one field."""
        return str(error.message)

    def body(self) -> dict[str, Any]:
        """`{"detail": [{"field", "message"}, …]}`."""
        return {"detail": [{"field": e.field, "message": self.describe(e)}
                           for e in self.errors]}
