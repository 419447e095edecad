"""Clips made playable in a browser: H.264 copied from Matroska (or MP4) into a fast-start MP4.

Browsers play H.264 in MP4 but not (all of them) in Matroska, so a clip is remuxed, its
video copied as it is; audio a browser cannot take in MP4 (PCM) is transcoded to AAC.
Used by the content destination's evidence browser and by the Assistant app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av

# Audio codecs an MP4 in a browser can carry as they are.
_COPY_AUDIO = frozenset({"aac", "mp3", "opus"})


class RemuxError(Exception):
    """A clip that cannot be made playable (unreadable, not video, undecryptable)."""


def remux_to_mp4(source: Path, target: Path) -> None:
    """Copy a clip's video (and audio, transcoding what MP4 cannot carry) into a fast-start MP4."""
    try:
        dts = _video_dts(source)
        with (
            av.open(str(source)) as inp,
            av.open(str(target), "w", format="mp4", options={"movflags": "+faststart"}) as out,
        ):
            _remux(inp, out, dts)
    except av.FFmpegError as exc:
        raise RemuxError(f"cannot read the clip: {exc}") from exc


def _video_dts(source: Path) -> list[int]:
    """Decode timestamps for the video packets, in demux order.

    Matroska stores no DTS for frames that are reordered (B-frames), and MP4 needs one on
    every packet. Packets come in decode order, so the i-th smallest PTS, shifted back
    just enough to never pass a packet's own PTS, is a valid, increasing DTS.
    """
    with av.open(str(source)) as inp:
        if not inp.streams.video:
            raise RemuxError("the clip has no video stream")
        pts = [p.pts for p in inp.demux(inp.streams.video[0]) if p.size and p.pts is not None]
    ordered = sorted(pts)
    shift = max((o - p for o, p in zip(ordered, pts, strict=True)), default=0)
    return [o - shift for o in ordered]


def _remux(inp: Any, out: Any, video_dts: list[int]) -> None:
    video_in = inp.streams.video[0]
    streams: dict[int, Any] = {video_in.index: out.add_stream_from_template(video_in)}
    transcode: dict[int, Any] = {}
    for audio in inp.streams.audio[:1]:
        if audio.codec_context.name in _COPY_AUDIO:
            streams[audio.index] = out.add_stream_from_template(audio)
        else:
            channels = audio.codec_context.channels
            enc = out.add_stream(
                "aac",
                rate=audio.codec_context.sample_rate,
                layout="mono" if channels == 1 else "stereo",
            )
            enc.format = "fltp"
            streams[audio.index] = enc
            transcode[audio.index] = enc
    next_video = 0
    for packet in inp.demux(*[inp.streams[i] for i in streams]):
        index = packet.stream.index
        if index in transcode:
            for frame in packet.decode():
                frame.pts = None
                for encoded in transcode[index].encode(frame):
                    out.mux(encoded)
            continue
        # Flush packets carry no data; video packets without a PTS cannot be placed.
        if not packet.size or packet.pts is None:
            continue
        if index == video_in.index:
            packet.dts = video_dts[next_video]
            next_video += 1
        elif packet.dts is None:
            packet.dts = packet.pts
        packet.stream = streams[index]
        out.mux(packet)
    for enc in transcode.values():
        for encoded in enc.encode(None):
            out.mux(encoded)
