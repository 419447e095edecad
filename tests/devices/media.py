"""Decode a produced clip end to end and describe what is really in it."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from pathlib import Path

import av


@dataclass
class Probe:
    """What demuxing and decoding a file found."""

    streams: dict[str, str] = field(default_factory=dict)
    frames: dict[str, int] = field(default_factory=dict)
    starts: dict[str, float] = field(default_factory=dict)
    ends: dict[str, float] = field(default_factory=dict)
    header_duration: float | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    size: tuple[int, int] = (0, 0)
    error: str | None = None

    @property
    def duration(self) -> float:
        """Media span over all streams, from the decoded packets."""
        return max(self.ends.values(), default=0.0) - min(self.starts.values(), default=0.0)

    def span(self, kind: str) -> float:
        """Media span of one kind of stream."""
        return self.ends[kind] - self.starts[kind]


def probe(path: Path, *, tolerate_truncation: bool = False) -> Probe:
    """Demux and decode every packet of `path`."""
    found = Probe()
    with av.open(str(path)) as container:
        found.metadata = {key.lower(): value for key, value in container.metadata.items()}
        if container.duration:
            found.header_duration = container.duration / 1_000_000
        for stream in container.streams:
            found.streams[stream.type] = stream.codec_context.name
            found.frames[stream.type] = 0
            found.ends[stream.type] = 0.0
        video = container.streams.video[0] if container.streams.video else None
        if video is not None:
            found.size = (video.codec_context.width, video.codec_context.height)
        try:
            for packet in container.demux():
                if packet.pts is None or packet.time_base is None:
                    continue
                kind = packet.stream.type
                for _frame in packet.decode():
                    found.frames[kind] += 1
                    start = float(packet.pts * packet.time_base)
                    end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                    found.starts[kind] = min(found.starts.get(kind, start), start)
                    found.ends[kind] = max(found.ends[kind], end)
        except av.error.FFmpegError as exc:
            if not tolerate_truncation:
                raise
            found.error = str(exc)
    return found


def audio_levels(path: Path) -> list[tuple[float, float]]:
    """(start second, peak level 0..1) of every decoded audio frame of a 16-bit PCM track."""
    levels: list[tuple[float, float]] = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            used = frame.samples * 2 * len(frame.layout.channels)
            samples = array("h", bytes(frame.planes[0])[:used])
            peak = max((abs(v) for v in samples), default=0) / 32767
            if frame.pts is not None and frame.time_base is not None:
                levels.append((float(frame.pts * frame.time_base), peak))
    return levels
