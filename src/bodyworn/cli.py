"""The one command line: controller, destination, demo, simulate, conformance, and more."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from bodyworn.controller.identity.cli import restore_key_app
from bodyworn.controller.settings import ControllerSettings
from bodyworn.destination.cli import destination_app
from bodyworn.destination.evidence_cli import evidence_app
from bodyworn.devices.simulate import simulate
from bodyworn.firmware.cli import firmware_app
from bodyworn.logs import configure_logging

app = typer.Typer(help="bodyworn: an open body worn camera system.", no_args_is_help=True)
controller_app = typer.Typer(help="Run or set up a system controller.")
audit_app = typer.Typer(help="The audit log.")
app.add_typer(controller_app, name="controller")
app.add_typer(restore_key_app, name="restore-key")
app.add_typer(audit_app, name="audit")
app.add_typer(destination_app, name="destination")
app.add_typer(evidence_app, name="evidence")
app.add_typer(firmware_app, name="firmware")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

@app.callback()
def _root(
    log_level: str = typer.Option("info", help="Log level (debug, info, warning, error)."),
) -> None:
    """Logs go to stderr as JSON lines."""
    configure_logging(log_level)


DATA_DIR_HELP = "Data directory (database, certificates, spool)."
DB_HELP = "Database URL (default: SQLite in the data directory)."


def _settings(
    data_dir: Path, database_url: str | None, host: str | None, port: int | None,
    insecure_http: bool,
) -> ControllerSettings:

    values: dict[str, object] = {"data_dir": data_dir, "insecure_http": insecure_http}
    if database_url:
        values["database_url"] = database_url
    if host:
        values["host"] = host
    if port:
        values["port"] = port
    return ControllerSettings(**values)  # type: ignore[arg-type]


@controller_app.callback(invoke_without_command=True)
def controller(
    ctx: typer.Context,
    data_dir: Path = typer.Option(Path("./bodyworn-data"), help=DATA_DIR_HELP),
    database_url: str | None = typer.Option(None, help=DB_HELP),
    host: str | None = typer.Option(
        None, help="Listening address (default 127.0.0.1, or what setup chose)."
    ),
    port: int | None = typer.Option(
        None, help="Listening port (default 8443, or what setup chose)."
    ),
    insecure_http: bool = typer.Option(
        False, "--insecure-http", help="Serve plain HTTP (development only)."
    ),
) -> None:
    """Run a system controller: the manager and the REST API, over HTTPS."""
    if ctx.invoked_subcommand is not None:
        return
    from bodyworn.controller.server import serve
    from bodyworn.store.private import StartRefused

    settings = _settings(data_dir, database_url, host, port, insecure_http)
    try:
        serve(settings, explicit_host=host is not None, explicit_port=port is not None,
              console=out)
    except StartRefused as exc:
        err.print(f"Not starting: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None


@controller_app.command("setup")
def controller_setup(
    answers: Path = typer.Option(..., help="Answers file (TOML); see docs/setup.md."),
    data_dir: Path = typer.Option(Path("./bodyworn-data"), help=DATA_DIR_HELP),
    database_url: str | None = typer.Option(None, help=DB_HELP),
) -> None:
    """Set a system up without the browser, from an answers file."""
    from bodyworn.controller.app import default_ntp
    from bodyworn.controller.setup.service import AlreadySetUp, SetupInvalid
    from bodyworn.controller.unattended import run_unattended
    from bodyworn.domain.clock import SystemClock
    from bodyworn.store.private import StartRefused

    settings = _settings(data_dir, database_url, None, None, False)
    try:
        result = run_unattended(settings, answers, SystemClock(), default_ntp())
    except StartRefused as exc:
        err.print(f"Not starting: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    except SetupInvalid as exc:
        err.print("[bold red]Setup refused; nothing was written.[/]")
        for e in exc.errors:
            err.print(f"  {e.field}: {e.message}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    except AlreadySetUp:
        err.print("This data directory holds a system that is already set up.")
        raise typer.Exit(3) from None
    for warning in result.warnings:
        err.print(f"Warning: {warning}", markup=False, highlight=False)
    if result.restored_from:
        out.print(f"System {result.system_id} restored from {result.restored_from}.",
                  markup=False)
        out.print("Unlock the system's cameras with the Super admin passphrase when they dock.")
    else:
        out.print(f"System {result.system_id} set up.")
        out.print(f"System restore key written to {result.restore_key_path}", markup=False)


@audit_app.command("verify")
def audit_verify(
    data_dir: Path = typer.Option(Path("./bodyworn-data"), help=DATA_DIR_HELP),
    database_url: str | None = typer.Option(None, help=DB_HELP),
    cd: bool = typer.Option(
        True, "--cd/--no-cd",
        help="Compare the log with the audit anchors kept at the content destination."),
) -> None:
    """Check the audit log's hash chain, and against the CD's anchors; exit 1 when an entry
    was altered or removed."""
    from bodyworn.controller.audit.service import verify_chain
    from bodyworn.controller.settings import ControllerSettings
    from bodyworn.store.db import make_engine, session_factory

    settings = ControllerSettings(data_dir=data_dir, database_url=database_url)
    if database_url is None and not (data_dir / "bodyworn.db").exists():
        err.print(f"No database in {data_dir}", markup=False)
        raise typer.Exit(2)
    engine = make_engine(settings.db_url)
    try:
        with session_factory(engine)() as session:
            report = verify_chain(session)
        if not report.ok:
            err.print(f"Audit chain BROKEN at entry {report.broken_at}: {report.reason}")
            raise typer.Exit(1)
        out.print(f"Audit chain holds: {report.entries} entries.")
        if cd and not _anchors_hold(settings, engine):
            raise typer.Exit(1)
    finally:
        engine.dispose()


def _anchors_hold(settings: ControllerSettings, engine: object) -> bool:
    """Print how the log compares with the CD's audit anchors; False when they disagree."""
    import asyncio

    from bodyworn.cdclient.client import CDClient
    from bodyworn.cdclient.config import CDConnection
    from bodyworn.cdclient.errors import CDError
    from bodyworn.controller.destinations.service import current_file
    from bodyworn.controller.integrity.service import verify_anchors
    from bodyworn.store.db import session_factory
    from bodyworn.store.secrets import SecretsUnavailable, load_key

    try:
        box = load_key(settings.secrets_key_path)
    except SecretsUnavailable as exc:
        err.print(f"Not compared with the content destination: {exc}", markup=False)
        return True
    if box is None:
        err.print("Not compared with the content destination: no secrets key here.")
        return True
    factory = session_factory(engine, secrets=box)  # type: ignore[arg-type]

    async def compare() -> Any:
        with factory() as session:
            conn = CDConnection.from_parsed(current_file(session))
            async with CDClient(conn) as client:
                return await verify_anchors(session, client)

    try:
        found = asyncio.run(compare())
    except LookupError:
        err.print("Not compared with the content destination: none is set up.")
        return True
    except (CDError, SecretsUnavailable) as exc:
        err.print(f"Not compared with the content destination: {exc}", markup=False)
        return True
    if not found.kept:
        out.print("The content destination keeps no audit anchors (StoreReadAuditAnchor).")
        return True
    if not found.ok:
        for problem in found.problems:
            err.print(f"Audit log and anchors DISAGREE: {problem}", markup=False)
        return False
    out.print(f"The content destination holds {found.anchors} anchors over {found.entries}"
              " entries, all as in this log.")
    return True


@app.command("demo")
def demo(
    data_dir: Path = typer.Option(Path("./bodyworn-demo"), help=DATA_DIR_HELP),
    port: int | None = typer.Option(
        None, help="Manager port (default: a free one, kept for later runs)."
    ),
    duration: float | None = typer.Option(None, help="Stop by itself after this many seconds."),
    no_browser: bool = typer.Option(
        False, "--no-browser", help="Do not open the manager in a browser."
    ),
) -> None:
    """Run the whole system on one machine: CD, controller, docks with cameras, a short shift."""
    from bodyworn.demo import run_demo

    run_demo(data_dir, port, out, duration=duration, open_browser=not no_browser)


@app.command("conformance")
def conformance(
    connection_file: Path = typer.Option(..., help="The content destination's connection file."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Check a content destination against the Content Destination API; exit 1 on a failure."""
    import asyncio
    import tempfile

    from bodyworn.cdclient import CDConnection
    from bodyworn.cdclient.conformance import conformance_main
    from bodyworn.domain.clock import utcnow
    from bodyworn.domain.connection_file import (
        MAX_FILE_BYTES,
        ConnectionFileError,
        parse_connection_file,
    )
    from bodyworn.domain.user_files import UserFileError, read_user_file

    try:
        parsed = parse_connection_file(read_user_file(
            connection_file, limit=MAX_FILE_BYTES, what="connection file"), now=utcnow())
    except UserFileError as exc:
        err.print(str(exc).capitalize(), markup=False)
        raise typer.Exit(2) from None
    except ConnectionFileError as exc:
        err.print("The connection file is not valid:")
        for e in exc.errors:
            err.print(f"  {e.field}: {e.rule}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    warnings = [str(w) for w in parsed.warnings]
    if not json_out:
        for warning in warnings:
            err.print(f"Warning: {warning}", markup=False, highlight=False)
    with tempfile.TemporaryDirectory(prefix="bodyworn-conformance-") as tmp:
        status = asyncio.run(conformance_main(
            CDConnection.from_parsed(parsed), as_json=json_out, console=out, workdir=Path(tmp),
            connection_warnings=warnings,
        ))
    raise typer.Exit(status)


app.command("simulate")(simulate)


@app.command("assistant")
def assistant(
    air: str = typer.Option(..., help="Where the cameras' wireless side is reached (the air"
                            " URL a simulation prints)."),
    data_dir: Path = typer.Option(Path("./bodyworn-assistant"),
                                  help="The app's data directory (device key, pairing)."),
    host: str = typer.Option("127.0.0.1", help="Listening address (beyond loopback: HTTPS)."),
    port: int = typer.Option(8765, help="Listening port."),
) -> None:
    """Run Body Worn Assistant on this device: open the printed link in its browser."""
    from bodyworn.assistant.app import AssistantSettings
    from bodyworn.assistant.server import serve as serve_assistant
    from bodyworn.store.private import StartRefused

    try:
        serve_assistant(AssistantSettings(data_dir=data_dir, air_url=air, host=host,
                                          port=port), out)
    except StartRefused as exc:
        err.print(f"Not starting: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None


def main() -> None:
    """Entry point."""
    app(prog_name="bodyworn")


if __name__ == "__main__":
    main()
