"""Running a test on SQLite and, when one is at hand, on PostgreSQL too."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bodyworn.controller.settings import ControllerSettings
from bodyworn.store.db import make_engine

PG_URL = os.environ.get("BODYWORN_TEST_DATABASE_URL")
NO_PG = ("no PostgreSQL server at hand: set BODYWORN_TEST_DATABASE_URL "
         "(CI starts one with scripts/start-postgres.sh)")
# Parametrize a fixture with these; the PostgreSQL case is skipped without a server.
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(not PG_URL,
                                                                          reason=NO_PG))]


def to_base(url: str) -> None:
    """Empty the scratch PostgreSQL database the tests share: every table dropped.

    Not a downgrade: the sealed secrets of a set-up system could only be opened again with
    the secrets key of a data directory that is gone by then.
    """
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


@contextmanager
def backend_settings(backend: str, data_dir: Path) -> Iterator[ControllerSettings]:
    """Controller settings on `backend`, an empty database before and after."""
    if backend == "sqlite":
        yield ControllerSettings(data_dir=data_dir)
        return
    assert PG_URL is not None
    to_base(PG_URL)
    try:
        yield ControllerSettings(data_dir=data_dir, database_url=PG_URL)
    finally:
        to_base(PG_URL)
