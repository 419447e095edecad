"""Client side of the Content Destination API (an OpenStack Swift subset).

Build a `CDConnection` (from a parsed connection file: `CDConnection.from_parsed`),
open a `CDClient` with it, then: `capabilities()`, `categories()`, `bind_system()`,
`put_user()` / `put_device()`, `deliver_recording()`. Failures are the exceptions of
`bodyworn.cdclient.errors`; `InsufficientStorage` means pause deliveries to that CD.
"""

from bodyworn.cdclient.capabilities import Capabilities, Category, CategoryList
from bodyworn.cdclient.client import CDClient, DeliveryResult, RetryPolicy
from bodyworn.cdclient.config import CDConfigError, CDConnection
from bodyworn.cdclient.errors import (
    CDAuthError,
    CDError,
    CDForbidden,
    CDNotFound,
    CDProtocolError,
    CDTLSError,
    CDUnavailable,
    ContentRejected,
    InsufficientStorage,
    LicenceError,
    SystemBindingError,
)
from bodyworn.cdclient.records import (
    Bookmark,
    CDDevice,
    CDUser,
    ClipFile,
    GnssPoint,
    RecordingUpload,
)

__all__ = [
    "Bookmark",
    "CDAuthError",
    "CDClient",
    "CDConfigError",
    "CDConnection",
    "CDDevice",
    "CDError",
    "CDForbidden",
    "CDNotFound",
    "CDProtocolError",
    "CDTLSError",
    "CDUnavailable",
    "CDUser",
    "Capabilities",
    "Category",
    "CategoryList",
    "ClipFile",
    "ContentRejected",
    "DeliveryResult",
    "GnssPoint",
    "InsufficientStorage",
    "LicenceError",
    "RecordingUpload",
    "RetryPolicy",
    "SystemBindingError",
]
