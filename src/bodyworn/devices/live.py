"""A simulated camera's live picture: H.264 in fragmented MP4, one fragment per frame.

The picture is drawn as it is sent, paced by the host's clock, so what the viewer gets is
as live as a camera's sensor would be. Each frame carries the moment it was made twice:
as text for people, and as a row of black and white cells (milliseconds since the epoch,
most significant bit first) that the app's latency check and `bench/` read back from the
pixels they show (docs/assistant.md).
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from functools import cache
from typing import Any

import av
from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 640, 360
FPS = 15
GOP = FPS  # a keyframe each second: a new viewer waits at most that long
# The time code: TIME_BITS cells of CELL pixels, from (CODE_X, CODE_Y).
TIME_BITS = 44
CELL = 12
CODE_X, CODE_Y = 8, HEIGHT - 2 * CELL


@dataclass(frozen=True)
class LiveOverlay:
    """What the camera's overlay shows on the live picture."""

    user_id: str | None
    camera_time: datetime
    timezone: Any = UTC


def time_code_cells(epoch_ms: int) -> list[bool]:
    """The cells of a time code, most significant bit first (True: white)."""
    return [bool(epoch_ms >> (TIME_BITS - 1 - i) & 1) for i in range(TIME_BITS)]


def read_time_code(image: Image.Image) -> int:
    """Read the time code back from a decoded frame (the cells' centres)."""
    rgb = image.convert("L").resize((WIDTH, HEIGHT))
    value = 0
    for i in range(TIME_BITS):
        x = CODE_X + i * CELL + CELL // 2
        y = CODE_Y + CELL // 2
        value = (value << 1) | (1 if rgb.getpixel((x, y)) >= 128 else 0)  # type: ignore[operator]
    return value


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def draw_frame(overlay: LiveOverlay, epoch_ms: int, index: int) -> Image.Image:
    """One live picture: a scene with motion, the camera's overlay and the time code."""
    image = Image.new("RGB", (WIDTH, HEIGHT), (30, 44, 58))
    draw = ImageDraw.Draw(image)
    for band in range(0, HEIGHT - 3 * CELL, 30):
        draw.rectangle((0, band, WIDTH, band + 14), fill=(44, 62 + band // 6, 80))
    side = 70
    x = (index * 9) % (WIDTH - side)
    draw.rectangle((x, 150, x + side, 150 + side), fill=(220, 180, 40))
    lines = []
    if overlay.user_id:
        lines.append(overlay.user_id)
    lines.append(overlay.camera_time.astimezone(overlay.timezone).strftime("%Y-%m-%d %H:%M:%S"))
    y = 8
    for line in lines:
        draw.text((10, y), line, fill=(255, 255, 255), font=_font(22), stroke_width=2,
                  stroke_fill=(0, 0, 0))
        y += 28
    shown = datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]
    draw.text((WIDTH - 150, CODE_Y - 34), shown, fill=(255, 255, 255), font=_font(20),
              stroke_width=2, stroke_fill=(0, 0, 0))
    draw.rectangle((CODE_X - 4, CODE_Y - 4, CODE_X + TIME_BITS * CELL + 4, CODE_Y + CELL + 4),
                   fill=(0, 0, 0))
    for i, on in enumerate(time_code_cells(epoch_ms)):
        if on:
            left = CODE_X + i * CELL
            draw.rectangle((left, CODE_Y, left + CELL - 1, CODE_Y + CELL - 1),
                           fill=(255, 255, 255))
    return image


class _Sink(io.RawIOBase):
    """Collects what the muxer writes, to be handed on as it comes."""

    def __init__(self) -> None:
        self.pending: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.pending.append(chunk)
        return len(chunk)

    def take(self) -> bytes:
        data = b"".join(self.pending)
        self.pending.clear()
        return data


def codec_string(extradata: bytes | None) -> str:
    """The RFC 6381 codec of an H.264 stream from its SPS ("avc1.42c01e")."""
    data = extradata or b""
    for start in range(len(data) - 4):
        # The SPS follows a start code (Annex B) or sits in an avcC record.
        if data[start:start + 3] == b"\x00\x00\x01" and data[start + 3] & 0x1F == 7:
            sps = data[start + 4:start + 7]
            if len(sps) == 3:
                return "avc1." + sps.hex()
    if data[:1] == b"\x01" and len(data) >= 4:
        return "avc1." + data[1:4].hex()
    return "avc1.42e01e"


class LiveEncoder:
    """Encodes the live picture as it is drawn: the init segment, then a fragment a frame."""

    def __init__(self, overlay: Callable[[], LiveOverlay], *, fps: int = FPS,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._overlay = overlay
        self.fps = fps
        self._wall = wall_clock
        self._sink = _Sink()
        self._container: Any = av.open(
            self._sink, mode="w", format="mp4",
            options={"movflags": "frag_every_frame+empty_moov+default_base_moof",
                     "flush_packets": "1"})
        stream = self._container.add_stream(
            "libx264", rate=fps,
            options={"preset": "ultrafast", "tune": "zerolatency", "crf": "23"})
        stream.width, stream.height = WIDTH, HEIGHT
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.codec_context.gop_size = GOP
        stream.codec_context.max_b_frames = 0
        self._stream = stream
        self._index = 0
        self._started: float | None = None
        self.codec = "avc1.42e01e"

    def frame(self) -> bytes:
        """Draw and encode the next frame; what the muxer wrote for it (may be empty)."""
        now = self._wall()
        if self._started is None:
            self._started = now
        epoch_ms = int(now * 1000)
        picture = draw_frame(self._overlay(), epoch_ms, self._index)
        frame = av.VideoFrame.from_image(picture).reformat(format="yuv420p")  # type: ignore[no-untyped-call]
        frame.pts = int((now - self._started) * 1000)
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        if self._index == 0:
            self.codec = codec_string(self._stream.codec_context.extradata)
        self._index += 1
        return self._sink.take()

    def chunks(self, go_on: Callable[[], bool]) -> Iterator[bytes]:
        """Fragments paced at the frame rate for as long as `go_on()` says."""
        period = 1.0 / self.fps
        due = time.monotonic()
        while go_on():
            chunk = self.frame()
            if chunk:
                yield chunk
            due += period
            late = time.monotonic() - due
            if late > period:
                due = time.monotonic()  # fell behind (a loaded machine): skip, do not burst
            else:
                time.sleep(max(0.0, -late))

    def close(self) -> None:
        """Release the encoder (what it still holds is not sent: the viewer left)."""
        with contextlib.suppress(av.FFmpegError, OSError, ValueError):
            self._container.close()
