"""Settings after setup: name, date and time, privacy, restore key download, the CD lock."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bodyworn.controller.context import ControllerContext
from bodyworn.controller.identity.restore_key import open_restore_key
from tests.controller.conftest import PASSPHRASE
from tests.domain.connection_factory import OMIT, connection_file_bytes


def test_rename_through_page_and_api(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    r = client.post("/settings/system", data={"csrf_token": csrf, "system_name": "East wing"})
    assert r.status_code == 200 and "Saved" in r.text
    assert client.get("/api/v1/system").json()["system_name"] == "East wing"
    r = client.put("/api/v1/system/name", json={"system_name": ""},
                   headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "system_name"
    r = client.put("/api/v1/system/name", json={"system_name": "West"},
                   headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["system_name"] == "West"
    assert "West" in client.get("/").text


def test_settings_changes_are_published_and_the_header_follows(
        ctx: ControllerContext, logged_in: tuple[TestClient, str]) -> None:
    from bodyworn.controller.events import SettingsChanged

    client, csrf = logged_in
    heard: list[frozenset[str]] = []
    ctx.events.subscribe(SettingsChanged, lambda e: heard.append(e.keys))
    client.put("/api/v1/system/name", json={"system_name": ""},
               headers={"X-CSRF-Token": csrf})  # refused: nothing changed, nothing said
    assert heard == []
    client.put("/api/v1/system/name", json={"system_name": "South"},
               headers={"X-CSRF-Token": csrf})
    assert heard == [frozenset({"system_name"})] and ctx.system_name == "South"
    client.post("/settings/privacy", data={"csrf_token": csrf, "usage_data_consent": "on"})
    assert heard[-1] == frozenset({"usage_data_consent"})
    client.put("/api/v1/system/time", headers={"X-CSRF-Token": csrf}, json={
        "timezone": "Europe/Oslo", "time_mode": "manual", "manual_time": ""})
    assert "timezone" in heard[-1]
    client.put("/api/v1/assignment/settings", headers={"X-CSRF-Token": csrf},
               json={"shift_hours": 10})
    assert heard[-1] == frozenset({"self_assign_readiness"})


def test_privacy_consent_is_off_by_default(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    assert client.get("/api/v1/system").json()["usage_data_consent"] is False
    client.post("/settings/privacy", data={"csrf_token": csrf, "usage_data_consent": "on"})
    assert client.get("/api/v1/system").json()["usage_data_consent"] is True
    client.post("/settings/privacy", data={"csrf_token": csrf})
    assert client.get("/api/v1/system").json()["usage_data_consent"] is False


def test_time_settings_validate_and_store(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    h = {"X-CSRF-Token": csrf}
    r = client.put("/api/v1/system/time", headers=h, json={
        "timezone": "Asia/Tokyo", "time_mode": "manual", "manual_time": "2026-12-01T08:30+09:00"})
    assert r.status_code == 200 and r.json()["timezone"] == "Asia/Tokyo"
    r = client.put("/api/v1/system/time", headers=h, json={
        "timezone": "Nowhere/Land", "time_mode": "manual",
        "manual_time": "2026-12-01T08:30+09:00"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "timezone"
    r = client.put("/api/v1/system/time", headers=h, json={
        "timezone": "UTC", "time_mode": "ntp", "ntp_server": "bad host!"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "ntp_server"


def test_an_ntp_server_out_of_reach_is_answered_with_the_offline_advice(
        ctx: ControllerContext, logged_in: tuple[TestClient, str]) -> None:
    def unreachable(server: str, fallback: str | None) -> float:
        raise OSError(f"{server}: Name or service not known")

    ctx.ntp = unreachable
    client, csrf = logged_in
    page = client.post("/settings/time", data={
        "csrf_token": csrf, "timezone": "UTC", "time_mode": "ntp", "ntp_server": "pool.ntp.org"})
    assert page.status_code == 400 and 'id="ntp-offline"' in page.text
    assert "A site without internet access should use Manual time" in page.text
    r = client.put("/api/v1/system/time", headers={"X-CSRF-Token": csrf}, json={
        "timezone": "UTC", "time_mode": "ntp", "ntp_server": "pool.ntp.org"})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["detail"]] == ["ntp_server", "ntp_unreachable"]


def test_time_from_a_real_sntp_server(ctx: ControllerContext,
                                      logged_in: tuple[TestClient, str]) -> None:
    from bodyworn.controller.app import default_ntp
    from tests.controller.clock.test_ntp import SntpServer  # a real SNTP server on loopback

    client, csrf = logged_in
    ctx.ntp = default_ntp()
    with SntpServer(1000.0) as server:
        r = client.put("/api/v1/system/time", headers={"X-CSRF-Token": csrf}, json={
            "timezone": "UTC", "time_mode": "ntp", "ntp_server": server.address})
    assert r.status_code == 200, r.text
    assert r.json()["ntp_server"] == server.address
    audit = client.get("/api/v1/audit").json()
    assert audit[0]["action"] == "system.time" and "ntp" in audit[0]["detail"]


def test_restore_key_download_needs_the_passphrase(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    r = client.post("/support/restore-key", data={"csrf_token": csrf, "passphrase": "wrong one!"})
    assert r.status_code == 403 and "wrong" in r.text
    r = client.post("/support/restore-key", data={"csrf_token": csrf, "passphrase": PASSPHRASE})
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    contents = open_restore_key(r.content, PASSPHRASE)
    assert contents.system_id == client.get("/api/v1/system").json()["system_id"]
    r = client.post("/api/v1/system/restore-key", json={"passphrase": "nope nope nope"},
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403
    audit = client.get("/api/v1/audit").json()
    assert [a["outcome"] for a in audit if a["action"] == "restore_key.download"] == [
        "denied", "success", "denied"]


def test_connection_file_lock(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    h = {"X-CSRF-Token": csrf}
    up = client.put("/api/v1/destination/connection-file", headers=h,
                    content=connection_file_bytes(WantEncryption=True,
                                                  FullStoreAndReadSupport=True))
    assert up.status_code == 200 and up.json()["want_encryption"] is True
    off = client.put("/api/v1/destination/connection-file", headers=h,
                     content=connection_file_bytes(WantEncryption=False,
                                                   FullStoreAndReadSupport=True))
    assert off.status_code == 422
    assert {d["field"] for d in off.json()["detail"]} == {"WantEncryption"}
    down = client.put("/api/v1/destination/connection-file", headers=h,
                      content=connection_file_bytes(WantEncryption=True))
    assert {d["field"] for d in down.json()["detail"]} == {"FullStoreAndReadSupport"}
    other = client.put("/api/v1/destination/connection-file", headers=h,
                       content=connection_file_bytes(WantEncryption=True,
                                                     FullStoreAndReadSupport=True,
                                                     ContainerType="mp4"))
    assert {d["field"] for d in other.json()["detail"]} == {"ContainerType"}
    bad = client.put("/api/v1/destination/connection-file", headers=h, content=b"{}")
    assert bad.status_code == 422
    assert client.get("/api/v1/destination").json()["want_encryption"] is True
    page = client.post("/settings/destination", data={"csrf_token": csrf}, files={
        "connection_file": ("cd.json", connection_file_bytes(), "application/json")})
    assert page.status_code == 400 and "WantEncryption" in page.text
    secret = client.get("/api/v1/destination").text
    assert "secret-key" not in secret


def test_cloud_extensions_turn_on_once_and_stay_on(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    h = {"X-CSRF-Token": csrf}
    assert client.get("/api/v1/system").json()["cloud_extensions"] is False
    bad = client.put("/api/v1/system/cloud", headers=h, json={"cloud_location": "moon"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "cloud_location"
    page = client.post("/settings/cloud", data={"csrf_token": csrf, "cloud_location": "eu-de"})
    assert page.status_code == 200 and 'id="cloud-on"' in page.text
    info = client.get("/api/v1/system").json()
    assert (info["cloud_extensions"], info["cloud_location"]) == (True, "eu-de")
    again = client.put("/api/v1/system/cloud", headers=h, json={"cloud_location": "us-east"})
    assert again.status_code == 409
    assert client.get("/api/v1/system").json()["cloud_location"] == "eu-de"
    assert "system.cloud" in [a["action"] for a in client.get("/api/v1/audit").json()]


def test_a_replacement_file_without_the_ntp_attribute_is_accepted_with_a_warning(
    logged_in: tuple[TestClient, str],
) -> None:
    client, csrf = logged_in
    assert client.get("/api/v1/destination").json()["warnings"] == []
    raw = connection_file_bytes(ContentDestinationAsNTPServer=OMIT)
    page = client.post("/settings/destination", data={"csrf_token": csrf}, files={
        "connection_file": ("cd.json", raw, "application/json")})
    assert page.status_code == 200 and 'id="destination-saved"' in page.text
    assert 'id="destination-warnings"' in page.text and "taken as no" in page.text
    warnings = client.get("/api/v1/destination").json()["warnings"]
    assert len(warnings) == 1 and "ContentDestinationAsNTPServer" in warnings[0]
    up = client.put("/api/v1/destination/connection-file", headers={"X-CSRF-Token": csrf},
                    content=connection_file_bytes())
    assert up.status_code == 200 and up.json()["warnings"] == []


def test_api_time_needs_a_utc_offset_like_setup(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    h = {"X-CSRF-Token": csrf}
    before = client.get("/api/v1/system").json()
    r = client.put("/api/v1/system/time", headers=h, json={
        "timezone": "Asia/Tokyo", "time_mode": "manual", "manual_time": "2026-12-01T08:30"})
    assert r.status_code == 422
    assert r.json()["detail"] == [{"field": "manual_time",
                                   "message": "must include a time zone offset"}]
    assert client.get("/api/v1/system").json()["timezone"] == before["timezone"]
    for far in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        r = client.put("/api/v1/system/time", headers=h, json={
            "timezone": "UTC", "time_mode": "manual", "manual_time": far})
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "manual_time"
    # The page's date-time field has no offset: there it is the chosen zone's local time.
    r = client.post("/settings/time", data={"csrf_token": csrf, "timezone": "Asia/Tokyo",
                                            "time_mode": "manual",
                                            "manual_time": "2026-12-01T08:30"})
    assert r.status_code == 200
    assert client.get("/api/v1/system").json()["timezone"] == "Asia/Tokyo"


def test_names_with_bidirectional_controls_are_refused(logged_in: tuple[TestClient, str]
                                                      ) -> None:
    client, csrf = logged_in
    for name in ("North\u202egpj.exe", "A\u2066B", "\u200fRTL"):
        r = client.put("/api/v1/system/name", json={"system_name": name},
                       headers={"X-CSRF-Token": csrf})
        assert r.status_code == 422, name
        assert r.json()["detail"][0]["message"] == "must not contain control characters"
        r = client.post("/settings/system", data={"csrf_token": csrf, "system_name": name})
        assert r.status_code == 400 and "Saved" not in r.text
    assert "\u202e" not in client.get("/api/v1/system").json()["system_name"]


def test_a_new_connection_file_with_an_expired_certificate_is_refused(
        logged_in: tuple[TestClient, str]) -> None:
    import base64
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    client, csrf = logged_in
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cd.example.test")])
    expired = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=30))
               .not_valid_after(now - dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    raw = connection_file_bytes(HTTPSCertificate=[
        base64.b64encode(expired.public_bytes(Encoding.DER)).decode()])
    r = client.put("/api/v1/destination/connection-file", headers={"X-CSRF-Token": csrf},
                   content=raw)
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "HTTPSCertificate[0]"
    assert "expired" in r.json()["detail"][0]["message"]


def test_pages_and_api_answers_are_never_cached(logged_in: tuple[TestClient, str]) -> None:
    client, _ = logged_in
    for path in ("/", "/users", "/api/v1/system", "/api/v1/users", "/api/v1/openapi.json",
                 "/login", "/no-such-page"):
        assert client.get(path).headers["cache-control"] == "no-store", path
    assert "no-store" not in client.get("/static/bodyworn.css").headers.get("cache-control", "")


def test_there_is_no_swagger_page_only_the_document(logged_in: tuple[TestClient, str]) -> None:
    client, _ = logged_in
    assert client.get("/api/v1/docs").status_code == 404
    assert client.get("/docs/oauth2-redirect").status_code == 404
    assert client.get("/api/v1/openapi.json").json()["openapi"].startswith("3.")
