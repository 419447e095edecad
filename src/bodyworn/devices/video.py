"""Real clips for simulated cameras: H.264 in MKV or MP4, a Pillow overlay, an audio track.

Three fidelities trade realism for speed. `full` encodes every frame at the real size and
rate. `fast` encodes a few tiny frames spread over the clip, stamped so that the file
still lasts the clip's true duration. `bulk` is `fast` padded with H.264 filler data (which
decoders skip) up to the size the profile's bitrate would give, for throughput tests; its
metadata says so.

Clips are written so that a writer killed mid-clip leaves a file that plays up to the cut:
MKV clusters and fragmented-MP4 fragments are closed at every keyframe and the muxer
hands each packet to the file at once; a streaming writer also fsyncs every
`sync_every` seconds of media.
"""

from __future__ import annotations

import hashlib
import math
import os
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from fractions import Fraction
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import av
from PIL import Image, ImageDraw, ImageFont

from bodyworn.domain.profile import CameraProfile, OverlayField, Resolution

if TYPE_CHECKING:
    from bodyworn.devices.camera import Clip, Recording

FULL_FPS = 30
FAST_SIZE = (160, 90)
FAST_MAX_FRAME_GAP = 2.0
FAST_MAX_FRAMES = 120
FAST_AUDIO_RATE = 16_000
FULL_AUDIO_RATE = 48_000
TONE_HZ = 500
TONE_LEVEL = 0.1
METADATA_KEY = "comment"
POWER_LINE_KEY = "power_line_frequency"
# A filler-data NAL unit (type 12): start code, header, 0xFF payload, stop bit.
FILLER_HEADER = b"\x00\x00\x00\x01\x0c"
FILLER_TRAILER = b"\x80"


class Fidelity(StrEnum):
    """How real a clip's picture is."""

    FULL = "full"
    FAST = "fast"
    BULK = "bulk"


class ContainerType(StrEnum):
    """The file formats a content destination accepts (the connection file's ContainerType)."""

    MKV = "mkv"
    MP4 = "mp4"

    @property
    def ffmpeg_format(self) -> str:
        """FFmpeg's muxer name."""
        return "matroska" if self is ContainerType.MKV else "mp4"


@dataclass(frozen=True)
class ClipSpec:
    """Everything needed to render one clip."""

    start: datetime
    duration: timedelta
    resolution: Resolution = Resolution.P1080
    audio_channels: int = 1
    raw_audio: bool = False
    bitrate: int = 5_064_000
    user_id: str | None = None
    show_time: bool = True
    location: str | None = None
    timezone: tzinfo = UTC
    container: ContainerType = ContainerType.MKV
    fidelity: Fidelity = Fidelity.FAST
    title: str = ""
    silences: tuple[tuple[float, float], ...] = ()
    # The mains frequency the camera was set to (written to the file's metadata).
    power_line_frequency: int | None = None

    def __post_init__(self) -> None:
        if self.duration <= timedelta(0):
            raise ValueError("a clip must last longer than zero")
        if self.audio_channels not in (0, 1, 2):
            raise ValueError("audio has 0, 1 or 2 channels")

    @classmethod
    def for_profile(
        cls,
        profile: CameraProfile,
        start: datetime,
        duration: timedelta,
        **overrides: Any,
    ) -> ClipSpec:
        """A spec that records as `profile` says (overlay fields, audio, bitrate)."""
        values: dict[str, Any] = {
            "start": start,
            "duration": duration,
            "resolution": profile.resolution,
            "audio_channels": profile.audio_channels,
            "raw_audio": profile.optimize_for_post_processing,
            "bitrate": profile.bitrate,
            "show_time": OverlayField.DATE_TIME in profile.overlay,
            "title": profile.name,
        }
        values.update(overrides)
        if OverlayField.USER_ID not in profile.overlay:
            values["user_id"] = None
        if OverlayField.LOCATION not in profile.overlay:
            values["location"] = None
        return cls(**values)

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return self.duration.total_seconds()


@dataclass(frozen=True)
class ClipFile:
    """A rendered clip on disk."""

    path: Path
    size: int
    sha256: str
    duration: timedelta
    fidelity: Fidelity
    md5: str | None = None


def fidelity_label(fidelity: Fidelity) -> str:
    """The metadata text that marks how a clip was made."""
    text = f"bodyworn simulated clip; fidelity={fidelity.value}"
    if fidelity is Fidelity.BULK:
        text += "; picture padded with filler data to the nominal bitrate"
    return text


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _frame_times(spec: ClipSpec) -> list[tuple[int, int]]:
    """(pts, duration) of every video frame, in the stream's time base."""
    if spec.fidelity is Fidelity.FULL:
        count = max(1, math.ceil(spec.seconds * FULL_FPS))
        return [(k, 1) for k in range(count)]
    total_ms = max(1, round(spec.seconds * 1000))
    count = min(FAST_MAX_FRAMES, max(1, math.ceil(spec.seconds / FAST_MAX_FRAME_GAP)))
    starts = [round(k * total_ms / count) for k in range(count)]
    ends = [*starts[1:], total_ms]
    return [(s, e - s) for s, e in zip(starts, ends, strict=True)]


def frame_gap(spec: ClipSpec) -> float:
    """Longest time between two video frames of the clip, in seconds."""
    if spec.fidelity is Fidelity.FULL:
        return 1 / FULL_FPS
    count = len(_frame_times(spec))
    return spec.seconds / count


class ClipWriter:
    """Writes one clip, possibly a piece at a time, so that a cut leaves a playable file."""

    def __init__(self, path: Path, spec: ClipSpec, *, sync_every: float | None = None) -> None:
        self.path = path
        self.spec = spec
        self._sync_every = sync_every
        self._file: IO[bytes] = open(path, "wb")  # noqa: SIM115 - closed in close()
        try:
            self._container: Any = av.open(
                self._file,
                mode="w",
                format=spec.container.ffmpeg_format,
                container_options=self._container_options(),
            )
        except BaseException:
            self._file.close()
            raise
        self._container.metadata[METADATA_KEY] = fidelity_label(spec.fidelity)
        if spec.title:
            self._container.metadata["title"] = spec.title
        if spec.power_line_frequency is not None:
            self._container.metadata[POWER_LINE_KEY] = str(spec.power_line_frequency)
        self._frames = _frame_times(spec)
        self._next_frame = 0
        self._durations = dict(self._frames)
        self._video = self._add_video()
        self._audio = self._add_audio() if spec.audio_channels else None
        self._samples_done = 0
        self._periods: dict[tuple[int, str, int], array[Any]] = {}
        self._video_bytes = 0
        self._audio_bytes = 0
        self._last_sync = 0.0
        self._written_to = 0.0
        self._closed = False
        self._base = self._background()

    # ---- set up -------------------------------------------------------------------

    def _container_options(self) -> dict[str, str]:
        # No interleaving queue: each packet reaches the file as soon as it is encoded, so a
        # cut loses at most what the OS had not yet been given.
        options = {"flush_packets": "1", "max_interleave_delta": "1"}
        if self.spec.container is ContainerType.MKV:
            options["cluster_time_limit"] = "1000"
        else:
            # use_metadata_tags: keys of our own (power_line_frequency) are kept too.
            options["movflags"] = "frag_keyframe+empty_moov+default_base_moof+use_metadata_tags"
            # An edit list absorbs the AAC priming instead of shifting the picture late.
            options["use_editlist"] = "1"
        return options

    @property
    def size(self) -> tuple[int, int]:
        """Picture width and height."""
        return self.spec.resolution.size if self.spec.fidelity is Fidelity.FULL else FAST_SIZE

    def _add_video(self) -> Any:
        full = self.spec.fidelity is Fidelity.FULL
        options = {"preset": "ultrafast", "tune": "zerolatency", "crf": "28" if full else "40"}
        rate = FULL_FPS if full else 1
        stream = self._container.add_stream("libx264", rate=rate, options=options)
        stream.width, stream.height = self.size
        stream.pix_fmt = "yuv420p"
        context = stream.codec_context
        if full:
            context.time_base = Fraction(1, FULL_FPS)
            context.gop_size = FULL_FPS
        else:
            context.time_base = Fraction(1, 1000)
            context.gop_size = 1
        context.max_b_frames = 0
        return stream

    def _add_audio(self) -> Any:
        rate = FULL_AUDIO_RATE if self.spec.fidelity is Fidelity.FULL else FAST_AUDIO_RATE
        layout = "stereo" if self.spec.audio_channels == 2 else "mono"
        codec = "pcm_s16le" if self.spec.raw_audio else "aac"
        stream = self._container.add_stream(codec, rate=rate, layout=layout)
        stream.codec_context.time_base = Fraction(1, rate)
        return stream

    def _background(self) -> Image.Image:
        width, height = self.size
        image = Image.new("RGB", (width, height), (38, 52, 64))
        draw = ImageDraw.Draw(image)
        for band in range(0, height, max(1, height // 12)):
            shade = 40 + (band * 90) // max(1, height)
            draw.rectangle((0, band, width, band + height // 24), fill=(shade, shade + 10, 70))
        return image

    # ---- content ------------------------------------------------------------------

    def _overlay_lines(self, at: float) -> list[str]:
        return overlay_lines(self.spec, at)

    def _picture(self, at: float) -> Image.Image:
        image = self._base.copy()
        width, height = image.size
        draw = ImageDraw.Draw(image)
        # A moving block gives the encoder real motion to code.
        side = max(4, height // 5)
        x = int((at * width / 4) % max(1, width - side))
        draw.rectangle((x, height - side - 2, x + side, height - 2), fill=(220, 180, 40))
        font = _font(max(8, height // 14))
        y = 2
        for line in self._overlay_lines(at):
            draw.text(
                (3, y), line, fill=(255, 255, 255), font=font, stroke_width=1,
                stroke_fill=(0, 0, 0),
            )
            y += max(9, height // 12)
        return image

    def _period(self, rate: int, typecode: str, channels: int) -> array[Any]:
        key = (rate, typecode, channels)
        if key not in self._periods:
            # Whole periods per second keep the table exact at every sample rate we use.
            steps = rate // TONE_HZ
            values = [TONE_LEVEL * math.sin(2 * math.pi * i / steps) for i in range(steps)]
            if typecode == "h":
                values = [float(int(v * 32767)) for v in values]
            interleaved = [v for v in values for _ in range(channels)]
            if typecode == "h":
                self._periods[key] = array("h", (int(v) for v in interleaved))
            else:
                self._periods[key] = array("f", interleaved)
        return self._periods[key]

    def _samples(self, first: int, count: int, typecode: str, channels: int) -> array[Any]:
        """`count` samples (interleaved over `channels`) of the test tone, silenced where muted."""
        assert self._audio is not None
        silent = array(typecode, bytes(array(typecode).itemsize * count * channels))
        if self.spec.fidelity is not Fidelity.FULL and not self.spec.raw_audio:
            # Coding a tone costs the AAC encoder far more than silence; fast clips skip it.
            return silent
        rate = self._audio.codec_context.sample_rate
        period = self._period(rate, typecode, channels)
        steps = len(period) // channels
        offset = first % steps
        repeats = (offset + count) // steps + 1
        samples = (period * repeats)[offset * channels : (offset + count) * channels]
        for begin, finish in self.spec.silences:
            low = max(0, round(begin * rate) - first)
            high = min(count, round(finish * rate) - first)
            if low < high:
                samples[low * channels : high * channels] = silent[low * channels : high * channels]
        return samples

    def _audio_frame(self, first: int, count: int) -> Any:
        assert self._audio is not None
        rate = self._audio.codec_context.sample_rate
        channels = self.spec.audio_channels
        layout = "stereo" if channels == 2 else "mono"
        fmt = self._audio.codec_context.format.name
        frame = av.AudioFrame(format=fmt, layout=layout, samples=count)
        frame.sample_rate = rate
        frame.pts = first
        frame.time_base = Fraction(1, rate)
        if fmt == "fltp":
            planar = self._samples(first, count, "f", 1).tobytes()
            for plane in frame.planes:
                plane.update(planar + bytes(plane.buffer_size - len(planar)))
        else:
            data = self._samples(first, count, "h", channels).tobytes()
            plane = frame.planes[0]
            plane.update(data + bytes(plane.buffer_size - len(data)))
        return frame

    # ---- writing ------------------------------------------------------------------

    def _mux_video(self, packets: Iterator[Any] | list[Any]) -> None:
        for packet in packets:
            if packet.pts is not None and packet.pts in self._durations:
                packet.duration = self._durations[packet.pts]
            if self.spec.fidelity is Fidelity.BULK and packet.pts is not None:
                packet = self._pad(packet)
            self._video_bytes += packet.size
            self._container.mux(packet)

    def _pad(self, packet: Any) -> Any:
        end_ms = packet.pts + (packet.duration or 0)
        target = int(self.spec.bitrate / 8 * end_ms / 1000)
        # The audio track counts toward the nominal size, so the picture pads the rest.
        missing = target - self._audio_bytes - self._video_bytes - packet.size
        overhead = len(FILLER_HEADER) + len(FILLER_TRAILER)
        if missing <= overhead:
            return packet
        filler = FILLER_HEADER + b"\xff" * (missing - overhead) + FILLER_TRAILER
        padded = av.Packet(bytes(packet) + filler)
        padded.pts, padded.dts = packet.pts, packet.dts
        padded.duration = packet.duration
        padded.time_base = packet.time_base
        padded.stream = packet.stream
        padded.is_keyframe = packet.is_keyframe
        return padded

    def _mux_audio(self, packets: Iterator[Any] | list[Any]) -> None:
        for packet in packets:
            self._audio_bytes += packet.size
            self._container.mux(packet)

    def write_until(self, seconds: float) -> None:
        """Encode the clip's media up to `seconds` from its start (capped at its duration)."""
        if self._closed:
            raise ValueError("clip writer is closed")
        seconds = min(seconds, self.spec.seconds)
        tick = 1 / FULL_FPS if self.spec.fidelity is Fidelity.FULL else 1 / 1000
        while self._next_frame < len(self._frames):
            pts, _ = self._frames[self._next_frame]
            at = pts * tick
            if at >= seconds:
                break
            self._write_audio_to(at)
            picture = av.VideoFrame.from_image(self._picture(at))  # type: ignore[no-untyped-call]
            frame = picture.reformat(format="yuv420p")
            frame.pts = pts
            self._mux_video(self._video.encode(frame))
            self._next_frame += 1
        self._write_audio_to(seconds)
        self._written_to = max(self._written_to, seconds)
        if self._sync_every is not None and self._written_to - self._last_sync >= self._sync_every:
            self._sync()
            self._last_sync = self._written_to

    def _write_audio_to(self, seconds: float) -> None:
        if self._audio is None:
            return
        rate = self._audio.codec_context.sample_rate
        total = round(min(seconds, self.spec.seconds) * rate)
        chunk = self._audio.codec_context.frame_size or 1024
        while total - self._samples_done >= chunk or (
            seconds >= self.spec.seconds and total > self._samples_done
        ):
            count = min(chunk, total - self._samples_done)
            self._mux_audio(self._audio.encode(self._audio_frame(self._samples_done, count)))
            self._samples_done += count

    def _sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> ClipFile:
        """Finish the clip: flush encoders, close the file, fsync, and describe it."""
        if not self._closed:
            self.write_until(self.spec.seconds)
            self._mux_video(self._video.encode(None))
            if self._audio is not None:
                self._mux_audio(self._audio.encode(None))
            self._container.close()
            self._sync()
            self._file.close()
            self._closed = True
        # Both hashes once, at the source: sha256 for the controller's check, md5 for the
        # content destination's (it verifies uploads against it).
        digest, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        with open(self.path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
                md5.update(block)
        return ClipFile(
            self.path, self.path.stat().st_size, digest.hexdigest(), self.spec.duration,
            self.spec.fidelity, md5.hexdigest(),
        )

    def abandon(self) -> None:
        """Stop without finishing (what a power cut does), leaving what was written."""
        if not self._closed:
            self._sync()
            self._file.close()
            self._closed = True

    def __enter__(self) -> ClipWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abandon()


def write_clip(path: Path, spec: ClipSpec) -> ClipFile:
    """Render a whole clip to `path` and return its size and sha256."""
    writer = ClipWriter(path, spec)
    try:
        return writer.close()
    except BaseException:
        writer.abandon()
        raise


def clip_name(start: datetime, recording_id: str, container: ContainerType) -> str:
    """A file name for a clip: its UTC start time and its recording."""
    stamp = start.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{stamp}_{recording_id}.{container.value}"


def silences(recording: Recording, clip: Clip) -> tuple[tuple[float, float], ...]:
    """Stretches of `clip` (seconds from its start) with no sound: microphone off, and the
    pre-buffer when the profile leaves its audio out."""
    end = clip.end or clip.start
    spans: list[tuple[datetime, datetime]] = [
        (start, stop or end) for start, stop in recording.muted
    ]
    if recording.pre_buffer and not recording.profile.pre_buffer_audio:
        spans.append((recording.started_at, recording.trigger_on))
    found: list[tuple[float, float]] = []
    for start, stop in sorted(spans):
        low, high = max(start, clip.start), min(stop, end)
        if low < high:
            found.append(((low - clip.start).total_seconds(), (high - clip.start).total_seconds()))
    return tuple(found)


def overlay_lines(spec: ClipSpec, at: float) -> list[str]:
    """What the overlay burns in `at` seconds into a clip: the user ID, the time in the
    camera's zone with the zone named, the place."""
    lines: list[str] = []
    if spec.user_id:
        lines.append(spec.user_id)
    if spec.show_time:
        moment = (spec.start + timedelta(seconds=at)).astimezone(spec.timezone)
        lines.append(moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip())
    if spec.location:
        lines.append(spec.location)
    return lines


class ClipRenderer:
    """A camera clip sink that renders each closed clip into a directory.

    The overlay shows local time in the recording's time zone unless `timezone` is given.
    """

    def __init__(
        self,
        directory: Path,
        *,
        fidelity: Fidelity = Fidelity.FAST,
        container: ContainerType = ContainerType.MKV,
        timezone: tzinfo | None = None,
    ) -> None:
        self.directory = directory
        self.fidelity = fidelity
        self.container = container
        self.timezone = timezone
        self.files: dict[Path, ClipFile] = {}

    def __call__(self, recording: Recording, clip: Clip) -> None:
        """Render `clip` of `recording` and record where it went."""
        spec = ClipSpec.for_profile(
            recording.profile,
            clip.start,
            clip.duration,
            user_id=recording.user_id,
            container=self.container,
            fidelity=self.fidelity,
            timezone=self.timezone or ZoneInfo(recording.timezone),
            silences=silences(recording, clip),
            location=str(recording.start_position) if recording.start_position else None,
            power_line_frequency=recording.power_line_frequency,
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / clip_name(clip.start, recording.id, self.container)
        written = write_clip(path, spec)
        self.files[path] = written
        clip.path, clip.size, clip.sha256 = path, written.size, written.sha256
        clip.md5 = written.md5
