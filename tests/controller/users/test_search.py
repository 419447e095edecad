"""Searching users: case and Unicode form do not matter, LIKE wildcards are plain characters."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bodyworn.controller.settings import ControllerSettings
from tests.store.backends import BACKENDS, backend_settings


def _h(csrf: str) -> dict[str, str]:
    return {"X-CSRF-Token": csrf}



@pytest.fixture(params=BACKENDS, scope="module")
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(backend: str, tmp_path: Path) -> Iterator[ControllerSettings]:
    """The same searches on SQLite and PostgreSQL."""
    with backend_settings(backend, tmp_path / "data") as chosen:
        yield chosen


@pytest.fixture
def people(logged_in: tuple[TestClient, str]) -> TestClient:
    client, csrf = logged_in
    for name, uid in (("Åsa Öberg", "ÅÖ-1"), ("Örjan Ek", "oe_2"), ("Per Ahl", "100%"),
                      ("Ida Ström", "STRASSE-9")):
        r = client.post("/api/v1/users", headers=_h(csrf), json={"name": name, "user_id": uid})
        assert r.status_code == 201, r.text
    return client


def _names(client: TestClient, q: str) -> list[str]:
    page = client.get("/api/v1/users", params={"q": q}).json()
    assert page["total"] == len(page["users"])
    return [u["name"] for u in page["users"]]


@pytest.mark.parametrize(("q", "expected"), [
    ("Åsa", ["Åsa Öberg"]),
    ("åsa", ["Åsa Öberg"]),
    ("ÅSA ÖBERG", ["Åsa Öberg"]),
    (unicodedata.normalize("NFD", "åsa"), ["Åsa Öberg"]),
    ("öberg", ["Åsa Öberg"]),
    ("ö", ["Åsa Öberg", "Örjan Ek", "Ida Ström"]),
    ("åö-1", ["Åsa Öberg"]),  # user IDs too
    ("straße", ["Ida Ström"]),  # ß folds to ss
    ("%", ["Per Ahl"]),  # wildcards are matched as themselves
    ("_", ["Örjan Ek"]),
    ("0%", ["Per Ahl"]),
    ("\\", []),
    ("e_2", ["Örjan Ek"]),
    ("e%2", []),
])
def test_search_folds_case_and_form_and_escapes_wildcards(
    people: TestClient, q: str, expected: list[str],
) -> None:
    assert sorted(_names(people, q)) == sorted(expected)


def test_names_and_ids_are_stored_composed(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    nfd = unicodedata.normalize("NFD", "Åsa")
    r = client.post("/api/v1/users", headers=_h(csrf), json={"name": nfd, "user_id": nfd})
    assert r.status_code == 201 and r.json()["name"] == r.json()["user_id"] == "Åsa"
    # The same ID typed composed is the same ID.
    r = client.post("/api/v1/users", headers=_h(csrf), json={"name": "B", "user_id": "Åsa"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "user_id"
