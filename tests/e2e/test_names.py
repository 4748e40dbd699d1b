"""Names, not ids, end to end: in Slack people are mentions and channels links; after a real flow the CLI's export
(Markdown and HTML, read from the same PostgreSQL database without Slack) shows names, and no Slack id or raw message
timestamp."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from bot.clock import ManualClock
from bot.db import unit_of_work
from bot.models import Escalation, EscalationKind, SlackName
from tests.e2e.conftest import AGENT, ONCALL, SUPPORT, Stack, start_stack
from tests.e2e.test_escalation import choose_path
from tests.e2e.test_resolution import RESOLUTION, blocks_of, open_resolve_modal
from tests.e2e.test_triage_workflow import open_incident, wait_for_reply

PM, ENG_CHANNEL = "UPM", "CENGESC"
IDS = re.compile(rf"\b(?:{AGENT}|{ONCALL}|{PM}|{SUPPORT}|{ENG_CHANNEL})\b")
RAW_TS = re.compile(r"\b\d{10}\.\d{6}\b")
BIN = Path(sys.executable).parent / "triage-bot"


@pytest.fixture
def stack(database_url: str, clean_db: Engine, clock: ManualClock) -> Iterator[Stack]:
    running, servers = start_stack(database_url, clean_db, clock, internal_channel_id=ENG_CHANNEL)
    running.emulator.add_user(PM, "priya", real_name="Priya Shah")
    members = [running.emulator.bot_user_id, ONCALL]
    running.emulator.add_channel("eng-escalations", id=ENG_CHANNEL, members=members)
    yield running
    servers[0].stop()
    running.finish_work()
    for server in servers[1:]:
        server.stop()


def export(database_url: str, cwd: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "JIRA_", "DISPLAY_"))}
    env.update(DATABASE_URL=database_url)
    result = subprocess.run(
        [str(BIN), "export", "INC-1", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def notice(stack: Stack) -> Escalation:
    with unit_of_work(stack.services.session_factory) as session:
        return session.scalars(select(Escalation).where(Escalation.kind == EscalationKind.INTERNAL)).one()


def worked_through(stack: Stack) -> str:
    """Open, acknowledge, post the internal notice, resolve with a follow-up for the PM; the root's ts."""
    _, ts = open_incident(stack)
    stack.platform.click_button(ONCALL, "incident_acknowledge", channel_id=SUPPORT, message_ts=ts)
    wait_for_reply(stack, ts, "acknowledged")
    assert choose_path(stack, ts, "internal").status == 200
    stack.wait_while_scheduling(lambda: notice(stack).external_url)  # posted, and its permalink asked for
    modal = open_resolve_modal(stack, ts)
    form = {**RESOLUTION, "follow_up_1_description": "Alert on proxy timeouts", "follow_up_1_owner": PM}
    assert stack.platform.submit_view(modal["id"], AGENT, form).status == 200
    stack.settle()
    return ts


def test_slack_shows_mentions_and_the_export_shows_names(stack: Stack, database_url: str, tmp_path: Path) -> None:
    ts = worked_through(stack)

    summary = blocks_of(stack, ts, "INC-1 summary")
    assert f"On-call <@{ONCALL}> paged" in summary and f"Follow-up for <@{PM}>" in summary
    assert f"Internal notice filed in <#{ENG_CHANNEL}>" in summary
    assert f"Internal notice: filed in <#{ENG_CHANNEL}> (<{notice(stack).external_url}|message>)" in summary
    assert not RAW_TS.findall(summary)
    with unit_of_work(stack.services.session_factory) as session:
        known = {row.slack_id: row.name for row in session.scalars(select(SlackName))}
    assert known == {
        AGENT: "Sam Support",
        ONCALL: "Olu Oncall",
        PM: "Priya Shah",
        SUPPORT: "#support",
        ENG_CHANNEL: "#eng-escalations",
    }
    permalink = notice(stack).external_url

    markdown = export(database_url, tmp_path, "--format", "md")
    assert "| **Opened** |" in markdown and "by Sam Support |" in markdown
    assert "| **Owner** | Olu Oncall |" in markdown
    assert "| bot | oncall paged | On-call Olu Oncall paged |" in markdown
    assert "| Sam Support | follow up added | Follow-up for Priya Shah: Alert on proxy timeouts |" in markdown
    assert "| bot | escalation filed | Internal notice filed in #eng-escalations |" in markdown
    assert f"Internal notice: filed — in [#eng-escalations]({permalink})" in markdown
    html = export(database_url, tmp_path, "--format", "html")
    assert '<td class="who">Olu Oncall</td>' in html and "<dt>Owner</dt><dd>Olu Oncall</dd>" in html
    assert f'in <a href="{permalink}">#eng-escalations</a>' in html
    audit = export(database_url, tmp_path, "--audit", "--format", "md")
    as_json = json.loads(export(database_url, tmp_path, "--format", "json"))
    assert as_json["incident"]["owner_name"] == "Olu Oncall" and as_json["incident"]["owner_id"] == ONCALL
    for document in (markdown, html, audit, "\n".join(e["summary"] for e in as_json["timeline"])):
        shown = re.sub(r'href="[^"]*"|\]\([^)]*\)', "", document)  # the permalink itself holds ids
        assert not IDS.findall(shown), IDS.findall(shown)
        assert not RAW_TS.findall(shown), RAW_TS.findall(shown)
