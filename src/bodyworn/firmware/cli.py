"""`bodyworn firmware`: make a release key, build a signed bundle, check a bundle."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bodyworn.domain.user_files import read_user_file
from bodyworn.firmware.bundle import (
    MAX_BUNDLE_BYTES,
    SUFFIX,
    build_bundle,
    read_bundle,
    version_key,
)
from bodyworn.firmware.keys import (
    KEY_FILE_MAX,
    new_private_key,
    private_key_from_pem,
    trusted_keys,
)

firmware_app = typer.Typer(help="Firmware bundles: release keys, build, check.",
                           no_args_is_help=True)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


@firmware_app.command("keygen")
def keygen(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the private key "
                                           "(PEM, 0600); the public half goes beside it as "
                                           ".pub.pem.", show_default=False)],
) -> None:
    """Make a release key pair (keep the private half offline)."""
    if out_file.exists():
        err.print(f"{out_file} exists; not overwriting it.", markup=False)
        raise typer.Exit(2)
    private, public = new_private_key()
    fd = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private)
    public_file = out_file.with_suffix(".pub.pem")
    public_file.write_bytes(public)
    out.print(f"Private key: {out_file}\nPublic key: {public_file}", markup=False)


@firmware_app.command("build")
def build(
    key: Annotated[Path, typer.Option("--key", help="The release private key (PEM).",
                                      show_default=False)],
    version: Annotated[str, typer.Option("--version", help="The firmware version, "
                                         "such as 10.12.0.3.", show_default=False)],
    camera_image: Annotated[list[str], typer.Option(
        "--camera-image", help="MODEL=FILE: a camera image and the model it is for "
        "(repeat for more).", show_default=False)],
    out_file: Annotated[Path, typer.Option("--out", help=f"The bundle to write ({SUFFIX}).",
                                           show_default=False)],
    notes: Annotated[str, typer.Option("--notes", help="Release notes.")] = "",
) -> None:
    """Build and sign a firmware bundle."""
    try:
        version_key(version)
        signer = private_key_from_pem(read_user_file(key, limit=KEY_FILE_MAX,
                                                     what="release key"))
        images: dict[str, tuple[list[str], bytes]] = {}
        for item in camera_image:
            model, _, path = item.partition("=")
            if not model or not path:
                raise ValueError(f"--camera-image {item!r}: give MODEL=FILE")
            images[Path(path).name.lower()] = ([model], read_user_file(
                Path(path), limit=MAX_BUNDLE_BYTES, what="camera image"))
        data = build_bundle(signer, version, camera_images=images, notes=notes)
    except (OSError, ValueError) as exc:  # UserFileError and BundleRefused are ValueErrors
        err.print(f"Not built: {exc}", markup=False)
        raise typer.Exit(2) from None
    out_file.write_bytes(data)
    out.print(f"{out_file}: firmware {version}, {len(data)} bytes", markup=False)


@firmware_app.command("inspect")
def inspect(
    file: Annotated[Path, typer.Argument(help="The bundle.", show_default=False)],
    public_key: Annotated[Path | None, typer.Option(
        "--public-key", help="Check against this public key instead of the release key.",
        show_default=False)] = None,
) -> None:
    """Check a bundle the way a controller does, and show its manifest."""
    try:
        data = read_user_file(file, limit=MAX_BUNDLE_BYTES, what="firmware file")
        bundle = read_bundle(data, trusted_keys(public_key))
    except (OSError, ValueError) as exc:
        err.print(f"Refused: {exc}", markup=False)
        raise typer.Exit(1) from None
    out.print(f"Firmware {bundle.version} (released {bundle.manifest.released}), "
              f"signed by release key {bundle.key_id}, sha256 {bundle.sha256}", markup=False)
    for part in bundle.manifest.contents:
        out.print(f"  {part.path}: {part.kind} for {', '.join(part.models)}, "
                  f"{part.size} bytes", markup=False)

