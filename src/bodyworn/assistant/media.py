"""Recordings made playable on the phone: a clip fetched from the camera, remuxed to MP4.

The camera records Matroska (or MP4); a browser plays MP4, so each clip is fetched once
and its video copied into a fast-start MP4 in the app's private folder, from where the
app's player reads it with Range requests. Nothing outlives what the camera holds: a clip
no longer on the camera is removed at the next listing, everything at start and when the
pairing goes. The service worker never sees these files (docs/assistant.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import shutil
from pathlib import Path

from bodyworn.assistant.camera import AppRefused, CameraService
from bodyworn.evidence.remux import RemuxError, remux_to_mp4
from bodyworn.wireless.messages import RecordingSummary


class PlaybackFiles:
    """MP4s of the clips on the camera, made on first view."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.wipe()
        self._locks: dict[str, asyncio.Lock] = {}

    def wipe(self) -> None:
        """Remove every playable file (start, new pairing)."""
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, mode=0o700)

    @staticmethod
    def _key(serial: str, clip: str) -> str:
        return hashlib.sha256(f"{serial}\n{clip}".encode()).hexdigest()

    def prune(self, serial: str, recordings: list[RecordingSummary]) -> None:
        """Remove the files of clips the camera no longer lists (offloaded at docking)."""
        keep = {f"{self._key(serial, c.name)}.mp4" for r in recordings for c in r.clips}
        for path in self.root.iterdir():
            if path.name not in keep and not path.name.endswith(".part"):
                path.unlink(missing_ok=True)

    async def playable(self, service: CameraService, serial: str, recording_id: str,
                       index: int) -> Path:
        """The MP4 of clip `index` of a recording on the camera."""
        recording = await service.recording(recording_id)
        if not 0 <= index < len(recording.clips):
            raise AppRefused(404, "no_recording")
        clip = recording.clips[index]
        key = self._key(serial, clip.name)
        target = self.root / f"{key}.mp4"
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if target.is_file():
                return target
            raw = self.root / f"{key}.part"
            await service.download_clip(clip.name, clip.size, raw)
            tmp = self.root / f"{key}.mp4.part"
            try:
                await asyncio.to_thread(remux_to_mp4, raw, tmp)
                tmp.replace(target)
            except RemuxError:
                raise AppRefused(502, "camera_error") from None
            finally:
                raw.unlink(missing_ok=True)
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
        return target
