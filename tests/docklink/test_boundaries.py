"""The dock link is a protocol library: no web framework, no SQL, neither side's code."""

from __future__ import annotations

import ast
from pathlib import Path

import bodyworn.controller
import bodyworn.docklink
from tests.devices.test_boundaries import FORBIDDEN


def _modules(path: Path) -> set[str]:
    """Every module a source file imports, by its full name."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _reaches(modules: set[str], package: str) -> bool:
    return any(m == package or m.startswith(package + ".") for m in modules)


def test_docklink_imports_no_framework_no_sql_and_neither_side() -> None:
    sources = sorted(Path(bodyworn.docklink.__file__).parent.rglob("*.py"))
    assert sources
    for source in sources:
        modules = _modules(source)
        assert not {m.split(".")[0] for m in modules} & FORBIDDEN, source.name
        for other in ("bodyworn.devices", "bodyworn.controller", "bodyworn.store"):
            assert not _reaches(modules, other), f"{source.name} imports {other}"


def test_the_controller_imports_nothing_from_the_simulators() -> None:
    for source in Path(bodyworn.controller.__file__).parent.rglob("*.py"):
        assert not _reaches(_modules(source), "bodyworn.devices"), source
