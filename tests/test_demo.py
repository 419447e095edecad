"""`bodyworn demo` end to end without a browser: recordings reach the CD Complete."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from rich.console import Console

from bodyworn.demo import CONNECTION_FILE, CREDENTIALS_FILE, run_demo
from bodyworn.destination.store import ObjectStore
from bodyworn.domain.connection_file import parse_connection_file


def _complete(data_dir: Path) -> list[str]:
    store = ObjectStore(data_dir / "destination" / "store")
    return [c for c in store.list_containers("bodyworn")
            if store.container_metadata("bodyworn", c).get("Status") == "Complete"]


def test_the_demo_delivers_recordings_and_a_second_run_reuses_the_data(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    console = Console(file=open(tmp_path / "out.txt", "w"), width=200)  # noqa: SIM115
    run_demo(data, None, console, duration=25, open_browser=False)
    console.file.close()
    out = (tmp_path / "out.txt").read_text()
    assert "Manager:" in out and "root password:" in out and "demo stopped" in out
    first = _complete(data)
    assert first, out
    credentials = data / CREDENTIALS_FILE
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert "password" in credentials.read_text()
    parse_connection_file((data / CONNECTION_FILE).read_bytes())
    state = json.loads((data / "demo.json").read_text())

    console = Console(file=open(tmp_path / "out2.txt", "w"), width=200)  # noqa: SIM115
    run_demo(data, None, console, duration=8, open_browser=False)
    console.file.close()
    again = (tmp_path / "out2.txt").read_text()
    assert "root password:" not in again, "logins are printed once"
    assert json.loads((data / "demo.json").read_text()) == state
    assert "Manager:" in again and "demo stopped" in again
    assert set(first) <= set(_complete(data))
