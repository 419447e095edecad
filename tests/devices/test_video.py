"""Every clip the simulator writes decodes, lasts as long as it should, and survives a cut."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import av
import pytest

from bodyworn.devices import video
from bodyworn.devices.feedback import Button
from bodyworn.devices.video import (
    FAST_SIZE,
    ClipFile,
    ClipRenderer,
    ClipSpec,
    ClipWriter,
    ContainerType,
    Fidelity,
    clip_name,
    frame_gap,
    write_clip,
)
from bodyworn.domain.profile import CameraProfile, OverlayField, Resolution
from tests.devices.factories import ready
from tests.devices.media import audio_levels, probe

START = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
# AAC adds one frame of priming; fast clips spread frames up to two seconds apart.
TOLERANCE = 0.15


def _spec(**changes: Any) -> ClipSpec:
    values: dict[str, Any] = {
        "start": START,
        "duration": timedelta(seconds=37.5),
        "user_id": "officer-17",
        "resolution": Resolution.P720,
    }
    values.update(changes)
    return ClipSpec(**values)


@pytest.mark.parametrize("container", list(ContainerType))
@pytest.mark.parametrize(
    ("channels", "raw", "audio_codec"),
    [(1, False, "aac"), (2, True, "pcm_s16le"), (0, False, None)],
)
def test_fast_clip_decodes_with_its_true_duration(
    tmp_path: Path, container: ContainerType, channels: int, raw: bool, audio_codec: str | None
) -> None:
    path = tmp_path / f"clip.{container.value}"
    info = write_clip(path, _spec(container=container, audio_channels=channels, raw_audio=raw))
    found = probe(path)
    assert found.streams.get("video") == "h264"
    assert found.streams.get("audio") == audio_codec
    assert found.duration == pytest.approx(37.5, abs=TOLERANCE)
    assert found.span("video") == pytest.approx(37.5, abs=0.001)
    if found.header_duration is not None:
        assert found.header_duration == pytest.approx(37.5, abs=TOLERANCE)
    assert found.frames["video"] == 19
    if audio_codec:
        assert found.frames["audio"] > 0
    assert found.size == FAST_SIZE
    assert "fidelity=fast" in found.metadata["comment"]
    assert info.size == path.stat().st_size and len(info.sha256) == 64


def test_full_clip_has_every_frame_at_the_real_size(tmp_path: Path) -> None:
    path = tmp_path / "full.mkv"
    write_clip(path, _spec(duration=timedelta(seconds=1), fidelity=Fidelity.FULL))
    found = probe(path)
    assert found.size == (1280, 720)
    assert found.frames["video"] == 30
    assert found.duration == pytest.approx(1.0, abs=TOLERANCE)
    assert found.frames["audio"] >= 45
    assert "fidelity=full" in found.metadata["comment"]


@pytest.mark.parametrize("container", list(ContainerType))
def test_bulk_clip_is_sized_by_the_bitrate_and_says_so(
    tmp_path: Path, container: ContainerType
) -> None:
    profile = CameraProfile(resolution=Resolution.P720)
    spec = ClipSpec.for_profile(
        profile, START, timedelta(seconds=12), container=container, fidelity=Fidelity.BULK
    )
    path = tmp_path / f"bulk.{container.value}"
    info = write_clip(path, spec)
    nominal = 12 * profile.bitrate / 8
    assert info.size == pytest.approx(nominal, rel=0.03)
    found = probe(path)
    assert found.duration == pytest.approx(12, abs=TOLERANCE)
    assert found.frames["video"] == 6
    assert "fidelity=bulk" in found.metadata["comment"]
    assert "filler" in found.metadata["comment"]


def test_profile_chooses_overlay_audio_and_bitrate() -> None:
    profile = CameraProfile(
        overlay=frozenset({OverlayField.DATE_TIME}),
        optimize_for_post_processing=True,
        resolution=Resolution.P720,
    )
    spec = ClipSpec.for_profile(profile, START, timedelta(seconds=10), user_id="officer-17")
    assert spec.user_id is None and spec.show_time
    assert (spec.audio_channels, spec.raw_audio) == (2, True)
    assert spec.bitrate == profile.bitrate


def test_spec_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        _spec(duration=timedelta(0))
    with pytest.raises(ValueError):
        _spec(audio_channels=3)


def test_camera_clips_are_rendered_as_they_close(tmp_path: Path) -> None:
    renderer = ClipRenderer(tmp_path / "media")
    profile = CameraProfile(max_clip_length=timedelta(seconds=10), pre_buffer=timedelta(seconds=5))
    camera, clock = ready(profile, clip_sink=renderer)
    recording = camera.start_recording()
    assert recording is not None
    clock.advance(timedelta(seconds=20))
    camera.stop_recording()
    assert [clip.duration.total_seconds() for clip in recording.clips] == [10, 10, 5]
    for clip in recording.clips:
        assert clip.path is not None and clip.path.exists()
        assert clip.path.name == clip_name(clip.start, recording.id, ContainerType.MKV)
        found = probe(clip.path)
        assert found.duration == pytest.approx(clip.duration.total_seconds(), abs=TOLERANCE)
        assert renderer.files[clip.path].size == clip.path.stat().st_size == clip.size
        assert clip.sha256 == hashlib.sha256(clip.path.read_bytes()).hexdigest()


# ---- power loss -------------------------------------------------------------------------


def _record_until_killed(path: str, container: str, synced: Any) -> None:
    spec = _spec(duration=timedelta(minutes=1), container=ContainerType(container))
    writer = ClipWriter(Path(path), spec, sync_every=1.0)
    second = 0.0
    while True:
        second += 1.0
        writer.write_until(second)
        synced.value = second
        time.sleep(0.002)


@pytest.mark.parametrize("container", list(ContainerType))
def test_a_clip_cut_by_power_loss_plays_up_to_the_cut(
    tmp_path: Path, container: ContainerType
) -> None:
    path = tmp_path / f"cut.{container.value}"
    context = multiprocessing.get_context("spawn")
    synced = context.Value("d", 0.0)
    writer = context.Process(
        target=_record_until_killed, args=(str(path), container.value, synced), daemon=True
    )
    writer.start()
    deadline = time.monotonic() + 30
    while synced.value < 30 and time.monotonic() < deadline:
        time.sleep(0.01)
    reached = synced.value
    assert writer.pid is not None
    os.kill(writer.pid, signal.SIGKILL)
    writer.join(10)
    assert writer.exitcode == -signal.SIGKILL
    assert reached >= 30, "writer did not get going"
    found = probe(path, tolerate_truncation=True)
    assert found.streams == {"video": "h264", "audio": "aac"}
    gap = frame_gap(_spec(duration=timedelta(minutes=1)))
    assert found.ends["video"] >= reached - gap
    assert found.ends["audio"] >= reached - gap
    assert found.ends["video"] < 60


def test_muted_time_and_a_soundless_pre_buffer_are_silent(tmp_path: Path) -> None:
    renderer = ClipRenderer(tmp_path)
    profile = CameraProfile(
        optimize_for_post_processing=True,
        pre_buffer=timedelta(seconds=4),
        pre_buffer_audio=False,
        allow_audio_off=True,
    )
    camera, clock = ready(profile, clip_sink=renderer)
    recording = camera.start_recording()
    assert recording is not None and recording.pre_buffer == timedelta(seconds=4)
    clock.advance(timedelta(seconds=4))
    camera.press(Button.FUNCTION, hold=3.0)
    clock.advance(timedelta(seconds=4))
    camera.press(Button.FUNCTION, hold=3.0)
    clock.advance(timedelta(seconds=4))
    camera.stop_recording()
    (clip,) = recording.clips
    assert clip.path is not None
    levels = audio_levels(clip.path)
    quiet = [peak for at, peak in levels if 0.2 < at < 3.8 or 8.2 < at < 11.8]
    loud = [peak for at, peak in levels if 4.2 < at < 7.8 or 12.2 < at < 15.8]
    assert quiet and max(quiet) == 0
    assert loud and min(loud) > 0.05


def _first_picture(path: Path) -> bytes:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        image = frame.to_image()  # type: ignore[no-untyped-call]
        return bytes(image.crop((0, 0, 160, 30)).tobytes())


def test_overlay_is_burnt_into_the_picture(tmp_path: Path) -> None:
    plain = tmp_path / "plain.mkv"
    marked = tmp_path / "marked.mkv"
    write_clip(plain, _spec(duration=timedelta(seconds=2), user_id=None, show_time=False))
    write_clip(marked, _spec(duration=timedelta(seconds=2)))
    assert _first_picture(plain) != _first_picture(marked)


def test_an_abandoned_writer_leaves_a_playable_prefix(tmp_path: Path) -> None:
    path = tmp_path / "abandoned.mkv"
    writer = ClipWriter(path, _spec(duration=timedelta(minutes=1)), sync_every=1.0)
    writer.write_until(20)
    writer.abandon()
    del writer
    found = probe(path, tolerate_truncation=True)
    assert found.ends["video"] >= 20 - frame_gap(_spec(duration=timedelta(minutes=1)))
    assert found.ends["video"] < 60


def test_context_manager_finishes_the_clip(tmp_path: Path) -> None:
    path = tmp_path / "managed.mp4"
    with ClipWriter(path, _spec(container=ContainerType.MP4)) as writer:
        writer.write_until(10)
    assert probe(path).duration == pytest.approx(37.5, abs=TOLERANCE)


def _overlay_picture(path: Path) -> bytes:
    """The top left of the first picture, where the overlay's lines are."""
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        image = frame.to_image()  # type: ignore[no-untyped-call]
        return bytes(image.crop((0, 0, 420, 140)).tobytes())


def test_the_camera_burns_in_the_zone_it_was_given(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    specs: list[ClipSpec] = []
    real_write = video.write_clip

    def spying(path: Path, spec: ClipSpec) -> ClipFile:
        specs.append(spec)
        return real_write(path, spec)

    monkeypatch.setattr(video, "write_clip", spying)
    profile = CameraProfile(overlay=frozenset({OverlayField.DATE_TIME}))
    camera, clock = ready(profile, clip_sink=ClipRenderer(tmp_path / "media"))
    camera.configure(timezone="Europe/Stockholm")  # as the controller pushes it
    recording = camera.start_recording()
    assert recording is not None and recording.timezone == "Europe/Stockholm"
    clock.advance(timedelta(seconds=2))
    camera.stop_recording()
    (clip,) = recording.clips
    assert clip.path is not None
    (spec,) = specs
    # The overlay's time line is the local time with the zone named, not UTC.
    local = clip.start.astimezone(ZoneInfo("Europe/Stockholm"))
    assert spec.timezone == ZoneInfo("Europe/Stockholm")
    assert f"{local:%Y-%m-%d %H:%M:%S} CET" in video.overlay_lines(spec, 0.0)
    # And so it is in the picture: decoded, it differs from the same clip in UTC.
    in_utc = tmp_path / "utc.mkv"
    real_write(in_utc, replace(spec, timezone=UTC))
    assert _overlay_picture(clip.path) != _overlay_picture(in_utc)
