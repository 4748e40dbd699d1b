"""Production code never imports the sandbox: only `triage-bot sandbox` does, inside its own function."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"


def sandbox_imports(path: Path) -> list[tuple[int, bool]]:
    """(line, at module level) of every import of `bot.sandbox…` in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        if any(name == "bot.sandbox" or name.startswith("bot.sandbox.") for name in names):
            found.append((node.lineno, id(node) in top_level))
    return found


def test_production_modules_do_not_import_the_sandbox() -> None:
    production = [p for p in BOT.rglob("*.py") if "sandbox" not in p.relative_to(BOT).parts]
    offenders = {str(p.relative_to(BOT)): sandbox_imports(p) for p in production if p.name != "cli.py"}
    assert {name: lines for name, lines in offenders.items() if lines} == {}


def test_the_cli_imports_the_sandbox_only_inside_the_sandbox_command() -> None:
    imports = sandbox_imports(BOT / "cli.py")
    assert imports and not any(top_level for _, top_level in imports)
