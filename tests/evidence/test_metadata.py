"""Metadata encoding and naming per the CD API."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bodyworn.evidence.metadata import (
    DEFAULT_LIMIT,
    Location,
    MetadataError,
    RecordingName,
    bookmark_object_name,
    clip_object_name,
    container_time,
    decode_value,
    encode_limited,
    encode_metadata_value,
    encode_value,
    epoch,
    gnss_object_name,
    header_case,
    key_object_name,
    limit_for,
    location_string,
    meta_get,
    meta_header,
    metadata_headers,
    name_time,
    parse_container_time,
    parse_location,
    parse_metadata,
    parse_recording_container_name,
    parse_rejected_container_time,
    parse_rfc3339,
    parse_tags,
    recording_container_name,
    recording_container_names,
    rejected_container_name,
    rfc3339,
    strip_controls,
    tags_value,
)

T = datetime(2022, 8, 23, 11, 48, 10, tzinfo=UTC)


def test_header_keys_are_capitalised_per_hyphenated_word() -> None:
    assert meta_header("object", "StartTimeISO") == "X-Object-Meta-Starttimeiso"
    assert meta_header("container", "BWCSerialNumber") == "X-Container-Meta-Bwcserialnumber"
    assert header_case("x-CONTAINER-meta-status") == "X-Container-Meta-Status"


def test_values_are_url_encoded_utf8() -> None:
    assert encode_value("Åsa Öberg") == "%C3%85sa%20%C3%96berg"
    assert encode_value("2022-08-23T11:48:10Z") == "2022-08-23T11:48:10Z"
    assert encode_value("a+b;c%") == "a%2Bb%3Bc%25"
    assert encode_value("tab\there\n") == "tabhere"
    assert decode_value(encode_value("Ünïcødé ✓ 🎥")) == "Ünïcødé ✓ 🎥"
    assert encode_value("a\udc80b") == "ab"


text = st.text(alphabet=st.characters(exclude_categories=()), max_size=80)


@given(text, st.integers(min_value=0, max_value=120))
def test_truncation_never_splits_a_character_or_escape(value: str, limit: int) -> None:
    out = encode_limited(value, limit)
    assert len(out) <= limit
    assert out.isascii()
    # Every % starts a complete escape, and the bytes decode as whole UTF-8 characters.
    assert re.fullmatch(r"(?:[^%]|%[0-9A-F]{2})*", out)
    decoded = unquote(out, errors="strict")
    clean = strip_controls(value)
    assert clean.startswith(decoded)
    # Maximal: the next character would not have fitted.
    if len(decoded) < len(clean):
        assert len(out) + len(encode_value(clean[len(decoded)])) > limit
    else:
        assert out == encode_value(value)


@given(text)
def test_default_limit_applies_to_plain_keys(value: str) -> None:
    assert len(encode_metadata_value("TriggerOn", value)) <= DEFAULT_LIMIT
    assert len(encode_metadata_value("StartLocation", value)) <= 64
    assert len(encode_metadata_value("Name", value)) <= 100


def test_identifiers_are_refused_not_cut() -> None:
    assert limit_for("UserID") == 100
    with pytest.raises(MetadataError):
        encode_metadata_value("UserID", "x" * 101)
    uid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert encode_metadata_value("UserID", uid) == uid


def test_headers_round_trip_through_parse() -> None:
    headers = metadata_headers(
        "container", {"UserID": "u-1", "TriggerOn": "Knapp ✓", "Status": "Complete", "X": None}
    )
    assert set(headers) == {
        "X-Container-Meta-Userid",
        "X-Container-Meta-Triggeron",
        "X-Container-Meta-Status",
    }
    meta = parse_metadata("container", [(k.lower(), v) for k, v in headers.items()])
    assert meta_get(meta, "TriggerOn") == "Knapp ✓"
    assert meta_get(meta, "Status") == "Complete"
    assert parse_metadata("object", headers.items()) == {}


def test_times() -> None:
    cet = timezone(timedelta(hours=2))
    local = datetime(2022, 8, 23, 13, 48, 10, 999_000, tzinfo=cet)
    assert rfc3339(local) == "2022-08-23T11:48:10Z"
    assert epoch(local) == "1661255290"
    assert name_time(local) == "20220823_114810"
    assert parse_rfc3339("2022-08-23T13:48:10+02:00") == T
    assert parse_rfc3339("2022-08-23t11:48:10.5z") == T + timedelta(milliseconds=500)
    for bad in ("2022-08-23 11:48:10", "yesterday", "2022-08-23T11:48:10"):
        with pytest.raises(ValueError):
            parse_rfc3339(bad)
    with pytest.raises(ValueError):
        rfc3339(datetime(2022, 1, 1))


def test_location_strings() -> None:
    loc = Location(55.718409, 13.221184, 5.0, T)
    s = location_string(loc)
    assert s == "+55.718409+013.221184+5.0+1661255290"
    assert parse_location(s) == loc
    south_west = Location(-33.9, -70.66, 12.5, T)
    assert parse_location(location_string(south_west)) == south_west
    assert len(encode_metadata_value("TriggerOnLocation", location_string(south_west))) <= 64
    with pytest.raises(ValueError):
        Location(91, 0, 1, T)
    with pytest.raises(ValueError):
        parse_location("55.7,13.2")


@given(
    st.floats(-90, 90),
    st.floats(-180, 180),
    st.floats(0, 1e6),
    st.integers(0, 4_000_000_000),
)
def test_location_strings_fit_and_parse(lat: float, lon: float, acc: float, secs: int) -> None:
    loc = Location(lat, lon, acc, datetime.fromtimestamp(secs, UTC))
    s = location_string(loc)
    assert len(encode_value(s)) <= 64
    back = parse_location(s)
    assert abs(back.latitude - lat) < 1e-6 and abs(back.longitude - lon) < 1e-6
    assert back.time == loc.time


def test_names() -> None:
    uid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    # Containers carry the trigger time as YYYYMMDDTHHMMSSZ (spec v1.6.8), objects do not.
    name = recording_container_name(uid, "ACCC8E123456", T)
    assert name == f"{uid}_ACCC8E123456_20220823T114810Z"
    assert recording_container_names(uid, "ACCC8E123456", T) == (
        name, f"{uid}_ACCC8E123456_20220823_114810")
    clip = clip_object_name(T, "4711", "mkv")
    assert clip == "20220823_114810_4711.mkv"
    assert key_object_name(clip) == "20220823_114810_4711.key"
    gnss = gnss_object_name(T, "4711", "ACCC8E123456")
    assert gnss == "20220823_114810_4711_ACCC8E123456_gpstrail.json"
    assert key_object_name(gnss) == "20220823_114810_4711_ACCC8E123456_gpstrail.key"
    assert bookmark_object_name(T, "b1") == "bookmark_20220823_114810_b1"
    assert rejected_container_name(T, "u") == "RejectedContent_20220823T114810Z_u"
    assert rejected_container_name(None, "u") == "RejectedContent_UnknownTime_u"
    assert parse_rejected_container_time("RejectedContent_20220823T114810Z_u") == T
    assert parse_rejected_container_time("RejectedContent_20220823_114810_u") == T
    assert parse_rejected_container_time("RejectedContent_UnknownTime_u") is None
    with pytest.raises(MetadataError):
        recording_container_name("a/b", "s", T)
    with pytest.raises(MetadataError):
        clip_object_name(T, "1", "avi")  # type: ignore[arg-type]


def test_recording_container_names_are_read_back_in_both_forms() -> None:
    uid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    new = parse_recording_container_name(f"{uid}_ACCC8E123456_20220823T114810Z")
    old = parse_recording_container_name(f"{uid}_ACCC8E123456_20220823_114810")
    assert new == RecordingName(uid, "ACCC8E123456", T, legacy=False)
    assert old == RecordingName(uid, "ACCC8E123456", T, legacy=True)
    # A user ID may hold '_'; the serial is the part just before the time.
    odd = parse_recording_container_name("officer_17_SER1_20220823T114810Z")
    assert odd is not None and (odd.user_id, odd.bwc_serial) == ("officer_17", "SER1")
    for bad in (
        "Users",
        f"{uid}_ACCC8E123456_20220823T114810",  # no Z
        f"{uid}_ACCC8E123456_20221323T114810Z",  # month 13
        f"{uid}_20220823T114810Z",  # no serial
        "RejectedContent_20220823T114810Z_u",
    ):
        assert parse_recording_container_name(bad) is None, bad
    assert container_time(T) == "20220823T114810Z"
    assert parse_container_time("20220823T114810Z") == parse_container_time("20220823_114810") == T


def test_tags() -> None:
    value = tags_value({"TriggerOn": "Button", "Odd:key": "a;b"})
    assert value == "TriggerOn:Button;Odd_key:a,b"
    assert parse_tags(value) == {"TriggerOn": "Button", "Odd_key": "a,b"}
    assert parse_tags("a;;b:c") == {"a": "", "b": "c"}
