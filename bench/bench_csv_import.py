"""What importing a users CSV costs: the all-or-nothing import against two baselines.

Side by side in one process, on fresh SQLite databases, alternating rounds so the machine's
noise hits all of them:

- csv only: `csv.reader` over the decoded file, nothing else (the floor);
- import: read and check the file, plan it against the database, insert every user and its
  content destination outbox row and one audit entry, in one transaction;
- update: the same file again with every name changed, every conflict answered "update";
- row by row: the users service's create(), one transaction per user, as a script calling
  POST /api/v1/users for each row would (without HTTP); run on fewer rows and reported
  per row, because at 10 000 rows it alone would take most of the run.

Run: .venv/bin/python bench/bench_csv_import.py [rows] [rounds] [row_by_row_rows]
"""

from __future__ import annotations

import csv
import io
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bodyworn.controller.models import BodyWornUser
from bodyworn.controller.profiles import service as profiles
from bodyworn.controller.users import csvfile
from bodyworn.controller.users import service as users
from bodyworn.domain.clock import ManualClock
from bodyworn.store.db import make_engine, session_factory, sqlite_url, upgrade

CLOCK = ManualClock(datetime(2026, 11, 27, 8, 0, tzinfo=UTC))
PROFILES = ("Default", "Group 1 - maximum quality", "Group 2 - long shifts")


def make_csv(rows: int, prefix: str = "User") -> bytes:
    """A users file as a spreadsheet saves it: BOM, CRLF, some quoted names."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["name", "user_id", "camera_profile"])
    for i in range(rows):
        w.writerow([f"{prefix} {i}, Åke", f"ID{i:06d}", PROFILES[i % 3]])
    return b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8")


def fresh(tmp: Path) -> sessionmaker[Session]:
    """A migrated database with the pre-configured profiles."""
    engine = make_engine(sqlite_url(tmp))
    upgrade(engine)
    factory = session_factory(engine)
    with factory() as s, s.begin():
        profiles.ensure_preconfigured(s, CLOCK)
    return factory


def csv_only(raw: bytes) -> float:
    """Seconds to decode and split the file with the csv module alone."""
    start = time.perf_counter()
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert len(rows) > 1
    return time.perf_counter() - start


def do_import(factory: sessionmaker[Session], raw: bytes, default: str | None = None) -> float:
    """Seconds for the whole import (parse, plan, commit in one transaction)."""
    start = time.perf_counter()
    parsed = csvfile.parse(raw, cd_username_supported=False)
    with factory() as s, s.begin():
        users.commit_import(s, CLOCK, parsed, {}, default_resolution=default, actor="bench",
                            source="bench")
    return time.perf_counter() - start


def row_by_row(factory: sessionmaker[Session], raw: bytes) -> float:
    """Seconds to create each row's user through the service, one transaction each."""
    with factory() as s:
        ids = {r.name: r.id for r in s.scalars(select(profiles.ProfileRow))}
    parsed = csvfile.parse(raw, cd_username_supported=False)
    start = time.perf_counter()
    for row in parsed.rows:
        with factory() as s, s.begin():
            users.create(s, CLOCK, name=row.name, user_id=row.user_id,
                         profile_id=ids[row.camera_profile or "Default"], actor="bench",
                         source="bench")
    return time.perf_counter() - start


def count(factory: sessionmaker[Session]) -> int:
    """Users in the database."""
    with factory() as s:
        return s.scalar(select(func.count()).select_from(BodyWornUser)) or 0


def main() -> None:
    """Alternate the runs, report medians, rows per second and ratios."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    naive_n = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000
    raw, renamed, small = make_csv(n), make_csv(n, "Renamed"), make_csv(naive_n)
    results: dict[str, list[float]] = {"csv": [], "import": [], "update": [], "naive": []}
    for _ in range(rounds):
        results["csv"].append(csv_only(raw))
        with tempfile.TemporaryDirectory() as tmp:
            factory = fresh(Path(tmp))
            results["import"].append(do_import(factory, raw))
            assert count(factory) == n
            results["update"].append(do_import(factory, renamed, "update"))
            assert count(factory) == n
            factory.kw["bind"].dispose()
        with tempfile.TemporaryDirectory() as tmp:
            factory = fresh(Path(tmp))
            results["naive"].append(row_by_row(factory, small))
            assert count(factory) == naive_n
            factory.kw["bind"].dispose()
    med = {k: statistics.median(v) for k, v in results.items()}
    per_row = {k: med[k] / (naive_n if k == "naive" else n) for k in med}
    print(f"users CSV import: {n} rows ({len(raw) / 1e6:.2f} MB), {rounds} rounds; "
          f"row-by-row baseline on {naive_n} rows")
    for key, label in (("csv", "csv module only"), ("import", "import (new users)"),
                       ("update", "import (all update)"), ("naive", "row by row")):
        extra = f"  (~{per_row[key] * n:.1f} s for {n})" if key == "naive" else ""
        print(f"{label:22} {med[key]:8.3f} s  {per_row[key] * 1e6:9.1f} us/row{extra}")
    print(f"ratio import / csv only:      {per_row['import'] / per_row['csv']:.1f}")
    print(f"ratio row by row / import:    {per_row['naive'] / per_row['import']:.1f} "
          "(per row; how much faster the bulk import is)")


if __name__ == "__main__":
    main()
