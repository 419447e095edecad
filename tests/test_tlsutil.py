"""The one self-signed certificate builder both the controller and the embedded CD use."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bodyworn.tlsutil import self_signed_certificate


def test_a_server_certificate_for_names_and_addresses() -> None:
    made = self_signed_certificate(["cd.example", "127.0.0.1"], days=10,
                                   common_name="main", organization="bodyworn Default")
    cert = x509.load_pem_x509_certificate(made.cert_pem)
    assert x509.load_der_x509_certificate(made.cert_der) == cert
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "main"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == \
        "bodyworn Default"
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["cd.example"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    now = datetime.now(UTC)
    assert cert.not_valid_before_utc < now < cert.not_valid_after_utc <= now + timedelta(days=10)
    key = load_pem_private_key(made.key_pem, password=None)
    assert key.public_key() == cert.public_key()


def test_the_common_name_defaults_to_the_first_host_and_hosts_are_needed() -> None:
    cert = x509.load_der_x509_certificate(self_signed_certificate(["a.example"]).cert_der)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "a.example"
    assert not cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    with pytest.raises(ValueError):
        self_signed_certificate([])
