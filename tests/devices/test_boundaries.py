"""The simulators are libraries: no web framework, no SQL."""

from __future__ import annotations

import ast
from pathlib import Path

import bodyworn.devices

FORBIDDEN = {"fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "aiosqlite", "jinja2"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_devices_import_no_web_framework_and_no_sql() -> None:
    package = Path(bodyworn.devices.__file__).parent
    sources = sorted(package.rglob("*.py"))
    assert sources
    for source in sources:
        assert not _imports(source) & FORBIDDEN, source.name


def test_devices_do_not_reach_into_the_controller() -> None:
    package = Path(bodyworn.devices.__file__).parent
    for source in package.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        assert "bodyworn.controller" not in text, source.name
        assert "bodyworn.store" not in text, source.name
