"""The CLI is an edge over app/: it never reaches into the engine, even in a function's own imports."""

from __future__ import annotations

import ast
from pathlib import Path

import docbatch.cli

CLI = Path(docbatch.cli.__file__).parent


def _imported_modules(source: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def test_no_cli_module_imports_the_engine() -> None:
    offenders = {
        f"{path.name}: {module}"
        for path in sorted(CLI.glob("*.py"))
        for module in _imported_modules(path)
        if module == "docbatch.engine" or module.startswith("docbatch.engine.")
    }
    assert not offenders


def test_the_engine_installs_no_signal_handlers() -> None:
    engine = CLI.parent / "engine"
    offenders = [path.name for path in engine.glob("*.py") if "add_signal_handler" in path.read_text()]
    assert not offenders
