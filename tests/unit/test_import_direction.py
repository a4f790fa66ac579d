"""Imports run one way (ARCHITECTURE.md, "Import direction"): a module never imports a layer above it.

Read from the source (every import statement, including those inside functions and under
TYPE_CHECKING), so a lazy import cannot hide a wrong direction.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "docbatch"


def imported_modules(package: str) -> dict[str, set[str]]:
    """``docbatch.<package>`` module file (relative to docbatch/) -> the docbatch modules it imports."""
    found: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[str(path.relative_to(PACKAGE))] = {name for name in names if name.startswith("docbatch.")}
    return found


def wrong_imports(package: str, forbidden: tuple[str, ...]) -> list[str]:
    """``module -> import`` for each import of ``package`` that reaches into a ``forbidden`` package."""
    prefixes = tuple(f"docbatch.{name}" for name in forbidden)
    return [
        f"{module} -> {name}"
        for module, names in imported_modules(package).items()
        for name in sorted(names)
        if name in prefixes or name.startswith(tuple(prefix + "." for prefix in prefixes))
    ]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("report", ("engine", "executors", "cli", "app")),
        ("processors", ("engine", "checkpoint", "cli", "app")),
        ("executors", ("engine", "cli", "app")),
        ("checkpoint", ("engine", "executors", "cli", "app", "report")),
    ],
)
def test_lower_layers_never_import_upper_ones(package: str, forbidden: tuple[str, ...]) -> None:
    assert wrong_imports(package, forbidden) == []


def test_the_cli_reaches_the_engine_only_through_the_use_cases() -> None:
    assert wrong_imports("cli", ("engine",)) == []


def test_the_server_reaches_the_engine_only_through_the_use_cases() -> None:
    assert wrong_imports("server", ("engine", "executors", "cli")) == []


def test_only_the_server_imports_the_web_libraries() -> None:
    # `docbatch run` must not pay for them at start-up, and a plain install need not have them.
    web = ("fastapi", "uvicorn", "starlette", "sse_starlette", "aiofiles", "prometheus_client", "python_multipart")
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.relative_to(PACKAGE).parts[0] == "server" or path.name == "serve_cmd.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {name}" for name in names if name.split(".")[0] in web]
    assert offenders == []


def test_the_check_sees_a_wrong_import() -> None:
    # report/ imported engine/ before progress.py moved there: the check must be able to see that.
    assert wrong_imports("engine", ("report",)) != []


def test_the_engine_installs_no_signal_handlers() -> None:
    # Process signals belong to the CLI edge (cli/signals.py): a server or a worker embeds the engine.
    engine = PACKAGE / "engine"
    offenders = [path.name for path in engine.glob("*.py") if "add_signal_handler" in path.read_text()]
    assert offenders == []
