"""What the hash chain costs: appending audit entries with the chain vs plain inserts.

Both run side by side in one process on fresh SQLite databases, alternating rounds so the
machine's noise hits both; prints the median time per entry of each and their ratio.

Run: .venv/bin/python bench/bench_audit_chain.py [entries] [rounds]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bodyworn.controller.audit.models import AuditEntry
from bodyworn.controller.audit.service import record
from bodyworn.domain.clock import ManualClock
from bodyworn.store.db import make_engine, session_factory, sqlite_url, upgrade


def _factory(tmp: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(sqlite_url(tmp))
    upgrade(engine)
    return session_factory(engine)


def chained(tmp: Path, n: int) -> float:
    """Seconds to append n entries through the audit service (one transaction each)."""
    factory, clock = _factory(tmp), ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    start = time.perf_counter()
    for i in range(n):
        with factory() as s, s.begin():
            record(s, clock, actor="root", action="bench", detail=f"entry {i}")
    return time.perf_counter() - start


def plain(tmp: Path, n: int) -> float:
    """Seconds to insert n rows of the same shape without reading the previous hash."""
    factory, clock = _factory(tmp), ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    start = time.perf_counter()
    for i in range(n):
        with factory() as s, s.begin():
            s.add(AuditEntry(at=clock.now(), actor="root", action="bench", detail=f"entry {i}",
                             source="", outcome="success", prev_hash="0" * 64,
                             entry_hash=f"{i:064d}"))
    return time.perf_counter() - start


def main() -> None:
    """Alternate the two, report medians and the ratio."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    results: dict[str, list[float]] = {"chained": [], "plain": []}
    for _ in range(rounds):
        for name, fn in (("chained", chained), ("plain", plain)):
            with tempfile.TemporaryDirectory() as tmp:
                results[name].append(fn(Path(tmp), n))
    c, p = statistics.median(results["chained"]), statistics.median(results["plain"])
    print(f"audit entries: {n} x {rounds} rounds")
    print(f"chained: {c / n * 1e3:.3f} ms/entry   plain insert: {p / n * 1e3:.3f} ms/entry")
    print(f"ratio chained/plain: {c / p:.2f}")


if __name__ == "__main__":
    main()
