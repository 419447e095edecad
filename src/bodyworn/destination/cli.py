"""`bodyworn destination`: run the embedded content destination, or print its connection file."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from bodyworn.destination.swift import FaultRule

# The server's modules (PyAV, Starlette, Jinja2) are imported inside the commands so that
# `bodyworn --help` and the other commands do not pay for them.

destination_app = typer.Typer(
    help="The embedded content destination: a Swift-subset store with an evidence browser."
)
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

DATA_DIR_HELP = "Data directory of the content destination (settings, keys, stored evidence)."
FAULT_HELP = (
    "FOR TESTS ONLY: PREFIX=ACTION[:COUNT] misbehaves on requests whose "
    "<container>/<object> path (or 'auth') starts with PREFIX, COUNT times or always. "
    "ACTION is a STATUS (4xx/5xx) to answer, "
    "'reset' (drop the connection first), 'cut' (carry out, drop mid-answer), "
    "'slowSECONDS' (answer late) or 'expire-tokens' (invalidate every token so far). "
    "Repeatable. Examples: Users/=503:2, auth=reset:1, Devices/=slow3"
)
MODE_HELP = (
    "'swift' (default): answer like OpenStack Swift, with careful-EMS checks. "
    "'reference': answer like the CD API's reference server, for interoperability tests: "
    "no ETag in PUT or HEAD answers and none checked, 15-minute tokens, GET only for "
    "System/Capabilities.json and System/Categories.json, no EMS checks."
)
_FAULT = re.compile(
    r"^(?P<prefix>[^=]*)="
    r"(?P<action>\d{3}|reset|cut|expire-tokens|slow(?P<seconds>\d+(?:\.\d+)?))"
    r"(?::(?P<count>\d+))?$"
)


def parse_fault(text: str) -> FaultRule:
    """Parse `PREFIX=ACTION[:COUNT]` into a fault rule; raises typer.BadParameter."""
    from bodyworn.destination.swift import FaultRule

    m = _FAULT.match(text)
    if not m:
        raise typer.BadParameter(f"{text!r} is not PREFIX=ACTION[:COUNT]", param_hint="--fault")
    count = int(m["count"]) if m["count"] is not None else None
    if count == 0:
        raise typer.BadParameter("COUNT must be at least 1", param_hint="--fault")
    prefix, action = m["prefix"], m["action"]
    if action == "reset":
        return FaultRule.reset(prefix, times=count)
    if action == "cut":
        return FaultRule.cut(prefix, times=count)
    if action == "expire-tokens":
        return FaultRule.expire_tokens(prefix, times=count)
    if m["seconds"] is not None:
        seconds = float(m["seconds"])
        if seconds <= 0:
            raise typer.BadParameter("slow needs more than 0 seconds", param_hint="--fault")
        return FaultRule.slow(prefix, seconds, times=count)
    status = int(action)
    if not 400 <= status <= 599:
        raise typer.BadParameter(f"status {status} is not a 4xx or 5xx", param_hint="--fault")
    return FaultRule(status=status, prefix=prefix, times=count)


def _scheme(https: bool) -> str:
    return "https" if https else "http"


@destination_app.callback(invoke_without_command=True)
def run(
    ctx: typer.Context,
    data_dir: Path = typer.Option(Path("./bodyworn-cd"), help=DATA_DIR_HELP),
    host: str = typer.Option("127.0.0.1", help="Listening address."),
    port: int = typer.Option(8080, help="Listening port."),
    https: bool = typer.Option(
        False, "--https", help="Serve HTTPS with a generated certificate (fixed at first run)."
    ),
    encryption: bool = typer.Option(
        False, "--encryption", help="Generate a content key pair at first run (end-to-end)."
    ),
    site_name: str = typer.Option("bodyworn", help="Site name (first run only)."),
    browser_password_file: Path | None = typer.Option(
        None, help="Set the evidence browser password from the first line of this file."
    ),
    fault: list[str] = typer.Option([], "--fault", help=FAULT_HELP),
    mode: str = typer.Option("swift", "--mode", help=MODE_HELP),
    max_object_size: int = typer.Option(
        5 * 1024**3, min=0, max=2**62,
        help="Largest object one upload may store, in bytes (Swift's default: 5 GiB); "
        "a bigger upload is refused with 413 while it streams.",
    ),
) -> None:
    """Run the CD: Swift API at /auth/v1.0 and /v1/, the evidence browser at /browser/."""
    if ctx.invoked_subcommand is not None:
        return
    from bodyworn.destination.browser_auth import PasswordRefused, ensure_browser_password
    from bodyworn.destination.serve import prepare, serve
    from bodyworn.destination.swift import CDMode
    from bodyworn.store.private import StartRefused

    try:
        cd_mode = CDMode(mode)
    except ValueError:
        raise typer.BadParameter(
            f"{mode!r} is not one of {', '.join(m.value for m in CDMode)}", param_hint="--mode"
        ) from None

    faults = [parse_fault(f) for f in fault]
    try:
        config = prepare(
            data_dir, host=host, https=https, encryption=encryption, site_name=site_name
        )
        new_password = ensure_browser_password(data_dir, browser_password_file)
    except (ValueError, PasswordRefused, StartRefused) as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    base = f"{_scheme(config.https)}://{host}:{port}"
    out.print(f"Swift API:        {base}/auth/v1.0 (user {config.user})", markup=False)
    out.print(f"Evidence browser: {base}/browser/", markup=False)
    if new_password is not None:
        out.print(
            f"Browser password (shown once, only its hash is kept): {new_password}", markup=False
        )
    if faults:
        err.print(f"FAULT INJECTION ON (tests only): {', '.join(fault)}", markup=False)
    if cd_mode is CDMode.REFERENCE:
        err.print(
            "REFERENCE-LIKE MODE (interoperability tests): no ETags, 15-minute tokens, "
            "GET of System/Capabilities.json and System/Categories.json only, no EMS checks",
            markup=False,
        )
    asyncio.run(
        serve(
            data_dir,
            host=host,
            port=port,
            https=config.https,
            site_name=site_name,
            faults=faults,
            mode=cd_mode,
            max_object_size=max_object_size,
        )
    )


@destination_app.command("connection-file")
def connection_file_command(
    data_dir: Path = typer.Option(Path("./bodyworn-cd"), help=DATA_DIR_HELP),
    host: str = typer.Option("127.0.0.1", help="Address controllers use to reach this CD."),
    port: int = typer.Option(8080, help="Port controllers use to reach this CD."),
    url: list[str] = typer.Option(
        [], "--url", help="Base URL(s) controllers use (scheme://host:port); overrides host/port."
    ),
    https: bool = typer.Option(False, "--https", help="The CD serves HTTPS (first run: create)."),
    encryption: bool = typer.Option(
        False, "--encryption", help="Ask for end-to-end encryption (first run: create the key)."
    ),
    full_store_and_read: bool = typer.Option(
        False, "--full-store-and-read", help="Set FullStoreAndReadSupport in the file."
    ),
    site_name: str = typer.Option("bodyworn", help="Site name (first run only)."),
) -> None:
    """Print the connection file controllers need (sets the data dir up on first use)."""
    from bodyworn.destination.config import connection_file_for, unpublished_capabilities
    from bodyworn.destination.serve import prepare
    from bodyworn.store.private import StartRefused

    try:
        config = prepare(
            data_dir, host=host, https=https, encryption=encryption, site_name=site_name
        )
    except (ValueError, StartRefused) as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    if full_store_and_read and (missing := unpublished_capabilities(config)):
        err.print(
            "Warning: FullStoreAndReadSupport claims capabilities this CD does not publish: "
            + ", ".join(missing),
            markup=False,
        )
    bases = url or [f"{_scheme(config.https)}://{host}:{port}"]
    body = connection_file_for(config, data_dir, bases, full_store_and_read=full_store_and_read)
    typer.echo(body.decode("utf-8"), nl=False)
