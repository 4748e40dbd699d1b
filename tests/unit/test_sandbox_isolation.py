"""Production code never imports the sandbox (only `triage-bot sandbox` does, inside its own function), and the
layers import only inwards: the domain knows nothing of Slack or the outside world, blocks do no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"


def imports_of(path: Path, *packages: str) -> list[tuple[int, bool]]:
    """(line, at module level) of every import of one of `packages` (or a module inside one) in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        if any(name == package or name.startswith(package + ".") for name in names for package in packages):
            found.append((node.lineno, id(node) in top_level))
    return found


def sandbox_imports(path: Path) -> list[tuple[int, bool]]:
    return imports_of(path, "bot.sandbox")


def test_production_modules_do_not_import_the_sandbox() -> None:
    production = [p for p in BOT.rglob("*.py") if "sandbox" not in p.relative_to(BOT).parts]
    offenders = {str(p.relative_to(BOT)): sandbox_imports(p) for p in production if p.name != "cli.py"}
    assert {name: lines for name, lines in offenders.items() if lines} == {}


def test_the_cli_imports_the_sandbox_only_inside_the_sandbox_command() -> None:
    imports = sandbox_imports(BOT / "cli.py")
    assert imports and not any(top_level for _, top_level in imports)


def _offenders(layer: str, *packages: str) -> dict[str, list[tuple[int, bool]]]:
    found = {str(p.relative_to(BOT)): imports_of(p, *packages) for p in (BOT / layer).rglob("*.py")}
    return {name: lines for name, lines in found.items() if lines}


def test_the_domain_imports_neither_slack_nor_the_outer_layers() -> None:
    outer = ("bot.integrations", "bot.services", "bot.listeners", "blocks", "bot.web", "bot.app")
    assert _offenders("domain", "slack_sdk", "slack_bolt", *outer) == {}


def test_blocks_are_pure_builders() -> None:
    assert _offenders("blocks", "bot.integrations", "bot.services", "bot.listeners", "bot.db", "sqlalchemy") == {}
