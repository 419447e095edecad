"""`bodyworn evidence`: export recordings with their proof from the embedded CD; verify an
archive offline (docs/integrity.md)."""

from __future__ import annotations

import getpass
import os
import tempfile
from pathlib import Path

import typer
from rich.console import Console

evidence_app = typer.Typer(
    help="Evidence archives: export recordings with their proof, verify an archive offline."
)
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "command line"


@evidence_app.command("export")
def export(
    recordings: list[str] = typer.Argument(..., help="Recording container names."),
    data_dir: Path = typer.Option(
        Path("./bodyworn-cd"), help="Data directory of the embedded content destination."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="The archive to write (.zip)."),
    case: str = typer.Option("", help="A case name, kept in the manifest and the export log."),
    actor: str = typer.Option("", help="Who exports, for the export log (default: you)."),
) -> None:
    """Export one recording, or several as one case, as a verifiable archive."""
    from bodyworn.destination.config import load_destination
    from bodyworn.destination.export import Exporter, ExportRefused
    from bodyworn.destination.recordings import EvidenceReader
    from bodyworn.destination.store import ObjectStore
    from bodyworn.domain.clock import SystemClock
    from bodyworn.evidence.crypto import load_private_key

    try:
        config = load_destination(data_dir)
    except FileNotFoundError:
        err.print(f"No content destination in {data_dir}", markup=False)
        raise typer.Exit(2) from None
    private = (load_private_key((data_dir / config.content_private_key).read_bytes())
               if config.content_private_key is not None else None)
    reader = EvidenceReader(ObjectStore(data_dir / "store"), config.account, private)
    exporter = Exporter(reader, data_dir, config.site_name, SystemClock())
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=".export-", suffix=".zip")
    try:
        with os.fdopen(fd, "wb") as handle:
            result = exporter.export(recordings, handle, actor=actor or _default_actor(),
                                     source="command line", case=case)
        os.replace(tmp, output)
    except ExportRefused as exc:
        Path(tmp).unlink(missing_ok=True)
        err.print(f"Not exported: {exc}", markup=False)
        raise typer.Exit(2) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    out.print(f"Exported {len(result.recordings)} recording(s), {result.files} files and"
              f" {result.audit_entries} audit entries to {output}", markup=False)
    out.print(f"Export {result.export_id}; manifest sha256 {result.manifest_sha256}",
              markup=False)


@evidence_app.command("verify")
def verify(
    archive: Path = typer.Argument(..., help="The evidence archive (.zip)."),
    system_fingerprint: str | None = typer.Option(
        None, help="Trust only the system identity with this certificate fingerprint"
        " (SHA-256, as GET /api/v1/integrity shows it)."),
    private_key: Path | None = typer.Option(
        None, help="The CD's content private key (PEM), to check clips exported encrypted."),
) -> None:
    """Check an evidence archive offline; exit 1 when anything in it does not hold."""
    from bodyworn.evidence.archive import verify_archive
    from bodyworn.evidence.crypto import EvidenceCryptoError, load_private_key

    key = None
    if private_key is not None:
        try:
            key = load_private_key(private_key.read_bytes())
        except (OSError, EvidenceCryptoError, ValueError) as exc:
            err.print(f"Cannot use the private key: {exc}", markup=False)
            raise typer.Exit(2) from None
    if not archive.is_file():
        err.print(f"No archive at {archive}", markup=False)
        raise typer.Exit(2)
    report = verify_archive(archive, system_fingerprint=system_fingerprint, private_key=key)
    for line in report.lines():
        out.print(line, markup=False)
    raise typer.Exit(0 if report.ok else 1)
