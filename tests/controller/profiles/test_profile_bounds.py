"""Every number a profile request carries has a real range: refused with 4xx, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from bodyworn.controller.web.params import MAX_ROW_ID
from bodyworn.domain.profile import DURATION_LIMITS

HUGE = 10**15


def _h(csrf: str) -> dict[str, str]:
    return {"X-CSRF-Token": csrf}


def _messages(response: Any) -> dict[str, str]:
    return {e["field"]: e["message"] for e in response.json()["detail"]}


@pytest.mark.parametrize("field", ["pre_buffer", "periodic_reminder", "max_clip_length"])
@pytest.mark.parametrize("value", [HUGE, -HUGE, 86_399_999_999_999, 2**63, -1])
def test_create_refuses_durations_out_of_range(logged_in: tuple[TestClient, str], field: str,
                                               value: int) -> None:
    client, csrf = logged_in
    r = client.post("/api/v1/profiles", json={"name": "P", field: value}, headers=_h(csrf))
    assert r.status_code == 422, r.text
    message = _messages(r)[field]
    assert "seconds" in message
    assert all(p["name"] != "P" for p in client.get("/api/v1/profiles").json())


@pytest.mark.parametrize("field", ["pre_buffer", "periodic_reminder", "max_clip_length"])
def test_update_refuses_durations_out_of_range(logged_in: tuple[TestClient, str],
                                               field: str) -> None:
    client, csrf = logged_in
    pid = client.get("/api/v1/profiles").json()[0]["id"]
    before = client.get(f"/api/v1/profiles/{pid}").json()
    for value in (HUGE, 86_399_999_999_999, -5):
        r = client.put(f"/api/v1/profiles/{pid}", json={field: value}, headers=_h(csrf))
        assert r.status_code == 422, r.text
        assert field in _messages(r)
    assert client.get(f"/api/v1/profiles/{pid}").json()["version"] == before["version"]


def test_the_largest_allowed_values_are_stored(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    top = {name: int(high.total_seconds()) for name, (_low, high) in DURATION_LIMITS.items()}
    r = client.post("/api/v1/profiles", json={"name": "Longest", **top}, headers=_h(csrf))
    assert r.status_code == 201, r.text
    assert {k: r.json()["settings"][k] for k in top} == top


def test_messages_speak_in_seconds_not_timedelta(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    r = client.post("/api/v1/profiles", json={"name": "P", "pre_buffer": 500}, headers=_h(csrf))
    assert _messages(r)["pre_buffer"] == "must be between 0 and 120 seconds"


@pytest.mark.parametrize("copy_of", [MAX_ROW_ID + 1, 2**64, -(2**63) - 1, 0])
def test_copy_of_beyond_64_bit_is_refused(logged_in: tuple[TestClient, str], copy_of: int) -> None:
    client, csrf = logged_in
    r = client.post("/api/v1/profiles", json={"name": "C", "copy_of": copy_of}, headers=_h(csrf))
    assert r.status_code == 422, r.text


def test_copy_of_the_largest_id_is_simply_missing(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    r = client.post("/api/v1/profiles", json={"name": "C", "copy_of": MAX_ROW_ID},
                    headers=_h(csrf))
    assert r.status_code == 422 and _messages(r)["copy_of"] == "no such camera profile"


@pytest.mark.parametrize("raw", [str(2**64), "9" * 5000, "²", "-1", "1e3"])
def test_page_form_ids_out_of_range_are_refused(logged_in: tuple[TestClient, str],
                                                raw: str) -> None:
    client, csrf = logged_in
    r = client.post("/profiles", data={"name": "Copy", "copy_of": raw, "csrf_token": csrf},
                    follow_redirects=False)
    assert r.status_code in (303, 400), r.text
    r = client.post("/users", data={"user_id": "u1", "name": "U One", "profile_id": raw,
                                    "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code < 500, r.text


@pytest.mark.parametrize("raw", [str(2**64), "9" * 5000, "²"])
def test_page_form_durations_out_of_range_are_refused(logged_in: tuple[TestClient, str],
                                                      raw: str) -> None:
    client, csrf = logged_in
    pid = client.get("/api/v1/profiles").json()[0]["id"]
    form = {"csrf_token": csrf, "name": "Default", "resolution": "1080p",
            "activation": "single_click", "front_indicator": "on",
            "notification": "beep_and_vibration", "periodic_reminder": raw,
            "pre_buffer_on": "on", "pre_buffer_length": raw, "max_clip_length": raw}
    r = client.post(f"/profiles/{pid}", data=form, follow_redirects=False)
    assert r.status_code == 400, r.text


def test_every_integer_in_the_api_has_a_range(logged_in: tuple[TestClient, str]) -> None:
    """Fix the class: no number a request carries reaches a service or the database without
    bounds (every integer and every other number, in parameters and bodies)."""
    client, _ = logged_in
    spec = client.get("/api/v1/openapi.json").json()
    schemas = spec["components"]["schemas"]
    unbounded: list[str] = []

    def walk(node: Any, where: str, seen: frozenset[str]) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, where, seen)
            return
        if not isinstance(node, dict):
            return
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(schemas[name], f"{where} -> {name}", seen | {name})
            return
        bounds = set(node)
        if (node.get("type") in ("integer", "number")
                and not (bounds & {"minimum", "exclusiveMinimum"}
                         and bounds & {"maximum", "exclusiveMaximum"})):
            unbounded.append(where)
        for key, value in node.items():
            if key == "properties":
                for prop, sub in value.items():
                    walk(sub, f"{where}.{prop}", seen)
            elif key in ("items", "anyOf", "oneOf", "allOf", "additionalProperties"):
                walk(value, where, seen)

    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            for param in op.get("parameters", []):
                walk(param["schema"], f"{method.upper()} {path} {param['name']}", frozenset())
            for content in op.get("requestBody", {}).get("content", {}).values():
                walk(content.get("schema", {}), f"{method.upper()} {path} body", frozenset())
    assert unbounded == []


@pytest.mark.parametrize("name", ["\x03Ó<-D*Þ", "Night\u202eshift", "a\x92b"])
def test_profile_names_with_control_characters_are_refused(logged_in: tuple[TestClient, str],
                                                           name: str) -> None:
    """Found by the API fuzzer: names with control characters were stored (users' names
    were already refused them)."""
    client, csrf = logged_in
    r = client.post("/api/v1/profiles", json={"name": name}, headers=_h(csrf))
    assert r.status_code == 422
    assert _messages(r) == {"name": "must not contain control characters"}
    pid = client.get("/api/v1/profiles").json()[0]["id"]
    r = client.put(f"/api/v1/profiles/{pid}", json={"name": name}, headers=_h(csrf))
    assert r.status_code == 422
