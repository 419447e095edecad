"""`bodyworn demo`: the whole system on one machine.

Until the offload engine lands, the demo runs one controller, not yet set up, so that the
setup wizard can be walked in a browser. It prints only what works.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from bodyworn.controller.server import serve
from bodyworn.controller.settings import ControllerSettings


def run_demo(data_dir: Path, port: int, console: Console) -> None:
    """Start a controller in `data_dir` and say where to open it."""
    settings = ControllerSettings(data_dir=data_dir, host="127.0.0.1", port=port)
    console.print("bodyworn demo: one system controller (the rest of the system comes later).")
    console.print(
        "The certificate is the controller's self-signed Default one: your browser will ask "
        "you to accept it.", markup=False,
    )
    serve(settings, explicit_host=True, explicit_port=True, console=console)
