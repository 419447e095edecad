"""Docs are tested: every CLI command and option and every answers key is documented."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer.main

from bodyworn.cli import app
from bodyworn.controller.setup.answers import ANSWER_KEYS

ROOT = Path(__file__).resolve().parents[1]
DOCS = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def _commands(group: Any, prefix: str) -> list[tuple[str, Any]]:
    found = [(prefix, group)]
    if hasattr(group, "commands"):  # typer vendors its own click: duck-type the group
        for name, sub in group.commands.items():
            found += _commands(sub, f"{prefix} {name}")
    return found


def test_every_command_and_option_is_documented() -> None:
    root = typer.main.get_command(app)
    commands = _commands(root, "bodyworn")
    assert len(commands) >= 6
    for name, command in commands:
        if name == "bodyworn":
            continue
        assert f"`{name}" in DOCS, f"{name} is not documented"
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt not in {"--help", "--install-completion",
                                                        "--show-completion"}:
                    assert opt in DOCS, f"{name} {opt} is not documented"


def test_every_answers_key_is_documented() -> None:
    for key in ANSWER_KEYS:
        assert f"`{key}`" in DOCS, f"answers key {key} is not documented"


def test_readme_keeps_exactly_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme


def test_every_field_of_the_operations_pages_is_documented() -> None:
    """Each form field of Settings → Email notifications, Certificates, API tokens, System
    backup and Firmware, of Support → System reset, of Remote pairing, and the language
    after setup."""
    import re

    controller = ROOT / "src" / "bodyworn" / "controller"
    fields: set[str] = set()
    for folder in ("notifications", "certificates", "tokens", "backup", "reset", "firmware",
                   "assistant_pairing"):
        for template in (controller / folder / "templates").rglob("*.html"):
            fields |= set(re.findall(r'name="([a-z_]+)"', template.read_text()))
    fields -= {"csrf_token", "download", "viewport"}  # viewport: a meta tag, not a field
    fields.add("language")
    assert {"smtp_host", "smtp_password", "key_type", "access", "certificate",
            "interval_hours", "confirm", "firmware", "email"} <= fields
    for name in sorted(fields):
        assert f"`{name}`" in DOCS, f"the setting {name} is not explained in docs/"
