"""Clips made playable: camera-simulator MKV (H.264 + PCM or AAC audio) remuxed to MP4."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest

from bodyworn.destination.playback import PlaybackCache, PlaybackError, remux_to_mp4
from bodyworn.devices.video import ClipSpec, write_clip
from bodyworn.domain.profile import Resolution


@pytest.mark.parametrize("raw_audio", [False, True])
def test_camera_clip_becomes_browser_mp4(tmp_path: Path, raw_audio: bool) -> None:
    spec = ClipSpec(
        start=datetime(2026, 3, 1, tzinfo=UTC),
        duration=timedelta(seconds=2),
        resolution=Resolution.P720,
        raw_audio=raw_audio,
    )
    write_clip(tmp_path / "c.mkv", spec)
    remux_to_mp4(tmp_path / "c.mkv", tmp_path / "c.mp4")
    with av.open(str(tmp_path / "c.mp4")) as f:
        assert f.format.name.startswith("mov")
        codecs = {s.type: s.codec_context.name for s in f.streams}
        assert codecs == {"video": "h264", "audio": "aac"}  # PCM is transcoded, AAC copied
    with av.open(str(tmp_path / "c.mp4")) as f:
        samples = sum(frame.samples for frame in f.decode(audio=0))
        rate = f.streams.audio[0].codec_context.sample_rate
    assert abs(samples / rate - 2.05) < 0.15  # about two seconds of audio
    with av.open(str(tmp_path / "c.mp4")) as f:
        assert sum(1 for _ in f.decode(video=0)) >= 1


def test_not_video_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mkv"
    junk.write_bytes(b"\x00" * 4096)
    cache = PlaybackCache(tmp_path / "cache")
    with pytest.raises(PlaybackError):
        cache.playable(junk, "ab" * 32, None, None)
    assert not [p for p in (tmp_path / "cache").iterdir()]  # no half-made cache file
