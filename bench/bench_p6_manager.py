"""P6: the manager at scale — the same pages of an empty system and of one with 100 000 users
and 1 000 cameras, p50/p95 per route, and the ratio seeded/empty.

Set-up (not timed): two data directories, each set up unattended (`run_unattended`, as
`bodyworn controller setup` does); the seeded one then gets its users, docking stations and
cameras by bulk inserts through the store (one transaction each, not the API: 100 000
requests would take most of the run), the camera profiles through the profiles service.
Each system runs as a real `bodyworn controller --insecure-http` process on loopback.

Timed: for each round, each route is asked once of each system, in turn (so the machine's
noise hits both alike), over a kept-alive HTTP connection:
- dashboard:     GET /              (a logged-in manager session)
- users page:    GET /users         (the first page)
- user search:   GET /users?q=…     (a name fragment; also a last-page-like search)
- users API:     GET /api/v1/users  (an API token)
- profiles page: GET /profiles      (user counts per profile; informational)
Goal: p95 seeded ≤ 2× empty and < 50 ms, per route. Beside the wall times, the
controller's own CPU time per request (all its threads, from /proc/<pid>/task/*/schedstat):
on a shared machine other processes move the wall times, hardly the CPU times.

Run: .venv/bin/python bench/bench_p6_manager.py [--users 100000] [--cameras 1000]
     [--rounds 60] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

ROOT_PASSWORD = "bench p6 root password"
GOAL_RATIO, GOAL_MS = 2.0, 50.0
GIVEN = ("Åsa", "Örjan", "Per", "Ida", "Karin", "Lars", "Anna", "Erik", "Maria", "Johan",
         "Eva", "Nils", "Sara", "Olof", "Lena", "Mats", "Elin", "Jonas", "Sofia", "Björn",
         "José", "Zoë", "Ahmed", "Fatima", "Chen", "Mei", "Ivan", "Olga", "Liam", "Noor")
FAMILY = ("Öberg", "Ek", "Ahl", "Ström", "Berg", "Lind", "Holm", "Sjöberg", "Nyström",
          "Lundqvist", "Åkesson", "Dahl", "Fors", "Wiklund", "Hägg", "Strauß", "Núñez",
          "Petrov", "Nguyen", "Kowalski", "Andersson", "Karlsson", "Nilsson", "Eriksson",
          "Larsson", "Olsson", "Persson", "Svensson", "Gustafsson", "Pettersson")
SEARCH = "sjöberg 12"  # a few dozen of 100 000; none in the empty system


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def set_up(data_dir: Path, port: int) -> str:
    """An unattended setup; returns an API token (read-only) made through the service."""
    from tests.domain.connection_factory import connection_file_bytes

    from bodyworn.controller.settings import ControllerSettings
    from bodyworn.controller.tokens import service as tokens
    from bodyworn.controller.unattended import run_unattended
    from bodyworn.domain.clock import SystemClock
    from bodyworn.store.db import make_engine, session_factory

    tmp = data_dir.parent
    (tmp / "connection.json").write_bytes(connection_file_bytes())
    answers = tmp / "answers.toml"
    answers.write_text(
        f'root_password = "{ROOT_PASSWORD}"\n'
        'super_admin_passphrase = "bench p6 super admin passphrase"\n'
        'restore_key_path = "restore-key.json"\n'
        'system_name = "Bench P6"\n'
        "manual_time = true\n"
        'connection_file = "connection.json"\n'
        f'listen_host = "127.0.0.1"\nlisten_port = {port}\n', encoding="utf-8")
    settings = ControllerSettings(data_dir=data_dir)
    run_unattended(settings, answers, SystemClock(), None)
    engine = make_engine(settings.db_url)
    try:
        with session_factory(engine)() as s, s.begin():
            _, value = tokens.create(s, SystemClock(), "bench", "read", actor="bench",
                                     source="bench")
    finally:
        engine.dispose()
    return value


def seed(data_dir: Path, n_users: int, n_cameras: int) -> float:
    """Users, docking stations and cameras by bulk inserts; seconds taken."""
    from sqlalchemy import insert, select

    from bodyworn.controller.cameras.models import CameraRow
    from bodyworn.controller.docks.models import DockingStationRow
    from bodyworn.controller.profiles import service as profiles
    from bodyworn.controller.settings import ControllerSettings
    from bodyworn.controller.users.models import BodyWornUser
    from bodyworn.domain.clock import SystemClock
    from bodyworn.domain.text import fold
    from bodyworn.store.db import make_engine, session_factory

    start = time.perf_counter()
    now = datetime.now(UTC)
    engine = make_engine(ControllerSettings(data_dir=data_dir).db_url)
    factory = session_factory(engine)
    try:
        with factory() as s, s.begin():
            profiles.ensure_preconfigured(s, SystemClock())
            profile_ids = list(s.scalars(select(profiles.ProfileRow.id)))
        uuids = [str(uuid.UUID(int=i + 1)) for i in range(n_users)]
        with factory() as s, s.begin():
            for lo in range(0, n_users, 5000):
                rows = []
                for i in range(lo, min(lo + 5000, n_users)):
                    name = f"{GIVEN[i % len(GIVEN)]} {FAMILY[(i // 7) % len(FAMILY)]} {i}"
                    uid = f"U{i:06d}"
                    rows.append({"uuid": uuids[i], "name": name, "name_key": fold(name),
                                 "user_id": uid, "user_id_key": fold(uid),
                                 "cd_username": None,
                                 "profile_id": profile_ids[i % len(profile_ids)],
                                 "created_at": now, "updated_at": now})
                s.execute(insert(BodyWornUser), rows)
        bays = 16
        stations = (n_cameras + bays - 1) // bays
        with factory() as s, s.begin():
            if stations:
                s.execute(insert(DockingStationRow), [
                    {"serial": f"DOCK{j:06d}", "model": "W701", "bays": bays,
                     "station_url": f"https://127.0.0.1:1/dock{j}", "first_seen_at": now,
                     "last_event_at": now} for j in range(stations)])
            if n_cameras:
                s.execute(insert(CameraRow), [
                    {"serial": f"B8A44F{k:06X}", "state": "added", "model": "W101",
                     "firmware": "11.0.0", "user_uuid": uuids[k * 97 % n_users],
                     "docked": k % 2 == 0, "station_serial": f"DOCK{k // bays:06d}",
                     "bay": k % bays, "camera_url": None, "locked": False,
                     "info_json": '{"leds": {"docking": "green", "operation": "off"}}',
                     "seen_at": now, "added_at": now} for k in range(n_cameras)])
    finally:
        engine.dispose()
    return time.perf_counter() - start


class Controller:
    """A `bodyworn controller` process on loopback, and logged-in clients of it."""

    def __init__(self, data_dir: Path, port: int, token: str) -> None:
        self.data_dir, self.port, self.token = data_dir, port, token
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / "controller.log"

    def start(self) -> float:
        """Start it; seconds until it answers."""
        start = time.perf_counter()
        env = {**os.environ, "BODYWORN_NTP_INTERVAL_S": "604800"}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bodyworn.cli", "--log-level", "warning", "controller",
                 "--data-dir", str(self.data_dir), "--host", "127.0.0.1",
                 "--port", str(self.port), "--insecure-http"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                cwd=self.data_dir.parent)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.log.read_text()[-3000:])
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{self.url}/login", timeout=1.0)
                return time.perf_counter() - start
            time.sleep(0.05)
        raise RuntimeError("the controller did not answer in time")

    def stop(self) -> None:
        """Stop it (SIGTERM, then wait)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def browser(self) -> httpx.Client:
        """A client logged in as root through the login form."""
        client = httpx.Client(base_url=self.url, timeout=30)
        page = client.get("/login").text
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert found, "no CSRF token on /login"
        r = client.post("/login", data={"username": "root", "password": ROOT_PASSWORD,
                                        "csrf_token": found.group(1), "next": "/"})
        assert r.status_code in (200, 303), r.text[:500]
        return client

    def api(self) -> httpx.Client:
        """A client with the API token."""
        return httpx.Client(base_url=self.url, timeout=30,
                            headers={"Authorization": f"Bearer {self.token}"})


ROUTES = (
    ("dashboard", "browser", "/", {}),
    ("users page", "browser", "/users", {}),
    ("user search", "browser", "/users", {"q": SEARCH}),
    ("users API", "api", "/api/v1/users", {}),
    ("users API search", "api", "/api/v1/users", {"q": SEARCH}),
    ("profiles page", "browser", "/profiles", {}),
)
GOAL_ROUTES = ("dashboard", "users page", "user search", "users API")


def cpu_ms(pid: int) -> float:
    """Milliseconds the process has run on a CPU, all its threads (schedstat: ns, exact)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e6


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile, nearest rank (no interpolation over the tail)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def measure(systems: dict[str, Controller], rounds: int, warm: int
            ) -> tuple[dict[str, dict[str, list[float]]], dict[str, dict[str, list[float]]]]:
    """Milliseconds per request (wall, and the controller's CPU), by route and system,
    interleaved. The CPU time is what the controller process itself spent, all threads,
    so other load on the machine hardly changes it (its background loops add a little)."""
    clients = {name: {"browser": c.browser(), "api": c.api()} for name, c in systems.items()}
    pids = {name: c.proc.pid for name, c in systems.items() if c.proc is not None}
    times: dict[str, dict[str, list[float]]] = {r[0]: {n: [] for n in systems} for r in ROUTES}
    cpu: dict[str, dict[str, list[float]]] = {r[0]: {n: [] for n in systems} for r in ROUTES}
    try:
        for i in range(warm + rounds):
            for route, kind, path, params in ROUTES:
                for name in systems:
                    client = clients[name][kind]
                    used = cpu_ms(pids[name])
                    start = time.perf_counter()
                    r = client.get(path, params=params)
                    elapsed = (time.perf_counter() - start) * 1000
                    used = cpu_ms(pids[name]) - used
                    if r.status_code != 200:
                        raise RuntimeError(f"{name} {route}: {r.status_code} {r.text[:300]}")
                    if i >= warm:
                        times[route][name].append(elapsed)
                        cpu[route][name].append(used)
    finally:
        for pair in clients.values():
            for client in pair.values():
                client.close()
    return times, cpu


@contextlib.contextmanager
def running(systems: dict[str, Controller]) -> Iterator[dict[str, float]]:
    """Every controller started (seconds to answer, by system), stopped at the end."""
    try:
        yield {name: c.start() for name, c in systems.items()}
    finally:
        for c in systems.values():
            c.stop()


def main() -> None:
    """Build both systems, time the routes, print p50/p95, ratios and the verdicts."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--cameras", type=int, default=1_000)
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--warm", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bw-bench-p6-") as tmpdir:
        tmp = Path(tmpdir)
        systems: dict[str, Controller] = {}
        seconds = 0.0
        for name, n_users, n_cameras in (("empty", 0, 0), ("seeded", a.users, a.cameras)):
            (tmp / name).mkdir()
            data, port = tmp / name / "data", free_port()
            token = set_up(data, port)
            if n_users or n_cameras:
                seconds = seed(data, n_users, n_cameras)
            systems[name] = Controller(data, port, token)
        with running(systems) as ready:
            times, cpu = measure(systems, a.rounds, a.warm)
    result: dict[str, object] = {"users": a.users, "cameras": a.cameras, "rounds": a.rounds,
                                 "seed_s": round(seconds, 1),
                                 "ready_s": {k: round(v, 2) for k, v in ready.items()}}
    verdicts = []
    routes: dict[str, dict[str, float]] = {}
    for route, _, _, _ in ROUTES:
        row: dict[str, float] = {}
        for name in systems:
            row[f"{name}_p50_ms"] = round(statistics.median(times[route][name]), 2)
            row[f"{name}_p95_ms"] = round(percentile(times[route][name], 95), 2)
            row[f"{name}_cpu_ms"] = round(statistics.median(cpu[route][name]), 2)
        row["p95_ratio"] = round(row["seeded_p95_ms"] / row["empty_p95_ms"], 2)
        row["cpu_ratio"] = round(row["seeded_cpu_ms"] / max(row["empty_cpu_ms"], 0.01), 2)
        routes[route] = row
        if route in GOAL_ROUTES:
            verdicts.append(row["p95_ratio"] <= GOAL_RATIO and row["seeded_p95_ms"] < GOAL_MS)
    result["routes"] = routes
    result["pass"] = all(verdicts)
    if a.json:
        print(json.dumps(result, indent=2))
        return
    print(f"manager at scale: empty vs {a.users} users and {a.cameras} cameras, "
          f"{a.rounds} requests per route and system (seeded in {seconds:.1f} s; "
          f"controllers answered after {ready['empty']:.2f} s / {ready['seeded']:.2f} s)")
    print(f"{'route':18} {'empty p50':>10} {'p95':>8} {'seeded p50':>11} {'p95':>8} "
          f"{'p95 ratio':>10}  goal   {'CPU empty':>9} {'seeded':>7} {'ratio':>6}")
    for route, row in routes.items():
        goal = "" if route not in GOAL_ROUTES else (
            "PASS" if row["p95_ratio"] <= GOAL_RATIO and row["seeded_p95_ms"] < GOAL_MS
            else "FAIL")
        print(f"{route:18} {row['empty_p50_ms']:10.1f} {row['empty_p95_ms']:8.1f} "
              f"{row['seeded_p50_ms']:11.1f} {row['seeded_p95_ms']:8.1f} "
              f"{row['p95_ratio']:9.2f}×  {goal:4}   {row['empty_cpu_ms']:9.1f} "
              f"{row['seeded_cpu_ms']:7.1f} {row['cpu_ratio']:5.2f}×")
    print("(ms; CPU: the controller's own CPU time per request, median, all threads)")
    print(f"goal: p95 seeded ≤ {GOAL_RATIO:.0f}× empty and < {GOAL_MS:.0f} ms: "
          f"{'PASS' if result['pass'] else 'FAIL'}")


if __name__ == "__main__":
    main()
