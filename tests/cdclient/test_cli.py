"""`bodyworn conformance` from the command line, against a real Swift."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bodyworn.cli import app
from tests.domain.connection_factory import OMIT, connection_file_bytes

from .conftest import SwiftInstance

pytestmark = pytest.mark.swift
runner = CliRunner()


def write_connection(tmp_path: Path, swift: SwiftInstance, key: str) -> Path:
    user, _ = swift.account("bwnone")
    path = tmp_path / "connection.json"
    # Plain Swift on loopback speaks HTTP: a file without certificates allows that.
    path.write_bytes(connection_file_bytes(
        AuthenticationTokenURI=[swift.auth_url], HTTPSCertificate=OMIT,
        BlobAPIUserName=user, BlobAPIKey=key,
    ))
    return path


def test_conformance_passes_against_real_swift(swift: SwiftInstance, tmp_path: Path) -> None:
    _, key = swift.account("bwnone")
    result = runner.invoke(app, ["conformance", "--connection-file",
                                 str(write_connection(tmp_path, swift, key)), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True


def test_conformance_fails_naming_the_check(swift: SwiftInstance, tmp_path: Path) -> None:
    result = runner.invoke(app, ["conformance", "--connection-file",
                                 str(write_connection(tmp_path, swift, "wrong-key"))])
    assert result.exit_code == 1
    assert "auth" in result.output.lower()


def test_a_bad_connection_file_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"ConnectionFileVersion": "2.0"}')
    result = runner.invoke(app, ["conformance", "--connection-file", str(path)])
    assert result.exit_code == 2 and "ConnectionFileVersion" in result.output


def test_a_file_without_the_ntp_attribute_is_run_with_a_warning(
    swift: SwiftInstance, tmp_path: Path
) -> None:
    user, key = swift.account("bwnone")
    path = tmp_path / "connection.json"
    path.write_bytes(connection_file_bytes(
        AuthenticationTokenURI=[swift.auth_url], HTTPSCertificate=OMIT,
        BlobAPIUserName=user, BlobAPIKey=key, ContentDestinationAsNTPServer=OMIT,
    ))
    result = runner.invoke(app, ["conformance", "--connection-file", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    first = report["checks"][0]
    assert report["ok"] is True and first["name"] == "connection-file"
    assert first["status"] == "warn" and "ContentDestinationAsNTPServer" in first["detail"]
    text = runner.invoke(app, ["conformance", "--connection-file", str(path)])
    assert text.exit_code == 0
    assert "Warning: The connection file does not say whether" in text.output
