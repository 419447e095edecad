"""The content destination's connection file: parse it, validate it whole, and judge updates.

The public specification (README of AxisCommunications/body-worn-integration-api,
"Connection API") gives each attribute a type and a length; this module enforces them
and a few rules the specification implies but does not spell out. Where it is silent
we decided as follows, and say so here so the manager can explain an error:

* The file may start with a UTF-8 byte order mark (Windows editors write one); it is
  skipped. Anything that is not UTF-8 is refused.
* Attributes the specification does not name are ignored (the reference server writes
  one, ``BlobAPI``); the raw bytes are kept so nothing is lost. A name given twice is
  an error, since parsers disagree about which value wins.
* ``null`` for an optional attribute means "not given" (a Go producer writes ``null``
  for an empty list).
* Lengths count characters. Strings may not contain control characters (the
  specification forbids them in user supplied strings; here they would also end up in
  HTTP headers), nor the bidirectional controls that make text read differently from
  what it holds (U+202E and its kin). Required strings may not be blank.
* ``HTTPSCertificate`` entries are base64 of one X.509 certificate, either DER or PEM
  (the specification says "X509"; the reference server encodes the PEM file). Each is
  stored as DER.
* With certificates, every ``AuthenticationTokenURI`` must be https. Without them the
  specification says plain HTTP is used, so http URIs are allowed; https URIs are also
  allowed and are then verified against the host's trusted roots. A URI may not carry
  a user name or password (credentials belong in BlobAPIUserName/BlobAPIKey), and its
  port, when given, is 1-65535.
* When a new file is taken (``now`` given), every ``HTTPSCertificate`` must be valid at
  that moment: an expired or not yet valid certificate would fail every connection.
* ``PublicKey`` and ``PublicKeyId`` must be non-empty when ``WantEncryption`` is true and
  absent, null or empty otherwise ("no value allowed otherwise"). The key must be an RSA
  key of at least 2048 bits: the specification only says RSA, and the reference server
  accepts keys from 1024 bits, which can be factored; we refuse those.
* ``ContentDestinationAsNTPServer`` is required by the specification's table, but the
  reference server writes files without it. A file without it is accepted as false, with
  a warning (``ConnectionFile.warnings``) that the manager and the CLI show.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_public_key

from bodyworn.domain.text import has_control_characters

MAX_FILE_BYTES: Final = 64 * 1024
MAX_URIS: Final = 10
MAX_CERTIFICATES: Final = 10
MAX_URI_CHARS: Final = 512
MAX_CERTIFICATE_CHARS: Final = 16 * 1024
MAX_PUBLIC_KEY_CHARS: Final = 2048
MIN_RSA_BITS: Final = 2048
# 64 in copies of the specification before v1.6.10.
MAX_APPLICATION_VERSION_CHARS: Final = 128
CONTAINER_TYPES: Final = ("mkv", "mp4")
SUPPORTED_VERSION: Final = "1.0"

FILE: Final = "file"
"""The field name used for problems with the file as a whole."""

_UTF8_BOM: Final = b"\xef\xbb\xbf"
_WHITESPACE: Final = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class FieldError:
    """One broken rule: the attribute (or ``file``) and the rule it breaks."""

    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}"


@dataclass(frozen=True, slots=True)
class FieldWarning:
    """A file accepted although it breaks the specification: the attribute, and what we did."""

    field: str
    message: str

    def __str__(self) -> str:
        return self.message


NTP_MISSING: Final = FieldWarning(
    "ContentDestinationAsNTPServer",
    "The connection file does not say whether this system should take its time from the "
    "content destination (ContentDestinationAsNTPServer). The Axis body worn integration "
    "API requires it; it is taken as no, and the system keeps its own time settings.",
)


class ConnectionFileError(ValueError):
    """A connection file was refused; ``errors`` lists every problem found."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors) or "invalid connection file")


@dataclass(frozen=True)
class ConnectionFile:
    """A validated connection file, with the bytes it was read from."""

    version: str
    site_name: str
    application_name: str
    application_version: str
    content_destination_as_ntp_server: bool
    authentication_token_uris: tuple[str, ...]
    https_certificates: tuple[bytes, ...] = field(repr=False)
    blob_api_user_name: str
    blob_api_key: str = field(repr=False)
    container_type: str = "mkv"
    full_store_and_read_support: bool = False
    want_encryption: bool = False
    public_key_pem: bytes | None = field(default=None, repr=False)
    public_key_id: str | None = None
    raw: bytes = field(default=b"", repr=False)
    # What the file leaves out that the specification requires, accepted leniently.
    warnings: tuple[FieldWarning, ...] = ()

    @property
    def uses_https(self) -> bool:
        """Whether the file names certificates, so connections are HTTPS pinned to them."""
        return bool(self.https_certificates)

    def certificates(self) -> list[x509.Certificate]:
        """Return the pinned certificates as parsed X.509 objects."""
        return [x509.load_der_x509_certificate(der) for der in self.https_certificates]

    def public_key(self) -> RSAPublicKey | None:
        """Return the content encryption key, or None when encryption is off."""
        if self.public_key_pem is None:
            return None
        key = load_pem_public_key(self.public_key_pem)
        assert isinstance(key, RSAPublicKey)
        return key


def parse_connection_file(raw: bytes, *, now: datetime | None = None) -> ConnectionFile:
    """Validate a whole connection file and return it, or raise with every problem found.

    Pass `now` when taking a new file: its certificates must then be valid at that moment.
    (A file already in force is read without it, so an expiry never makes it unreadable.)
    """
    data = _load_json_object(raw)
    errors: list[FieldError] = []
    v = _Validator(data, errors, now)

    version = v.version()
    site_name = v.string("SiteName", 64)
    application_name = v.string("ApplicationName", 256)
    application_version = v.string("ApplicationVersion", MAX_APPLICATION_VERSION_CHARS)
    warnings: list[FieldWarning] = []
    if data.get("ContentDestinationAsNTPServer") is None:
        warnings.append(NTP_MISSING)
    ntp = v.boolean("ContentDestinationAsNTPServer", required=False)
    certificates = v.certificates()
    listed = data.get("HTTPSCertificate")
    uris = v.uris(https_only=isinstance(listed, list) and bool(listed))
    user_name = v.string("BlobAPIUserName", 64)
    key = v.string("BlobAPIKey", 64)
    container_type = v.container_type()
    full_support = v.boolean("FullStoreAndReadSupport", required=False)
    want_encryption = v.boolean("WantEncryption", required=False)
    public_key_pem, public_key_id = v.encryption_key(want_encryption)

    if errors:
        raise ConnectionFileError(errors)
    # Every value below was checked above; the asserts only narrow types for mypy.
    assert version is not None and site_name is not None and application_name is not None
    assert application_version is not None and ntp is not None and uris is not None
    assert user_name is not None and key is not None and container_type is not None
    return ConnectionFile(
        version=version,
        site_name=site_name,
        application_name=application_name,
        application_version=application_version,
        content_destination_as_ntp_server=ntp,
        authentication_token_uris=uris,
        https_certificates=certificates,
        blob_api_user_name=user_name,
        blob_api_key=key,
        container_type=container_type,
        full_store_and_read_support=bool(full_support),
        want_encryption=bool(want_encryption),
        public_key_pem=public_key_pem,
        public_key_id=public_key_id,
        raw=bytes(raw),
        warnings=tuple(warnings),
    )


def check_update(current: ConnectionFile, new: ConnectionFile) -> list[FieldError]:
    """List what forbids replacing the locked connection file `current` with `new`.

    Per the specification's table of attributes: ``ContainerType`` may not change;
    ``FullStoreAndReadSupport`` and ``WantEncryption`` may only go from false to true
    (a content destination keeps a capability once declared; encryption, once on, is
    never turned off). Everything else may change, including ``SiteName``, the URIs,
    certificates, credentials and the public key (key rotation): the specification
    binds a system to its destination through the System ID object
    (``StoreReadSystemID``), not through the connection file's contents.
    """
    errors: list[FieldError] = []
    if new.container_type != current.container_type:
        errors.append(FieldError("ContainerType", "cannot change once set"))
    if current.full_store_and_read_support and not new.full_store_and_read_support:
        errors.append(FieldError("FullStoreAndReadSupport", "may only change from false to true"))
    if current.want_encryption and not new.want_encryption:
        errors.append(FieldError("WantEncryption", "cannot be turned off once on"))
    return errors


def _load_json_object(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_FILE_BYTES:
        raise ConnectionFileError([FieldError(FILE, f"must be at most {MAX_FILE_BYTES} bytes")])
    body = raw.removeprefix(_UTF8_BOM)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ConnectionFileError([FieldError(FILE, "must be UTF-8 text")]) from None
    duplicates: list[str] = []
    try:
        data = json.loads(
            text,
            object_pairs_hook=_pairs_hook(duplicates),
            parse_constant=_refuse_constant,
        )
    except (ValueError, RecursionError):
        # ValueError covers JSONDecodeError, NaN/Infinity and oversized integers.
        raise ConnectionFileError([FieldError(FILE, "must be valid JSON")]) from None
    if not isinstance(data, dict):
        raise ConnectionFileError([FieldError(FILE, "must be a JSON object")])
    if duplicates:
        raise ConnectionFileError(
            [FieldError(name, "given only once") for name in dict.fromkeys(duplicates)]
        )
    return data


def _pairs_hook(duplicates: list[str]) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                duplicates.append(key)
            result[key] = value
        return result

    return hook


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _decode_base64(value: str) -> bytes | None:
    try:
        return base64.b64decode(_WHITESPACE.sub("", value), validate=True)
    except (binascii.Error, ValueError):
        return None


def _certificate_der(blob: bytes) -> bytes | None:
    # Parsers of untrusted input may fail in many ways; every failure means "not valid".
    try:
        if blob.lstrip().startswith(b"-----BEGIN"):
            found = x509.load_pem_x509_certificates(blob)
            if len(found) != 1:
                return None
            return found[0].public_bytes(Encoding.DER)
        return x509.load_der_x509_certificate(blob).public_bytes(Encoding.DER)
    except Exception:
        return None


class _Validator:
    """Reads attributes of one parsed file, appending a FieldError for each problem."""

    def __init__(self, data: dict[str, Any], errors: list[FieldError],
                 now: datetime | None = None) -> None:
        self.data = data
        self.errors = errors
        self.now = now

    def fail(self, name: str, rule: str) -> None:
        self.errors.append(FieldError(name, rule))

    def text(self, name: str, value: object, max_chars: int, *, blob: bool = False) -> str | None:
        # Base64 blobs may be wrapped in lines; decoding checks them strictly instead.
        if not isinstance(value, str):
            self.fail(name, "must be a string")
            return None
        ok = True
        if len(value) > max_chars:
            self.fail(name, f"at most {max_chars} characters")
            ok = False
        if not blob and has_control_characters(value):
            self.fail(name, "no control characters")
            ok = False
        return value if ok else None

    def string(self, name: str, max_chars: int) -> str | None:
        value = self.data.get(name)
        if value is None:
            self.fail(name, "required")
            return None
        result = self.text(name, value, max_chars)
        if result is not None and not result.strip():
            self.fail(name, "must not be empty" if result == "" else "must not be blank")
            return None
        return result

    def version(self) -> str | None:
        name = "ConnectionFileVersion"
        value = self.data.get(name)
        if value is None:
            self.fail(name, "required")
        elif not isinstance(value, str):
            self.fail(name, "must be a string")
        elif value != SUPPORTED_VERSION:
            self.fail(name, f'must be "{SUPPORTED_VERSION}"')
        else:
            return value
        return None

    def boolean(self, name: str, *, required: bool) -> bool | None:
        value = self.data.get(name)
        if value is None:
            if required:
                self.fail(name, "required")
            return None if required else False
        if type(value) is not bool:
            self.fail(name, "must be true or false")
            return None
        return value

    def container_type(self) -> str | None:
        value = self.data.get("ContainerType")
        if value is None:
            return CONTAINER_TYPES[0]
        if not isinstance(value, str) or value not in CONTAINER_TYPES:
            self.fail("ContainerType", 'must be "mkv" or "mp4"')
            return None
        return value

    def list_of(self, name: str, *, required: bool, max_items: int) -> list[object] | None:
        value = self.data.get(name)
        if value is None:
            if required:
                self.fail(name, "required")
                return None
            return []
        if not isinstance(value, list):
            self.fail(name, "must be a list")
            return None
        if required and not value:
            self.fail(name, "at least 1 entry")
        if len(value) > max_items:
            self.fail(name, f"at most {max_items} entries")
            return None
        return value

    def uris(self, *, https_only: bool) -> tuple[str, ...] | None:
        name = "AuthenticationTokenURI"
        items = self.list_of(name, required=True, max_items=MAX_URIS)
        if not items:
            return None
        good: list[str] = []
        for index, item in enumerate(items):
            item_name = f"{name}[{index}]"
            uri = self.text(item_name, item, MAX_URI_CHARS)
            if uri is None:
                continue
            scheme = _uri_scheme(uri)
            if scheme is None:
                self.fail(item_name, "an http or https URI with a host")
            elif _has_credentials(uri):
                self.fail(item_name, "no user name or password in the URI")
            elif _port(uri) == 0:
                self.fail(item_name, "port must be 1-65535")
            elif https_only and scheme != "https":
                self.fail(item_name, "must be https when HTTPSCertificate is given")
            else:
                good.append(uri)
        return tuple(good) if len(good) == len(items) else None

    def certificates(self) -> tuple[bytes, ...]:
        name = "HTTPSCertificate"
        items = self.list_of(name, required=False, max_items=MAX_CERTIFICATES)
        if not items:
            return ()
        found: list[bytes] = []
        for index, item in enumerate(items):
            item_name = f"{name}[{index}]"
            text = self.text(item_name, item, MAX_CERTIFICATE_CHARS, blob=True)
            if text is None:
                continue
            blob = _decode_base64(text)
            der = _certificate_der(blob) if blob else None
            if der is None:
                self.fail(item_name, "base64 of one X.509 certificate")
                continue
            problem = _validity_problem(der, self.now) if self.now is not None else None
            if problem:
                self.fail(item_name, problem)
            else:
                found.append(der)
        return tuple(found)

    def encryption_key(self, want: bool | None) -> tuple[bytes | None, str | None]:
        key_value = self.data.get("PublicKey")
        id_value = self.data.get("PublicKeyId")
        if want is False:
            for name, value in (("PublicKey", key_value), ("PublicKeyId", id_value)):
                if value is not None and value != "":
                    self.fail(name, "only allowed when WantEncryption is true")
            return None, None
        pem: bytes | None = None
        key_id: str | None = None
        # With WantEncryption itself broken, check only what is there.
        if key_value is None or key_value == "":
            if want:
                self.fail("PublicKey", "required when WantEncryption is true")
        else:
            text = self.text("PublicKey", key_value, MAX_PUBLIC_KEY_CHARS, blob=True)
            if text is not None:
                pem = self.rsa_pem(text)
        if id_value is None or id_value == "":
            if want:
                self.fail("PublicKeyId", "required when WantEncryption is true")
        else:
            key_id = self.text("PublicKeyId", id_value, 128)
        return pem, key_id

    def rsa_pem(self, text: str) -> bytes | None:
        pem = _decode_base64(text)
        key: object = None
        if pem and pem.lstrip().startswith(b"-----BEGIN"):
            try:
                key = load_pem_public_key(pem)
            except Exception:  # untrusted input: any parser failure means "not a key"
                key = None
        if not isinstance(key, RSAPublicKey):
            self.fail("PublicKey", "base64 of a PEM RSA public key")
            return None
        if key.key_size < MIN_RSA_BITS:
            self.fail(
                "PublicKey",
                f"RSA key of at least {MIN_RSA_BITS} bits (this one has {key.key_size}; "
                "shorter keys can be broken, though the reference server accepts 1024)",
            )
            return None
        return pem


def _validity_problem(der: bytes, now: datetime) -> str | None:
    """Why a certificate cannot be used at `now` (expired or not valid yet), or None."""
    certificate = x509.load_der_x509_certificate(der)
    if now < certificate.not_valid_before_utc:
        return f"certificate is not valid before {certificate.not_valid_before_utc:%Y-%m-%d}"
    if now > certificate.not_valid_after_utc:
        return f"certificate expired on {certificate.not_valid_after_utc:%Y-%m-%d}"
    return None


def _has_credentials(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.username is not None or parts.password is not None


def _port(uri: str) -> int | None:
    return urlsplit(uri).port


def _uri_scheme(uri: str) -> str | None:
    """Return the lower-case scheme of an absolute http(s) URI with a host, else None."""
    if uri != uri.strip() or " " in uri:
        return None
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return scheme
