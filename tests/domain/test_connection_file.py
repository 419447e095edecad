"""The connection file validator: one test per rule, the update lock, and fuzzing."""

from __future__ import annotations

import base64
import datetime as dt
import json
import string
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bodyworn.domain.connection_file import (
    NTP_MISSING,
    ConnectionFile,
    ConnectionFileError,
    FieldError,
    check_update,
    parse_connection_file,
)
from bodyworn.domain.text import BIDI_CONTROLS

from .connection_factory import (
    HTTP_URI,
    HTTPS_URI,
    OMIT,
    certificate,
    certificate_b64,
    connection_file_bytes,
    encode,
    make_connection_file,
    public_key_b64,
    public_key_pem,
)


def errors_of(raw: bytes) -> list[tuple[str, str]]:
    with pytest.raises(ConnectionFileError) as caught:
        parse_connection_file(raw)
    return [(e.field, e.rule) for e in caught.value.errors]


def errors_with(**overrides: Any) -> list[tuple[str, str]]:
    return errors_of(connection_file_bytes(**overrides))


def parsed(**overrides: Any) -> ConnectionFile:
    return parse_connection_file(connection_file_bytes(**overrides))


# --- a valid file ----------------------------------------------------------------------


def test_valid_file_parses_to_typed_fields() -> None:
    raw = connection_file_bytes()
    cf = parse_connection_file(raw)
    assert cf.version == "1.0"
    assert cf.site_name == "Test site"
    assert cf.application_name == "bodyworn test destination"
    assert cf.application_version == "1.0.0"
    assert cf.content_destination_as_ntp_server is False
    assert cf.authentication_token_uris == (HTTPS_URI,)
    assert cf.https_certificates == (certificate().public_bytes(_der()),)
    assert cf.certificates()[0] == certificate()
    assert cf.blob_api_user_name == "bodyworn"
    assert cf.blob_api_key == "secret-key"
    assert cf.container_type == "mkv"
    assert cf.full_store_and_read_support is False
    assert cf.want_encryption is False
    assert cf.public_key_pem is None and cf.public_key_id is None and cf.public_key() is None
    assert cf.uses_https
    assert cf.raw == raw


def test_blob_api_key_is_not_in_repr() -> None:
    assert "secret-key" not in repr(parsed())


def test_optional_fields_take_their_defaults() -> None:
    cf = parsed(
        HTTPSCertificate=OMIT,
        AuthenticationTokenURI=[HTTP_URI],
        ContainerType=OMIT,
        FullStoreAndReadSupport=OMIT,
        WantEncryption=OMIT,
    )
    assert cf.https_certificates == ()
    assert not cf.uses_https
    assert cf.container_type == "mkv"
    assert cf.full_store_and_read_support is False
    assert cf.want_encryption is False


def test_null_optional_fields_mean_not_given() -> None:
    cf = parsed(
        HTTPSCertificate=None,
        AuthenticationTokenURI=[HTTP_URI],
        ContainerType=None,
        FullStoreAndReadSupport=None,
        WantEncryption=None,
        PublicKey=None,
        PublicKeyId=None,
    )
    assert cf.https_certificates == () and cf.container_type == "mkv"


def test_encrypted_file_parses_with_its_rsa_key() -> None:
    cf = parsed(WantEncryption=True)
    assert cf.want_encryption
    assert cf.public_key_pem == public_key_pem()
    assert cf.public_key_id == "test-key-1"
    key = cf.public_key()
    assert key is not None and key.key_size == 2048


def test_mp4_and_full_support_are_kept() -> None:
    cf = parsed(
        ContainerType="mp4", FullStoreAndReadSupport=True, ContentDestinationAsNTPServer=True
    )
    assert cf.container_type == "mp4"
    assert cf.full_store_and_read_support
    assert cf.content_destination_as_ntp_server


def test_utf8_bom_is_tolerated_and_raw_kept() -> None:
    raw = b"\xef\xbb\xbf" + connection_file_bytes()
    assert parse_connection_file(raw).raw == raw


def test_unknown_fields_are_ignored_but_kept_in_raw() -> None:
    raw = connection_file_bytes(BlobAPI="Swift 1.0", Extra={"nested": [1, 2]})
    assert b"BlobAPI" in parse_connection_file(raw).raw


def test_limits_are_inclusive() -> None:
    cf = parsed(
        SiteName="s" * 64,
        ApplicationName="a" * 256,
        ApplicationVersion="v" * 128,  # 64 before spec v1.6.10
        BlobAPIKey="k" * 64,
        BlobAPIUserName="u" * 64,
        AuthenticationTokenURI=[HTTPS_URI + "?" + "q" * (512 - len(HTTPS_URI) - 1)] * 10,
        HTTPSCertificate=[certificate_b64()] * 10,
        WantEncryption=True,
        PublicKeyId="i" * 128,
    )
    assert len(cf.authentication_token_uris) == 10 and len(cf.https_certificates) == 10


def test_unicode_text_is_allowed() -> None:
    assert parsed(SiteName="Polisstation Malmö — 東京").site_name == "Polisstation Malmö — 東京"


def test_pem_certificate_entries_are_accepted_and_stored_as_der() -> None:
    cf = parsed(HTTPSCertificate=[certificate_b64(pem=True)])
    assert cf.https_certificates == (certificate().public_bytes(_der()),)


def test_base64_with_line_breaks_is_accepted() -> None:
    wrapped = "\n".join(_chunks(certificate_b64(), 64))
    assert parsed(HTTPSCertificate=[wrapped]).https_certificates


def test_pkcs1_rsa_public_key_pem_is_accepted() -> None:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from .connection_factory import rsa_private_key

    pem = rsa_private_key().public_key().public_bytes(Encoding.PEM, PublicFormat.PKCS1)
    cf = parsed(WantEncryption=True, PublicKey=base64.b64encode(pem).decode())
    assert cf.public_key_pem == pem


def test_http_uris_allowed_without_certificates() -> None:
    cf = parsed(HTTPSCertificate=[], AuthenticationTokenURI=[HTTP_URI, HTTPS_URI])
    assert cf.authentication_token_uris == (HTTP_URI, HTTPS_URI)


# --- the file as a whole ---------------------------------------------------------------


def test_file_larger_than_64_kib_is_refused() -> None:
    raw = connection_file_bytes(Padding="x" * 70_000)
    assert errors_of(raw) == [("file", "must be at most 65536 bytes")]


def test_file_of_exactly_64_kib_is_accepted() -> None:
    base = connection_file_bytes(Padding="")
    raw = base.replace(b'"Padding": ""', b'"Padding": "' + b"x" * (65536 - len(base)) + b'"')
    assert len(raw) == 65536
    parse_connection_file(raw)


def test_non_utf8_is_refused() -> None:
    raw = connection_file_bytes(SiteName="Malmö").decode().encode("latin-1")
    assert errors_of(raw) == [("file", "must be UTF-8 text")]


@pytest.mark.parametrize(
    "raw", [b"", b"{", b"{'a': 1}", b'{"a": NaN}', b"[" * 5000 + b"]" * 5000, b'{"a": 1} x']
)
def test_invalid_json_is_refused(raw: bytes) -> None:
    assert errors_of(raw) == [("file", "must be valid JSON")]


@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"1", b"null", b"true"])
def test_non_object_is_refused(raw: bytes) -> None:
    assert errors_of(raw) == [("file", "must be a JSON object")]


def test_repeated_attribute_is_refused() -> None:
    raw = connection_file_bytes().replace(b"{", b'{"SiteName": "other",', 1)
    assert errors_of(raw) == [("SiteName", "given only once")]


# --- one rule each ---------------------------------------------------------------------


REQUIRED = [
    "ConnectionFileVersion",
    "SiteName",
    "ApplicationName",
    "ApplicationVersion",
    "AuthenticationTokenURI",
    "BlobAPIKey",
    "BlobAPIUserName",
]


@pytest.mark.parametrize("name", REQUIRED)
def test_required_attribute_missing(name: str) -> None:
    assert errors_with(**{name: OMIT}) == [(name, "required")]


@pytest.mark.parametrize("name", REQUIRED)
def test_required_attribute_null(name: str) -> None:
    assert errors_with(**{name: None}) == [(name, "required")]


@pytest.mark.parametrize("value", [OMIT, None])
def test_a_file_without_the_ntp_attribute_is_taken_as_false_with_a_warning(value: object) -> None:
    # Required by the spec's table, but the reference server writes files without it.
    cf = parsed(ContentDestinationAsNTPServer=value)
    assert cf.content_destination_as_ntp_server is False
    assert cf.warnings == (NTP_MISSING,)
    message = str(cf.warnings[0])
    assert "time from the content destination" in message and "taken as no" in message
    assert "Axis body worn integration API" in message
    assert parsed().warnings == () and parsed(ContentDestinationAsNTPServer=True).warnings == ()


def test_version_must_be_1_0() -> None:
    assert errors_with(ConnectionFileVersion="2.0") == [("ConnectionFileVersion", 'must be "1.0"')]
    assert errors_with(ConnectionFileVersion=1.0) == [("ConnectionFileVersion", "must be a string")]
    assert errors_with(ConnectionFileVersion="1.0" * 20) == [
        ("ConnectionFileVersion", 'must be "1.0"')
    ]


@pytest.mark.parametrize(
    ("name", "limit"),
    [
        ("SiteName", 64),
        ("ApplicationName", 256),
        ("ApplicationVersion", 128),
        ("BlobAPIKey", 64),
        ("BlobAPIUserName", 64),
    ],
)
def test_string_length_limits(name: str, limit: int) -> None:
    assert errors_with(**{name: "x" * (limit + 1)}) == [(name, f"at most {limit} characters")]


@pytest.mark.parametrize(
    "name", ["SiteName", "ApplicationName", "ApplicationVersion", "BlobAPIKey", "BlobAPIUserName"]
)
def test_strings_must_not_be_empty(name: str) -> None:
    assert errors_with(**{name: ""}) == [(name, "must not be empty")]


@pytest.mark.parametrize("bad", ["a\nb", "a\x00b", "tab\there", "a\x7fb", "a\x85b", "\ud800"])
def test_strings_refuse_control_characters(bad: str) -> None:
    assert errors_with(SiteName=bad) == [("SiteName", "no control characters")]


@pytest.mark.parametrize("value", [1, 1.5, True, [], {}])
def test_strings_refuse_other_json_types(value: object) -> None:
    assert errors_with(BlobAPIUserName=value) == [("BlobAPIUserName", "must be a string")]


@pytest.mark.parametrize(
    "name", ["ContentDestinationAsNTPServer", "FullStoreAndReadSupport", "WantEncryption"]
)
@pytest.mark.parametrize("value", [0, 1, "true", "false", [], {}, 0.0])
def test_booleans_refuse_other_json_types(name: str, value: object) -> None:
    assert errors_with(**{name: value}) == [(name, "must be true or false")]


@pytest.mark.parametrize("value", ["avi", "MKV", "", 1, ["mkv"]])
def test_container_type_is_mkv_or_mp4(value: object) -> None:
    assert errors_with(ContainerType=value) == [("ContainerType", 'must be "mkv" or "mp4"')]


def test_uri_list_must_not_be_empty() -> None:
    assert errors_with(AuthenticationTokenURI=[]) == [
        ("AuthenticationTokenURI", "at least 1 entry")
    ]


def test_uri_list_at_most_10() -> None:
    assert errors_with(AuthenticationTokenURI=[HTTPS_URI] * 11) == [
        ("AuthenticationTokenURI", "at most 10 entries")
    ]


def test_uri_list_must_be_a_list() -> None:
    assert errors_with(AuthenticationTokenURI=HTTPS_URI) == [
        ("AuthenticationTokenURI", "must be a list")
    ]


def test_uri_at_most_512_characters() -> None:
    long_uri = HTTPS_URI + "?" + "q" * (512 - len(HTTPS_URI))
    assert errors_with(AuthenticationTokenURI=[HTTPS_URI, long_uri]) == [
        ("AuthenticationTokenURI[1]", "at most 512 characters")
    ]


@pytest.mark.parametrize(
    "uri",
    [
        "ftp://cd.example.test/auth/v1.0",
        "cd.example.test/auth/v1.0",
        "/auth/v1.0",
        "https://",
        "https:///auth",
        "https://cd.example.test:99999/auth",
        "https://[::1/auth",
        " https://cd.example.test/auth",
        "https://cd example.test/auth",
        "",
    ],
)
def test_uri_must_be_http_or_https_with_a_host(uri: str) -> None:
    assert errors_with(AuthenticationTokenURI=[uri]) == [
        ("AuthenticationTokenURI[0]", "an http or https URI with a host")
    ]


@pytest.mark.parametrize("uri", ["https://user:secret@cd.example.test/auth/v1.0",
                                 "https://user@cd.example.test/auth/v1.0",
                                 "https://:pw@cd.example.test/auth/v1.0"])
def test_uri_must_not_carry_credentials(uri: str) -> None:
    assert errors_with(AuthenticationTokenURI=[uri]) == [
        ("AuthenticationTokenURI[0]", "no user name or password in the URI")
    ]


def test_uri_port_zero_is_refused() -> None:
    assert errors_with(AuthenticationTokenURI=["https://cd.example.test:0/auth/v1.0"]) == [
        ("AuthenticationTokenURI[0]", "port must be 1-65535")
    ]


@pytest.mark.parametrize("name", ["SiteName", "ApplicationName", "BlobAPIUserName"])
@pytest.mark.parametrize("blank", [" ", "   ", "\u3000"])
def test_strings_must_not_be_blank(name: str, blank: str) -> None:
    assert errors_with(**{name: blank}) == [(name, "must not be blank")]


@pytest.mark.parametrize("bidi", ["\u202e", "\u202a", "\u2066", "\u2069", "\u200f", "\u061c"])
def test_strings_refuse_bidirectional_controls(bidi: str) -> None:
    assert errors_with(SiteName=f"Main{bidi}gpj.exe") == [("SiteName", "no control characters")]
    assert errors_with(ApplicationName=f"x{bidi}") == [
        ("ApplicationName", "no control characters")]


def _certificate_valid(start: dt.datetime, end: dt.datetime) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cd.example.test")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end).sign(key, hashes.SHA256()))
    return base64.b64encode(cert.public_bytes(Encoding.DER)).decode()


def test_a_new_file_with_an_expired_or_future_certificate_is_refused() -> None:
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    day = dt.timedelta(days=1)
    expired = _certificate_valid(now - 400 * day, now - day)
    future = _certificate_valid(now + day, now + 400 * day)
    good = _certificate_valid(now - day, now + day)
    raw = connection_file_bytes(HTTPSCertificate=[good, expired, future])
    with pytest.raises(ConnectionFileError) as caught:
        parse_connection_file(raw, now=now)
    assert [(e.field, e.rule) for e in caught.value.errors] == [
        ("HTTPSCertificate[1]", "certificate expired on 2026-05-31"),
        ("HTTPSCertificate[2]", "certificate is not valid before 2026-06-02"),
    ]
    # A file already in force is read without a moment: an expiry never makes it unreadable.
    assert len(parse_connection_file(raw).https_certificates) == 3
    assert len(parse_connection_file(connection_file_bytes(HTTPSCertificate=[good]),
                                     now=now).https_certificates) == 1


def test_uri_entries_must_be_strings() -> None:
    assert errors_with(AuthenticationTokenURI=[HTTPS_URI, 5]) == [
        ("AuthenticationTokenURI[1]", "must be a string")
    ]


def test_http_uri_refused_when_certificates_given() -> None:
    assert errors_with(AuthenticationTokenURI=[HTTPS_URI, HTTP_URI]) == [
        ("AuthenticationTokenURI[1]", "must be https when HTTPSCertificate is given")
    ]


def test_ipv6_and_uppercase_scheme_uris_are_accepted() -> None:
    uris = ["HTTPS://[2001:db8::1]:8443/auth/v1.0", "https://10.0.0.5/auth/v1.0"]
    assert parsed(AuthenticationTokenURI=uris).authentication_token_uris == tuple(uris)


def test_certificates_at_most_10() -> None:
    assert errors_with(HTTPSCertificate=[certificate_b64()] * 11) == [
        ("HTTPSCertificate", "at most 10 entries")
    ]


def test_certificates_must_be_a_list() -> None:
    assert errors_with(HTTPSCertificate=certificate_b64()) == [
        ("HTTPSCertificate", "must be a list")
    ]


def test_certificate_at_most_16k_characters() -> None:
    assert errors_with(HTTPSCertificate=["A" * (16 * 1024 + 4)]) == [
        ("HTTPSCertificate[0]", "at most 16384 characters")
    ]


@pytest.mark.parametrize(
    "value",
    [
        "not base64!",
        "",
        base64.b64encode(b"just some bytes").decode(),
        base64.b64encode(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        ).decode(),
        certificate_b64()[:-40],
        "QUJD",
    ],
)
def test_certificate_must_parse(value: str) -> None:
    assert errors_with(HTTPSCertificate=[certificate_b64(), value]) == [
        ("HTTPSCertificate[1]", "base64 of one X.509 certificate")
    ]


def test_certificate_pem_bundle_of_two_is_refused() -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    bundle = certificate("a.test").public_bytes(Encoding.PEM) + certificate("b.test").public_bytes(
        Encoding.PEM
    )
    assert errors_with(HTTPSCertificate=[base64.b64encode(bundle).decode()]) == [
        ("HTTPSCertificate[0]", "base64 of one X.509 certificate")
    ]


def test_certificate_entries_must_be_strings() -> None:
    assert errors_with(HTTPSCertificate=[None]) == [("HTTPSCertificate[0]", "must be a string")]


def test_encryption_needs_public_key_and_id() -> None:
    assert errors_with(WantEncryption=True, PublicKey=OMIT, PublicKeyId="") == [
        ("PublicKey", "required when WantEncryption is true"),
        ("PublicKeyId", "required when WantEncryption is true"),
    ]


def test_key_and_id_not_allowed_without_encryption() -> None:
    assert errors_with(WantEncryption=False, PublicKey=public_key_b64(), PublicKeyId="k") == [
        ("PublicKey", "only allowed when WantEncryption is true"),
        ("PublicKeyId", "only allowed when WantEncryption is true"),
    ]


def test_empty_key_and_id_allowed_without_encryption() -> None:
    """The reference destination writes empty strings when it does not encrypt."""
    cf = parsed(WantEncryption=False, PublicKey="", PublicKeyId="")
    assert cf.public_key_pem is None and cf.public_key_id is None


def test_public_key_id_at_most_128() -> None:
    assert errors_with(WantEncryption=True, PublicKeyId="i" * 129) == [
        ("PublicKeyId", "at most 128 characters")
    ]


def test_public_key_at_most_2048_characters() -> None:
    assert errors_with(WantEncryption=True, PublicKey="A" * 2052) == [
        ("PublicKey", "at most 2048 characters")
    ]


@pytest.mark.parametrize(
    "value",
    [
        "not base64!",
        base64.b64encode(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").decode(),
        public_key_pem().decode(),  # PEM text, not base64 of it
        "QUJD",
    ],
)
def test_public_key_must_be_base64_pem_rsa(value: str) -> None:
    assert errors_with(WantEncryption=True, PublicKey=value) == [
        ("PublicKey", "base64 of a PEM RSA public key")
    ]


def test_public_key_der_instead_of_pem_is_refused() -> None:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from .connection_factory import rsa_private_key

    der = (
        rsa_private_key().public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )
    assert errors_with(WantEncryption=True, PublicKey=base64.b64encode(der).decode()) == [
        ("PublicKey", "base64 of a PEM RSA public key")
    ]


def test_public_key_must_be_rsa() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    assert errors_with(WantEncryption=True, PublicKey=base64.b64encode(pem).decode()) == [
        ("PublicKey", "base64 of a PEM RSA public key")
    ]


def test_public_key_must_have_2048_bits() -> None:
    assert errors_with(WantEncryption=True, PublicKey=public_key_b64(1024)) == [
        (
            "PublicKey",
            "RSA key of at least 2048 bits (this one has 1024; shorter keys can be broken, "
            "though the reference server accepts 1024)",
        )
    ]


def test_broken_want_encryption_still_checks_the_key_given() -> None:
    assert errors_with(WantEncryption="yes", PublicKey="QUJD", PublicKeyId=OMIT) == [
        ("WantEncryption", "must be true or false"),
        ("PublicKey", "base64 of a PEM RSA public key"),
    ]


def test_every_problem_is_listed_together() -> None:
    errors = errors_with(
        ConnectionFileVersion="0.9",
        SiteName="s" * 65,
        ContentDestinationAsNTPServer="no",
        AuthenticationTokenURI=["ftp://x", HTTP_URI],
        HTTPSCertificate=["bogus"],
        BlobAPIKey=OMIT,
        ContainerType="avi",
        WantEncryption=True,
        PublicKey=OMIT,
    )
    assert errors == [
        ("ConnectionFileVersion", 'must be "1.0"'),
        ("SiteName", "at most 64 characters"),
        ("ContentDestinationAsNTPServer", "must be true or false"),
        ("HTTPSCertificate[0]", "base64 of one X.509 certificate"),
        ("AuthenticationTokenURI[0]", "an http or https URI with a host"),
        ("AuthenticationTokenURI[1]", "must be https when HTTPSCertificate is given"),
        ("BlobAPIKey", "required"),
        ("ContainerType", 'must be "mkv" or "mp4"'),
        ("PublicKey", "required when WantEncryption is true"),
    ]


def test_error_message_names_fields_and_rules() -> None:
    with pytest.raises(ConnectionFileError) as caught:
        parse_connection_file(connection_file_bytes(SiteName=OMIT, BlobAPIKey=OMIT))
    assert str(caught.value) == "SiteName: required; BlobAPIKey: required"
    assert caught.value.errors == [
        FieldError("SiteName", "required"),
        FieldError("BlobAPIKey", "required"),
    ]
    assert isinstance(caught.value, ValueError)


# --- replacing a locked file -----------------------------------------------------------


def test_update_may_change_what_the_spec_allows() -> None:
    current = parsed()
    new = parsed(
        SiteName="Renamed site",
        ApplicationName="Other",
        ApplicationVersion="2.0",
        ContentDestinationAsNTPServer=True,
        AuthenticationTokenURI=["https://new.example.test/auth/v1.0"],
        HTTPSCertificate=[certificate_b64("new.example.test")],
        BlobAPIKey="rotated",
        BlobAPIUserName="other-user",
        FullStoreAndReadSupport=True,
        WantEncryption=True,
    )
    assert check_update(current, new) == []


def test_update_may_rotate_the_encryption_key() -> None:
    current = parsed(WantEncryption=True)
    new = parsed(WantEncryption=True, PublicKey=public_key_b64(3072), PublicKeyId="key-2")
    assert check_update(current, new) == []


def test_update_may_not_turn_full_support_off() -> None:
    assert check_update(parsed(FullStoreAndReadSupport=True), parsed()) == [
        FieldError("FullStoreAndReadSupport", "may only change from false to true")
    ]


def test_update_may_not_turn_encryption_off() -> None:
    assert check_update(parsed(WantEncryption=True), parsed(WantEncryption=False)) == [
        FieldError("WantEncryption", "cannot be turned off once on")
    ]


def test_update_may_not_change_container_type() -> None:
    assert check_update(parsed(), parsed(ContainerType="mp4")) == [
        FieldError("ContainerType", "cannot change once set")
    ]


def test_update_omitting_container_type_keeps_the_default() -> None:
    assert check_update(parsed(ContainerType="mkv"), parsed(ContainerType=OMIT)) == []


def test_update_lists_every_problem() -> None:
    current = parsed(ContainerType="mp4", FullStoreAndReadSupport=True, WantEncryption=True)
    assert check_update(current, parsed()) == [
        FieldError("ContainerType", "cannot change once set"),
        FieldError("FullStoreAndReadSupport", "may only change from false to true"),
        FieldError("WantEncryption", "cannot be turned off once on"),
    ]


# --- fuzzing ---------------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
field_names = st.sampled_from(
    [
        *REQUIRED,
        "HTTPSCertificate",
        "ContainerType",
        "FullStoreAndReadSupport",
        "WantEncryption",
        "PublicKey",
        "PublicKeyId",
    ]
)


def parse_or_refuse(raw: bytes) -> None:
    try:
        parse_connection_file(raw)
    except ConnectionFileError as e:
        assert e.errors
        assert all(isinstance(x, FieldError) and x.field and x.rule for x in e.errors)


@FUZZ
@given(st.binary(max_size=2000))
def test_fuzz_arbitrary_bytes(raw: bytes) -> None:
    parse_or_refuse(raw)


@FUZZ
@given(json_values)
def test_fuzz_arbitrary_json(value: object) -> None:
    parse_or_refuse(json.dumps(value).encode())


@FUZZ
@given(st.dictionaries(field_names, json_values, max_size=8), st.booleans())
def test_fuzz_valid_file_with_attributes_replaced(replaced: dict[str, object], drop: bool) -> None:
    data = make_connection_file(WantEncryption=True)
    if drop:
        data = {k: v for k, v in data.items() if k not in replaced}
    else:
        data.update(replaced)
    parse_or_refuse(encode(data))


@FUZZ
@given(st.binary(max_size=300), st.integers(min_value=0))
def test_fuzz_corrupted_valid_file(noise: bytes, at: int) -> None:
    raw = connection_file_bytes(WantEncryption=True)
    at %= len(raw)
    parse_or_refuse(raw[:at] + noise + raw[at + len(noise) :])


safe_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"),
                           blacklist_characters="".join(BIDI_CONTROLS)),
    min_size=1, max_size=64,
).filter(lambda text: bool(text.strip()))
hosts = st.from_regex(r"\A[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,3}\Z")
paths = st.text(alphabet=string.ascii_letters + string.digits + "/._-", max_size=60)


@st.composite
def valid_files(draw: st.DrawFn) -> dict[str, Any]:
    https = draw(st.booleans())
    scheme = "https" if https else draw(st.sampled_from(["http", "https"]))
    uris = draw(
        st.lists(
            st.builds(
                lambda h, p, path: f"{scheme}://{h}" + (f":{p}" if p else "") + "/" + path,
                hosts,
                st.none() | st.integers(1, 65535),
                paths,
            ),
            min_size=1,
            max_size=10,
        )
    )
    encrypted = draw(st.booleans())
    data: dict[str, Any] = {
        "ConnectionFileVersion": "1.0",
        "SiteName": draw(safe_text),
        "ApplicationName": draw(safe_text),
        "ApplicationVersion": draw(safe_text),
        "ContentDestinationAsNTPServer": draw(st.booleans()),
        "AuthenticationTokenURI": uris,
        "BlobAPIKey": draw(safe_text),
        "BlobAPIUserName": draw(safe_text),
        "WantEncryption": encrypted,
    }
    if https:
        data["HTTPSCertificate"] = [
            certificate_b64(pem=draw(st.booleans())) for _ in range(draw(st.integers(1, 10)))
        ]
    if draw(st.booleans()):
        data["ContainerType"] = draw(st.sampled_from(["mkv", "mp4"]))
    if draw(st.booleans()):
        data["FullStoreAndReadSupport"] = draw(st.booleans())
    if encrypted:
        data["PublicKey"] = public_key_b64()
        data["PublicKeyId"] = draw(safe_text)
    extra = draw(st.dictionaries(st.text(max_size=10), json_values, max_size=3))
    return {**extra, **data}


@FUZZ
@given(valid_files())
def test_fuzz_valid_files_always_parse(data: dict[str, Any]) -> None:
    cf = parse_connection_file(encode(data))
    assert cf.site_name == data["SiteName"]
    assert cf.authentication_token_uris == tuple(data["AuthenticationTokenURI"])
    assert len(cf.https_certificates) == len(data.get("HTTPSCertificate", []))
    assert cf.want_encryption == data["WantEncryption"]
    assert cf.container_type == data.get("ContainerType", "mkv")


# --- helpers ---------------------------------------------------------------------------


def _der() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]
