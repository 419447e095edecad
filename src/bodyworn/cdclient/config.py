"""What the client needs to reach one content destination: a plain, validated dataclass.

It is filled from a parsed connection file with `CDConnection.from_parsed`; the client
never reads files itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol
from urllib.parse import urlsplit

from bodyworn.evidence.crypto import EvidenceCryptoError, load_public_key


class CDConfigError(ValueError):
    """The connection settings cannot be used as given."""


@dataclass(frozen=True)
class CDConnection:
    """Connection settings of one content destination."""

    uris: tuple[str, ...]
    user: str
    key: str = field(repr=False)
    certificates: tuple[bytes, ...] = ()
    container_type: Literal["mkv", "mp4"] = "mkv"
    full_store_and_read: bool = False
    want_encryption: bool = False
    public_key_pem: bytes | None = field(default=None, repr=False)
    public_key_id: str | None = None

    def __post_init__(self) -> None:
        if not self.uris:
            raise CDConfigError("at least one AuthenticationTokenURI is needed")
        if len(self.uris) > 10:
            raise CDConfigError("at most 10 AuthenticationTokenURI entries are allowed")
        # With certificates every URI must be HTTPS, so credentials never travel outside
        # the pinned trust. Without them the spec means plain HTTP; an https URI is then
        # verified against the host's trusted roots.
        for uri in self.uris:
            parts = urlsplit(uri)
            allowed = ("https",) if self.certificates else ("http", "https")
            if parts.scheme not in allowed or not parts.hostname:
                raise CDConfigError(
                    f"{uri!r}: expected an {' or '.join(allowed)} URI"
                    + (" (certificates are given)" if self.certificates else "")
                )
        if self.container_type not in ("mkv", "mp4"):
            raise CDConfigError(f"unknown container type {self.container_type!r}")
        if self.want_encryption:
            if not self.public_key_pem or not self.public_key_id:
                raise CDConfigError("encryption needs both a public key and its key id")
            try:
                load_public_key(self.public_key_pem)
            except EvidenceCryptoError as exc:
                raise CDConfigError(str(exc)) from exc

    def storage_url_allowed(self, auth_uri: str, storage_url: str) -> bool:
        """True when a token from `auth_uri` may be sent to `storage_url` (no downgrade)."""
        scheme = urlsplit(storage_url).scheme
        if self.certificates or urlsplit(auth_uri).scheme == "https":
            return scheme == "https"
        return scheme in ("http", "https")

    @classmethod
    def from_parsed(cls, parsed: ParsedConnectionFile) -> CDConnection:
        """Build from a parsed connection file (e.g. bodyworn.domain.connection_file)."""
        ctype: Literal["mkv", "mp4"]
        if parsed.container_type == "mp4":
            ctype = "mp4"
        elif parsed.container_type == "mkv":
            ctype = "mkv"
        else:
            raise CDConfigError(f"unknown container type {parsed.container_type!r}")
        return cls(
            uris=tuple(parsed.authentication_token_uris),
            user=parsed.blob_api_user_name,
            key=parsed.blob_api_key,
            certificates=tuple(parsed.https_certificates),
            container_type=ctype,
            full_store_and_read=parsed.full_store_and_read_support,
            want_encryption=parsed.want_encryption,
            public_key_pem=parsed.public_key_pem,
            public_key_id=parsed.public_key_id,
        )


class ParsedConnectionFile(Protocol):
    """The attributes `CDConnection.from_parsed` reads from a parsed connection file."""

    @property
    def authentication_token_uris(self) -> Sequence[str]: ...
    @property
    def blob_api_user_name(self) -> str: ...
    @property
    def blob_api_key(self) -> str: ...
    @property
    def https_certificates(self) -> Sequence[bytes]: ...
    @property
    def container_type(self) -> str: ...
    @property
    def full_store_and_read_support(self) -> bool: ...
    @property
    def want_encryption(self) -> bool: ...
    @property
    def public_key_pem(self) -> bytes | None: ...
    @property
    def public_key_id(self) -> str | None: ...
