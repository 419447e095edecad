"""Profile names are unique whatever their case or Unicode form, on every write path."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bodyworn.controller.context import ControllerContext
from bodyworn.controller.profiles import service
from bodyworn.controller.profiles.models import ProfileRow
from bodyworn.controller.settings import ControllerSettings
from bodyworn.controller.users.models import BodyWornUser
from bodyworn.domain.clock import ManualClock
from bodyworn.domain.text import fold
from tests.store.backends import BACKENDS, backend_settings


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ControllerSettings]:
    """The same tests on SQLite and PostgreSQL: the folding must not depend on the backend."""
    with backend_settings(request.param, tmp_path / "data") as chosen:
        yield chosen


def _h(csrf: str) -> dict[str, str]:
    return {"X-CSRF-Token": csrf}


def test_a_name_differing_only_in_case_beyond_ascii_is_refused(
    logged_in: tuple[TestClient, str],
) -> None:
    client, csrf = logged_in
    assert client.post("/api/v1/profiles", headers=_h(csrf), json={"name": "Öga"}).status_code \
        == 201
    for clash in ("Öga", "öga", "ÖGA", unicodedata.normalize("NFD", "öga")):
        r = client.post("/api/v1/profiles", headers=_h(csrf), json={"name": clash})
        assert r.status_code == 422, (clash, r.status_code, r.text)
        assert r.json()["detail"] == [
            {"field": "name", "message": "another camera profile has this name"}]
    # German sharp s folds to "ss": one profile, however it is written.
    assert client.post("/api/v1/profiles", headers=_h(csrf),
                       json={"name": "Straße"}).status_code == 201
    assert client.post("/api/v1/profiles", headers=_h(csrf),
                       json={"name": "STRASSE"}).status_code == 422


def test_renaming_onto_another_name_is_refused(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    a = client.post("/api/v1/profiles", headers=_h(csrf), json={"name": "Åsa"}).json()
    b = client.post("/api/v1/profiles", headers=_h(csrf), json={"name": "Ärla"}).json()
    r = client.put(f"/api/v1/profiles/{b['id']}", headers=_h(csrf), json={"name": "ÅSA"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "name"
    # A profile may change the case of its own name.
    r = client.put(f"/api/v1/profiles/{a['id']}", headers=_h(csrf), json={"name": "ÅSA"})
    assert r.status_code == 200 and r.json()["name"] == "ÅSA"


def test_the_folded_name_is_kept_on_every_write(ctx: ControllerContext,
                                                logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    p = client.post("/api/v1/profiles", headers=_h(csrf), json={"name": "Ölands Bro"}).json()
    client.put(f"/api/v1/profiles/{p['id']}", headers=_h(csrf), json={"name": "ÖSTRA"})
    with ctx.factory() as session:
        rows = session.scalars(select(ProfileRow)).all()
        assert len(rows) == 4  # the three pre-configured ones too
        assert all(r.name_key == fold(r.name) for r in rows)


def test_a_clash_found_only_by_the_unique_key_is_refused_the_same_way(
    ctx: ControllerContext, clock: ManualClock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two requests passing the name check at once: the unique key catches the second.
    with ctx.factory() as session, session.begin():
        service.create(session, clock, "Öga", {}, actor="root", source="t")
    monkeypatch.setattr(service, "_clean_name", lambda _s, name, _own: (name, []))
    with pytest.raises(service.ProfileRefused) as refused, ctx.factory() as session, \
            session.begin():
        service.create(session, clock, "ÖGA", {}, actor="root", source="t")
    assert refused.value.errors == [service.NAME_TAKEN]


def test_csv_import_matches_profiles_and_keeps_the_folded_keys(
    ctx: ControllerContext, logged_in: tuple[TestClient, str],
) -> None:
    client, csrf = logged_in
    client.post("/api/v1/profiles", headers=_h(csrf), json={"name": "Öga"})
    raw = ("name,user_id,camera_profile\r\nÅsa Öberg,ÅÖ1,ÖGA\r\n"
           f"Ida Ström,IS2,{unicodedata.normalize('NFD', 'öga')}\r\n").encode()
    r = client.post("/api/v1/users/import", params={"commit": "true"}, content=raw,
                    headers={**_h(csrf), "Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    users = client.get("/api/v1/users", params={"q": "ÅSA"}).json()["users"]
    assert [(u["name"], u["profile_name"]) for u in users] == [("Åsa Öberg", "Öga")]
    # An update through the import keeps the key of the new name.
    raw = "name,user_id,camera_profile\r\nÅsa Ek,ÅÖ1,öga\r\n".encode()
    r = client.post("/api/v1/users/import", params={"commit": "true", "on_conflict": "update"},
                    content=raw, headers={**_h(csrf), "Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    with ctx.factory() as session:
        rows = session.scalars(select(BodyWornUser)).all()
        assert sorted(r.name for r in rows) == ["Ida Ström", "Åsa Ek"]
        assert all(r.name_key == fold(r.name) and r.user_id is not None
                   and r.user_id_key == fold(r.user_id) for r in rows)
