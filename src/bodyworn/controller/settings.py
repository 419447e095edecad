"""How one controller process is started: where its data lives and where it listens."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bodyworn.store.db import sqlite_url
from bodyworn.store.secrets import KEY_FILE


class ControllerSettings(BaseSettings):
    """Start-up settings (flags or BODYWORN_* environment variables)."""

    model_config = SettingsConfigDict(env_prefix="BODYWORN_", extra="forbid")

    data_dir: Path = Path("./bodyworn-data")
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8443, ge=1, le=65535)
    insecure_http: bool = False
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    lockout_threshold: int = Field(default=5, ge=1, le=100)
    # The key sealing the secrets stored in the database (store/secrets.py); by default
    # `secrets.key` in the data directory, made at the first start.
    secrets_key_file: Path | None = None
    # Pause between passes of the offload deliver loop (seconds); tests shorten it.
    offload_interval_s: float = Field(default=2.0, ge=0.01, le=3600)
    # Offload concurrency (controller/offload/base.py OffloadConfig): clips received at
    # once over all cameras, and per camera; recordings delivered at once; clips of a
    # recording still arriving sent ahead of it (0: none).
    offload_max_ingests: int = Field(default=4, ge=1, le=64)
    offload_ingests_per_camera: int = Field(default=4, ge=1, le=8)
    offload_max_deliveries: int = Field(default=4, ge=1, le=64)
    offload_early_uploads: int = Field(default=2, ge=0, le=16)
    # The Ed25519 public key (PEM) firmware must be signed with, instead of the release
    # key that ships with the code (test systems, organisations that build their own).
    firmware_key_file: Path | None = None
    # How often the clock is measured against the NTP server again (seconds).
    ntp_interval_s: float = Field(default=3600.0, ge=0.1, le=7 * 24 * 3600)
    # The dashboard warns when the content destination's clock (its Date header) and this
    # controller's differ by more than this (seconds).
    clock_skew_warn_s: float = Field(default=10.0, ge=2, le=3600)
    # Rotating log files in <data>/logs: size of one file, and how many older ones to keep.
    log_file_bytes: int = Field(default=5 * 1024 * 1024, ge=64 * 1024, le=1024 * 1024 * 1024)
    log_file_backups: int = Field(default=5, ge=1, le=100)

    @property
    def db_url(self) -> str:
        """The database URL: the given one, or SQLite inside the data directory."""
        return self.database_url or sqlite_url(self.data_dir)

    @property
    def secrets_key_path(self) -> Path:
        """Where the secrets key is: the given file, or secrets.key in the data directory."""
        return self.secrets_key_file or self.data_dir / KEY_FILE

    @property
    def scheme(self) -> str:
        """https unless plain HTTP was asked for explicitly."""
        return "http" if self.insecure_http else "https"
