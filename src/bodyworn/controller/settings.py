"""How one controller process is started: where its data lives and where it listens."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bodyworn.store.db import sqlite_url


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

    @property
    def db_url(self) -> str:
        """The database URL: the given one, or SQLite inside the data directory."""
        return self.database_url or sqlite_url(self.data_dir)

    @property
    def scheme(self) -> str:
        """https unless plain HTTP was asked for explicitly."""
        return "http" if self.insecure_http else "https"
