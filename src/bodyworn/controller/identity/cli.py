"""`bodyworn restore-key`: look inside a System restore key file."""

from __future__ import annotations

import getpass
import warnings
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
from bodyworn.domain.user_files import UserFileError, read_user_file, read_user_text

# A passphrase is at most 1024 characters (4 bytes each in UTF-8 at most) and a newline.
PASSPHRASE_FILE_MAX = 4 * 1024 + 2

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
        passphrase = _ask_passphrase(err)
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


def _ask_passphrase(err: Console) -> str:
    # Without a terminal getpass warns, then reads the passphrase from stdin where it may
    # be echoed; a file given on purpose is the way to go there.
    with warnings.catch_warnings():
        warnings.simplefilter("error", getpass.GetPassWarning)
        try:
            return str(typer.prompt("Super admin passphrase", hide_input=True))
        except getpass.GetPassWarning:
            err.print(Text("Error: there is no terminal to ask for the super admin passphrase"
                           " on; give it with --passphrase-file FILE.", style="bold red"),
                      soft_wrap=True)
            raise typer.Exit(2) from None


def _read_bounded(path: Path, err: Console) -> bytes:
    try:
        # The file's own limit is checked again, with its words, by open_restore_key.
        return read_user_file(path, limit=MAX_FILE_SIZE, what="restore key file")
    except UserFileError as exc:
        err.print(Text(f"Error: {exc}", style="bold red"), soft_wrap=True)
        raise typer.Exit(1) from None


def _read_passphrase_file(path: Path, err: Console) -> str:
    try:
        text = read_user_text(path, limit=PASSPHRASE_FILE_MAX, what="passphrase file")
    except UserFileError as exc:
        err.print(Text(f"Error: {exc}", style="bold red"), soft_wrap=True)
        raise typer.Exit(1) from None
    # Only the line ending goes: spaces may be part of a passphrase.
    return text.splitlines()[0] if text else ""
