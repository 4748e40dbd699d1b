"""Listeners stay thin: they parse the payload, call a use case and answer Slack. So no module in bot/listeners
opens a transaction, reads models or holds the rules that need them: none imports `bot.models`, `bot.db` (with
`unit_of_work`), an ORM session, or the domain's `require_open`. (Until tests/unit/test_layers.py checks every
layer, this keeps the listeners' part of it.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bot.listeners

LISTENERS = Path(bot.listeners.__file__).parent
FORBIDDEN_MODULES = ("bot.models", "bot.db", "sqlalchemy.orm", "sqlalchemy.engine", "sqlalchemy.sql")
FORBIDDEN_NAMES = {"unit_of_work", "require_open", "Session", "sessionmaker", "models", "db"}
SQLALCHEMY_ALLOWED = ("sqlalchemy.exc",)  # a database error is answered to the person ("try again")


def listener_modules() -> list[Path]:
    return sorted(LISTENERS.glob("*.py"))


def imports_of(path: Path) -> list[tuple[str, str | None]]:
    """(module, name) for every import in the file: `import a.b` gives ("a.b", None)."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: resolve against bot.listeners
                module = ".".join(["bot", "listeners"][: 3 - node.level] + ([module] if module else []))
            found += [(module, alias.name) for alias in node.names]
    return found


def breaks_the_rules(module: str, name: str | None) -> bool:
    full = f"{module}.{name}" if name else module
    if any(full == m or full.startswith(f"{m}.") for m in FORBIDDEN_MODULES):
        return True
    if module.startswith("sqlalchemy") and not module.startswith(SQLALCHEMY_ALLOWED):
        return True
    return module.startswith("bot") and name in FORBIDDEN_NAMES


def test_there_are_listener_modules_to_check() -> None:
    names = {p.name for p in listener_modules()}
    assert {"actions.py", "views.py", "commands.py", "middleware.py", "events.py"} <= names


@pytest.mark.parametrize("path", listener_modules(), ids=lambda p: p.name)
def test_a_listener_module_opens_no_transaction_and_reads_no_model(path: Path) -> None:
    wrong = [f"{module}:{name}" for module, name in imports_of(path) if breaks_the_rules(module, name)]
    assert wrong == [], f"{path.name} imports what only use cases (bot/services) may: {wrong}"


@pytest.mark.parametrize(
    ("source", "wrong"),
    [
        ("from bot.db import unit_of_work", True),
        ("import bot.models", True),
        ("from bot.models import AttemptOutcome", True),
        ("from bot import models", True),
        ("from bot.domain.lifecycle import require_open", True),
        ("from sqlalchemy.orm import Session", True),
        ("from sqlalchemy import select", True),
        ("from sqlalchemy.exc import SQLAlchemyError", False),
        ("from bot.services import forms", False),
        ("from blocks.ids import IncidentAction", False),
    ],
)
def test_the_check_tells_a_forbidden_import_from_an_allowed_one(tmp_path: Path, source: str, wrong: bool) -> None:
    module = tmp_path / "listener.py"
    module.write_text(source + "\n")
    assert any(breaks_the_rules(m, n) for m, n in imports_of(module)) is wrong
