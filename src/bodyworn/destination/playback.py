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

from cryptography.hazmat.primitives.asymmetric import rsa

from bodyworn.evidence.crypto import KeyFile, decrypt_file, open_key_file
from bodyworn.evidence.remux import RemuxError, remux_to_mp4

# A clip that cannot be made playable (undecryptable, not video).
PlaybackError = RemuxError


class PlaybackCache:
    """MP4 versions of stored clips, made once and kept under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def ready(self, sha256: str) -> bool:
        """Whether the clip with this sha256 is made playable already."""
        return (self.root / f"{sha256}.mp4").is_file()

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
