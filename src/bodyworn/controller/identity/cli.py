"""`bodyworn restore-key`: look inside a System restore key file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from bodyworn.controller.identity.restore_key import (
    MAX_FILE_SIZE,
    RestoreKeyError,
    describe,
    open_restore_key,
)

restore_key_app = typer.Typer(
    help="Inspect System restore key files (the sealed system identity).",
    no_args_is_help=True,
)


@restore_key_app.callback()
def _group() -> None:
    # A callback keeps `inspect` a subcommand even while it is the only one.
    pass


@restore_key_app.command("inspect")
def inspect_command(
    file: Annotated[Path, typer.Argument(help="The restore key file.", show_default=False)],
    passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--passphrase-file",
            help="Read the super admin passphrase from the first line of this file"
            " instead of asking.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Show what a restore key file holds (never the private key itself)."""
    out = Console()
    err = Console(stderr=True)
    data = _read_bounded(file, err)
    if passphrase_file is not None:
        passphrase = _read_passphrase_file(passphrase_file, err)
    else:
        passphrase = typer.prompt("Super admin passphrase", hide_input=True)
    try:
        contents = open_restore_key(data, passphrase)
    except RestoreKeyError as exc:
        err.print(Text(f"Error: {file}: {exc}", style="bold red"), soft_wrap=True)
        raise typer.Exit(1) from None
    for label, value in describe(contents).items():
        line = Text()
        line.append(f"{label}: ", style="bold")
        line.append(value)
        out.print(line, soft_wrap=True)


def _read_bounded(path: Path, err: Console) -> bytes:
    try:
        with path.open("rb") as handle:
            # One byte past the limit is enough for open_restore_key to refuse it.
            return handle.read(MAX_FILE_SIZE + 1)
    except OSError as exc:
        err.print(Text(f"Error: cannot read {path}: {exc.strerror or exc}", style="bold red"))
        raise typer.Exit(1) from None


def _read_passphrase_file(path: Path, err: Console) -> str:
    try:
        with path.open("rb") as handle:
            raw = handle.read(64 * 1024)
        text = raw.decode("utf-8")
    except OSError as exc:
        err.print(Text(f"Error: cannot read {path}: {exc.strerror or exc}", style="bold red"))
        raise typer.Exit(1) from None
    except UnicodeDecodeError:
        err.print(Text(f"Error: {path} is not UTF-8 text", style="bold red"))
        raise typer.Exit(1) from None
    # Only the line ending goes: spaces may be part of a passphrase.
    return text.splitlines()[0] if text else ""
