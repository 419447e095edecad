"""The shape of the code stays as docs/architecture.md says: layers, no hidden cycles, sizes.

The layer rules themselves are import-linter contracts in pyproject.toml; this runs them
(in make test, so CI refuses work that breaks them) and checks what a contract cannot say.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "bodyworn"
MAX_CLASS_LINES = 400
MAX_FUNCTION_LINES = 80


def _sources(under: Path) -> Iterator[Path]:
    for path in sorted(under.rglob("*.py")):
        if "migrations" not in path.relative_to(SRC).parts:
            yield path


def test_the_import_linter_contracts_are_kept() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
                               "sys.exit(lint_imports(no_cache=True))"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def _nested_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in top:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) \
                else [node.module or ""]
            if any(n == "bodyworn" or n.startswith("bodyworn.") for n in names):
                yield node


def test_the_controller_imports_its_own_modules_at_the_top_only() -> None:
    # A function-local import (or one under TYPE_CHECKING) hides a cycle between folders.
    found = [f"{path.relative_to(ROOT)}:{node.lineno}"
             for path in _sources(SRC / "controller")
             for node in _nested_imports(ast.parse(path.read_text(encoding="utf-8")))]
    assert found == []


def _long(tree: ast.Module) -> Iterator[tuple[str, int, int]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            lines = node.end_lineno - node.lineno + 1
            limit = MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES
            if lines > limit:
                yield node.name, node.lineno, lines


def test_no_class_over_400_lines_and_no_function_over_80() -> None:
    found = [f"{path.relative_to(ROOT)}:{line} {name} ({lines} lines)"
             for path in _sources(SRC)
             for name, line, lines in _long(ast.parse(path.read_text(encoding="utf-8")))]
    assert found == []


def test_the_checks_find_what_they_look_for() -> None:
    # The two checks above would pass on anything if their walks were wrong.
    tree = ast.parse("import os\n\ndef f():\n    from bodyworn.domain import clock\n"
                     "    return clock\n\nclass C:\n" + "    x = 1\n" * 400)
    assert [n.lineno for n in _nested_imports(tree)] == [4]
    assert [(name, lines) for name, _, lines in _long(tree)] == [("C", 401)]
