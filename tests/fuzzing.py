"""How the fuzzers run: derandomized in `make test`, random and time-boxed in `make fuzz`.

`make test` must give the same result twice on a fresh clone, so every Hypothesis and
schemathesis run there is derandomized (a fixed seed), with no example database that
could carry a failure from one run into the next; what a fuzzer once found is kept as an
explicit `@example` (or a corpus entry) next to the test instead.

`make fuzz` sets BODYWORN_FUZZ_SECONDS: the tests marked `fuzz` then draw random inputs
for their share of that time, again and again, and record every 5xx they provoke in
BODYWORN_FUZZ_REPORT (JSON lines) instead of stopping at the first; each such test fails
at the end if it found any.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

FUZZ_SECONDS = float(os.environ.get("BODYWORN_FUZZ_SECONDS", "0") or 0)
FUZZING = FUZZ_SECONDS > 0
REPORT = Path(os.environ.get("BODYWORN_FUZZ_REPORT", ".fuzz/findings.jsonl"))
# Set by tests/conftest.py once it knows how many fuzz tests share the time.
share = {"seconds": FUZZ_SECONDS}

settings.register_profile(
    "derandomized", derandomize=True, database=None, deadline=None, print_blob=True,
)
settings.register_profile(
    "fuzz", derandomize=False, database=None, deadline=None, print_blob=True,
    suppress_health_check=list(HealthCheck),
)


def load_profile() -> None:
    """Derandomized unless `make fuzz` asked for random inputs."""
    settings.load_profile("fuzz" if FUZZING else "derandomized")


def fuzz_settings(examples: int, *, fuzzing_examples: int = 200) -> settings:
    """Settings of one round: `examples` inputs in `make test`, `fuzzing_examples` when fuzzing
    (keep a round of an expensive fuzzer short: the time box is checked between rounds)."""
    return settings(max_examples=fuzzing_examples if FUZZING else examples, deadline=None,
                    suppress_health_check=list(HealthCheck),
                    derandomize=not FUZZING, database=None)


def out_of_time() -> bool:
    """True once this fuzz test's share of the time is spent (never in `make test`): an
    example then returns at once, so a round ends quickly."""
    return FUZZING and time.monotonic() > share.get("end", float("inf"))


class Findings:
    """5xx answers met while fuzzing: fail at once in `make test`, collect in `make fuzz`."""

    def __init__(self, suite: str, *, collect: bool = False) -> None:
        self.suite = suite
        # Collect in make test too (check() fails the test after): for a fuzzer whose
        # failures Hypothesis must not see (it would replay them; see the stateful one).
        self.collect = collect or FUZZING
        self.found: list[dict[str, Any]] = []
        self.requests = 0

    def sent(self) -> None:
        """Count one request made (for the summary `make fuzz` prints)."""
        self.requests += 1

    def server_error(self, status: int, **what: Any) -> None:
        """Note a 5xx (or a dropped connection, status 0) for the request described by `what`."""
        entry = {"suite": self.suite, "status": status, **what}
        if not self.collect:
            raise AssertionError(f"{self.suite}: server error {status}: {what}")
        self.found.append(entry)
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        with REPORT.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry, default=repr)[:20_000] + "\n")

    def check(self) -> None:
        """Fail when anything was found (in `make fuzz`, after the time is up)."""
        assert not self.found, f"{len(self.found)} server errors, see {REPORT}"


def rounds(units: Sequence[Callable[[], None]], findings: Findings, *,
           weight: float = 1.0) -> int:
    """Run every unit once, derandomized (`make test`); or, in `make fuzz`, run them in turn
    with random inputs for this test's share of the fuzz time. Returns the units run."""
    if not FUZZING:
        for unit in units:
            unit()
        return len(units)
    end = time.monotonic() + share["seconds"] * weight
    share["end"] = end
    count = 0
    while time.monotonic() < end:
        units[count % len(units)]()
        count += 1
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    with (REPORT.parent / "summary.jsonl").open("a", encoding="utf-8") as out:
        out.write(json.dumps({"suite": findings.suite, "requests": findings.requests,
                              "rounds": count, "server_errors": len(findings.found)}) + "\n")
    findings.check()
    return count
