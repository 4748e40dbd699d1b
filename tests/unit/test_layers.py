"""The layers point one way, and stay so: every package's imports are checked here, statically (AST).

- `bot/domain` holds the playbook's rules: it never sees Slack, HTTP or the layers above it;
- `blocks` are pure Block Kit builders: no database, no I/O, no use cases;
- `bot/exports` turn domain objects into text or bytes, without Slack or the database;
- `bot/integrations` are outbound calls: they never call back up into use cases or listeners;
- `bot/services` are the use cases: never a listener, and no import cycle among them;
- `bot/listeners` are thin: parse, call one use case, answer — no models, no transactions of their own;
- production code never imports the sandbox (only `triage-bot sandbox`, inside its own function).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ROOTS = ("bot", "blocks")


def modules() -> Iterator[tuple[str, Path]]:
    for top in PRODUCTION_ROOTS:
        for path in sorted((ROOT / top).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            yield name, path


def imports_of(path: Path, *, top_level_only: bool = False) -> set[str]:
    """Every absolute module a file imports (`from a.b import c` counts `a.b` and `a.b.c`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def layer_of(module: str) -> str:
    parts = module.split(".")
    return "blocks" if parts[0] == "blocks" else ".".join(parts[:2])


FORBIDDEN: dict[str, tuple[str, ...]] = {
    "bot.domain": (
        "slack_sdk",
        "slack_bolt",
        "requests",
        "jira",
        "blocks",
        "bot.services",
        "bot.listeners",
        "bot.integrations",
        "bot.exports",
        "bot.sandbox",
        "bot.app",
        "bot.web",
        "bot.config",
    ),
    "blocks": (
        "sqlalchemy",
        "requests",
        "jira",
        "slack_bolt",
        "bot.db",
        "bot.services",
        "bot.listeners",
        "bot.integrations",
        "bot.sandbox",
        "bot.config",
    ),
    "bot.exports": ("slack_sdk", "slack_bolt", "requests", "bot.services", "bot.listeners", "bot.integrations"),
    "bot.integrations": ("bot.services", "bot.listeners", "bot.app", "bot.web", "bot.sandbox"),
    "bot.services": ("slack_bolt", "bot.listeners", "bot.app", "bot.web", "bot.server", "bot.sandbox"),
    "bot.listeners": ("bot.models", "bot.db", "bot.sandbox"),
}


def _violations(layer: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for name, path in modules():
        if layer_of(name) != layer:
            continue
        for imported in sorted(imports_of(path)):
            if any(imported == f or imported.startswith(f + ".") for f in forbidden):
                found.append(f"{name} imports {imported}")
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_each_layer_imports_only_what_is_below_it(layer: str) -> None:
    assert _violations(layer, FORBIDDEN[layer]) == []


def test_listeners_open_no_transaction_of_their_own() -> None:
    offenders = [
        name for name, path in modules() if layer_of(name) == "bot.listeners" and "unit_of_work(" in path.read_text()
    ]
    assert offenders == []


def _graph(prefix: str) -> dict[str, set[str]]:
    names = {name: path for name, path in modules() if name.startswith(prefix)}
    return {name: {i for i in imports_of(path) if i in names and i != name} for name, path in names.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("package", ["bot.services", "bot.domain", "bot.integrations", "blocks", "bot"])
def test_no_import_cycles(package: str) -> None:
    assert _cycles(_graph(package)) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_outbox_never_imports_a_use_case() -> None:
    outbox = ROOT / "bot" / "integrations" / "outbox.py"
    assert not any(i.startswith("bot.services") for i in imports_of(outbox))


def test_production_never_imports_the_sandbox_at_module_level() -> None:
    offenders = [
        name
        for name, path in modules()
        if not name.startswith("bot.sandbox")
        and any(i.startswith("bot.sandbox") for i in imports_of(path, top_level_only=True))
    ]
    assert offenders == []


def test_every_layer_checked_has_modules_and_imports() -> None:
    layers = {layer_of(name) for name, _ in modules()}
    assert set(FORBIDDEN) <= layers, "a layer the rules name was moved or renamed: update FORBIDDEN"
    assert all(imports_of(path) for name, path in modules() if name.endswith(("outbox", "views")))


def test_the_layer_check_catches_a_wrong_import(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text("from bot.services.container import Services\nfrom slack_sdk import WebClient\n")
    assert {"bot.services.container", "slack_sdk"} <= imports_of(planted)
