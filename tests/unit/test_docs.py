"""The docs stay true: the README short with its two commands, every relative link resolving (file and heading),
the configuration reference in step with `Settings`, and every variable or code name the docs mention existing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import Settings
from bot.domain.workspace_settings import SETTABLE

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
CONFIGURATION = ROOT / "docs" / "configuration.md"

# The README's two commands, byte for byte: CI (`.ci/run`) runs the second one's steps.
SANDBOX_COMMAND = "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/triage-bot sandbox"
TEST_COMMAND = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && scripts/test"

# Variables in the configuration table that are not `Settings` fields, and who reads them.
NOT_SETTINGS = {"PROMETHEUS_MULTIPROC_DIR": ROOT / "bot" / "observability" / "metrics.py"}
# Defaults the table describes in words rather than as a value.
DESCRIBED_DEFAULTS = {"SLACK_SCOPES"}

FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.M)
ENV_NAME = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


def _prose(page: Path) -> str:
    """The page without its fenced code blocks (a `# comment` in a code block is no heading, a link in one no link)."""
    return FENCE.sub("", page.read_text(encoding="utf-8"))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text lower-cased, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text
    text = re.sub(r"[`*]", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for match in HEADING.finditer(_prose(page)):
        slug = _slug(match.group(2))
        anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def _relative_links(page: Path) -> list[str]:
    targets = [match.group(1) for match in LINK.finditer(_prose(page))]
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, flags=re.I)]


def test_the_readme_reads_in_five_minutes() -> None:
    assert len(README.read_text(encoding="utf-8").encode()) < 12_000


def test_the_readme_starts_with_the_two_commands_as_ci_runs_them() -> None:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"^```bash\n(.*?)\n```", text, flags=re.M | re.S)
    assert blocks[:2] == [SANDBOX_COMMAND, TEST_COMMAND]
    assert text.index(SANDBOX_COMMAND) < text.index("## A tour")
    assert (ROOT / "scripts" / "test").exists() and "scripts/test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_points_at_a_file_and_heading_in_the_repository(page: Path) -> None:
    broken = []
    for target in _relative_links(page):
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            broken.append(f"{target}: no such file in the repository")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"


def test_the_link_checker_sees_links_and_headings_as_github_renders_them(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Closing the loop (the playbook's Internal Documentation & Product Feedback)\n"
        "## Try it: `triage-bot sandbox`\n## Notes\n## Notes\n"
        "```yaml\n# not a heading\n```\n"
        "See [a](other.md#x), ![b](img.png), [c](https://example.com), <http://x> and [d](#notes-1).\n",
        encoding="utf-8",
    )
    assert _anchors(page) == {
        "closing-the-loop-the-playbooks-internal-documentation--product-feedback",
        "try-it-triage-bot-sandbox",
        "notes",
        "notes-1",
    }
    assert _relative_links(page) == ["other.md#x", "img.png", "#notes-1"]


def test_no_page_points_outside_the_repository_to_a_design_document() -> None:
    mentions = [p.relative_to(ROOT).as_posix() for p in PAGES if "DESIGN.md" in p.read_text(encoding="utf-8")]
    assert not mentions


def _configuration_rows() -> dict[str, str]:
    """The configuration table: variable -> its default cell (one variable per row)."""
    rows: dict[str, str] = {}
    for line in CONFIGURATION.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not re.fullmatch(r"`[A-Z][A-Z0-9_]*`", cells[0]):
            continue
        name = cells[0].strip("`")
        assert name not in rows, f"{name} is listed twice"
        rows[name] = cells[1]
    return rows


def _setting_names() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def test_every_setting_is_in_the_configuration_reference_and_nothing_else_but_known_variables() -> None:
    listed = set(_configuration_rows())
    assert _setting_names() - listed == set(), "settings missing from docs/configuration.md"
    assert listed - _setting_names() == set(NOT_SETTINGS), "variables in docs/configuration.md that nothing reads"
    for name, reader in NOT_SETTINGS.items():
        assert name in reader.read_text(encoding="utf-8")


def test_the_defaults_in_the_configuration_reference_are_the_settings_defaults() -> None:
    described = set()
    for name, cell in _configuration_rows().items():
        if name not in _setting_names():
            continue
        default = Settings.model_fields[name.lower()].default
        value = re.match(r"^`([^`]*)`", cell)
        if value is not None:
            shown = value.group(1)
            if isinstance(default, int | float) and not isinstance(default, bool):
                assert float(shown) == default, f"{name}: the table says {shown}, Settings {default}"
            else:
                assert shown == default, f"{name}: the table says {shown}, Settings {default!r}"
        elif cell.startswith(("unset", "—")):
            assert default is None, f"{name}: the table says unset, Settings {default!r}"
        elif cell.startswith("empty"):
            assert default == "", f"{name}: the table says empty, Settings {default!r}"
        else:
            described.add(name)
    assert described == DESCRIBED_DEFAULTS


def test_the_settings_listed_as_set_in_slack_are_the_ones_the_settings_form_offers() -> None:
    section = CONFIGURATION.read_text(encoding="utf-8").split("## Set per workspace in Slack", 1)[1].split("\n## ")[0]
    assert set(re.findall(r"`([A-Z][A-Z0-9_]+)`", section)) == {s.env_name for s in SETTABLE}


def test_every_variable_or_constant_the_docs_name_exists() -> None:
    """A renamed setting or constant left behind in the docs: each UPPER_SNAKE name is a setting or appears in code."""
    code = "\n".join(
        path.read_text(encoding="utf-8")
        for folder in ("bot", "blocks", "migrations", "tests", "benchmarks")
        for path in (ROOT / folder).rglob("*.py")
        if path.resolve() != Path(__file__).resolve()
    )
    unknown = {
        f"{page.relative_to(ROOT)}: {name}"
        for page in PAGES
        for name in ENV_NAME.findall(page.read_text(encoding="utf-8"))
        if name not in _setting_names() and not re.search(rf"\b{name}\b", code)
    }
    assert not unknown


def test_the_docs_the_code_points_people_at_exist() -> None:
    pointers = {
        match
        for path in [*(ROOT / "bot").rglob("*.py"), ROOT / "docker-compose.yml", ROOT / "Dockerfile"]
        for match in re.findall(r"\bdocs/[\w.-]+\.md", path.read_text(encoding="utf-8"))
    }
    assert pointers and all((ROOT / pointer).exists() for pointer in pointers), pointers
