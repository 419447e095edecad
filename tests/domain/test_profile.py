"""Camera profile settings: defaults, validation, derived figures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bodyworn.domain.profile import (
    DURATION_LIMITS,
    CameraProfile,
    Notification,
    OverlayField,
    ProfileError,
    Resolution,
    Trigger,
    duration_from_seconds,
)
from bodyworn.domain.profile_codec import ProfileInvalid, from_settings


def test_defaults_are_valid_and_record_1080p_with_audio() -> None:
    profile = CameraProfile()
    assert profile.resolution is Resolution.P1080
    assert profile.resolution.size == (1920, 1080)
    assert profile.audio_channels == 1
    assert OverlayField.USER_ID in profile.overlay


@pytest.mark.parametrize(
    "changes",
    [
        {"name": " "},
        {"pre_buffer": timedelta(seconds=-1)},
        {"pre_buffer": timedelta(seconds=121)},
        {"max_clip_length": timedelta(seconds=5)},
        {"periodic_reminder": timedelta(minutes=7)},
        {"audio": False, "optimize_for_post_processing": True},
        {"assisted_gnss": True},
        {"overlay": frozenset({OverlayField.LOCATION})},
    ],
)
def test_contradictions_and_out_of_range_values_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ProfileError) as refused:
        CameraProfile(**changes)
    assert refused.value.field in changes


def test_post_processing_records_two_raw_channels_at_a_higher_bitrate() -> None:
    plain = CameraProfile()
    raw = CameraProfile(optimize_for_post_processing=True)
    assert raw.audio_channels == 2
    assert raw.bitrate > plain.bitrate


def test_720p_needs_less_than_1080p_and_no_audio_needs_no_audio_bits() -> None:
    assert CameraProfile(resolution=Resolution.P720).bitrate < CameraProfile().bitrate
    silent = CameraProfile(audio=False)
    assert silent.audio_bitrate == 0 and silent.audio_channels == 0


def test_fall_detection_adds_a_trigger() -> None:
    assert Trigger.FALL not in CameraProfile().triggers
    assert Trigger.FALL in CameraProfile(fall_detection=True).triggers


def test_notification_choices() -> None:
    assert Notification.BEEP.beeps and not Notification.BEEP.vibrates
    assert Notification.VIBRATION.vibrates and not Notification.VIBRATION.beeps
    assert Notification.BEEP_AND_VIBRATION.beeps and Notification.BEEP_AND_VIBRATION.vibrates


# --- ranges: every duration is refused out of range before any arithmetic ----------------




@pytest.mark.parametrize("field", sorted(DURATION_LIMITS))
@pytest.mark.parametrize("raw", [10**15, -1, 1e300, float("inf"), float("nan"), True, "60",
                                 86_399_999_999_999])
def test_wire_durations_out_of_range_are_profile_errors(field: str, raw: object) -> None:
    with pytest.raises(ProfileError) as refused:
        duration_from_seconds(field, raw)
    assert refused.value.field == field


@pytest.mark.parametrize("field", sorted(DURATION_LIMITS))
def test_both_ends_of_every_range_are_allowed(field: str) -> None:
    for end in DURATION_LIMITS[field]:
        assert duration_from_seconds(field, end.total_seconds()) == end
        assert getattr(CameraProfile(**{field: end}), field) == end


@given(st.sampled_from(sorted(DURATION_LIMITS)), st.integers())
@example("max_clip_length", 86_399_999_999_999)
@example("pre_buffer", 10**15)
@example("periodic_reminder", -(10**15))
def test_any_whole_number_is_a_profile_or_a_refusal_naming_the_setting(field: str,
                                                                       value: int) -> None:
    try:
        profile = from_settings("x", {field: value})
    except ProfileInvalid as exc:
        assert [e.field for e in exc.errors] == [field]
        assert "seconds" in exc.errors[0].message
    else:
        low, high = DURATION_LIMITS[field]
        assert low <= getattr(profile, field) <= high
