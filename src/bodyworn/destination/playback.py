"""Clips made playable in a browser: decrypted with the CD's key and remuxed to MP4, cached.

Browsers play H.264 in MP4 but not in Matroska, so an MKV clip is remuxed (no
re-encoding of video) on first view; audio a browser cannot take in MP4 (PCM) is
transcoded to AAC. The result is cached under the data dir, keyed by the stored
object's sha256, so a replaced object never shows a stale cache. Decrypted plaintext
stays on the CD's own disk beside the private key that could produce it anyway.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
from cryptography.hazmat.primitives.asymmetric import rsa

from bodyworn.evidence.crypto import KeyFile, decrypt_file, open_key_file

# Audio codecs an MP4 in a browser can carry as they are.
_COPY_AUDIO = frozenset({"aac", "mp3", "opus"})


class PlaybackError(Exception):
    """A clip that cannot be made playable (undecryptable, not video)."""


class PlaybackCache:
    """MP4 versions of stored clips, made once and kept under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def playable(
        self,
        source: Path,
        sha256: str,
        key_file: KeyFile | None,
        private_key: rsa.RSAPrivateKey | None,
    ) -> Path:
        """An MP4 of a stored clip (decrypted first when `key_file` is given); blocking."""
        target = self.root / f"{sha256}.mp4"
        if target.is_file():
            return target
        # Two first viewers of one clip must not remux it twice into the same file.
        with self._lock(sha256):
            if target.is_file():
                return target
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            with self._plain(source, key_file, private_key) as plain:
                fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-", suffix=".mp4")
                os.close(fd)
                try:
                    remux_to_mp4(plain, Path(tmp))
                    os.replace(tmp, target)
                except BaseException:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(tmp)
                    raise
        return target

    @contextlib.contextmanager
    def _plain(
        self, source: Path, key_file: KeyFile | None, private_key: rsa.RSAPrivateKey | None
    ) -> Iterator[Path]:
        if key_file is None:
            yield source
            return
        if private_key is None:
            raise PlaybackError("the clip is encrypted and this CD holds no private key")
        try:
            content_key = open_key_file(key_file, private_key)
        except ValueError as exc:
            raise PlaybackError(f"cannot unwrap the clip's key: {exc}") from exc
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-", suffix=".plain")
        os.close(fd)
        try:
            try:
                decrypt_file(source, Path(tmp), content_key)
            except ValueError as exc:
                raise PlaybackError(f"cannot decrypt the clip: {exc}") from exc
            yield Path(tmp)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


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
        raise PlaybackError(f"cannot read the clip: {exc}") from exc


def _video_dts(source: Path) -> list[int]:
    """Decode timestamps for the video packets, in demux order.

    Matroska stores no DTS for frames that are reordered (B-frames), and MP4 needs one on
    every packet. Packets come in decode order, so the i-th smallest PTS, shifted back
    just enough to never pass a packet's own PTS, is a valid, increasing DTS.
    """
    with av.open(str(source)) as inp:
        if not inp.streams.video:
            raise PlaybackError("the clip has no video stream")
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
