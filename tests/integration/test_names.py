"""The directory of names on PostgreSQL: learned from the Slack emulator for the ids an incident names, refreshed
after a day, an id Slack can't name kept as the id; older events that held bare ids and raw timestamps render by
name too."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from bot.clock import ManualClock
from bot.config import load_settings
from bot.db import unit_of_work
from bot.domain.audit import record_event
from bot.domain.names import names_for, remember_name
from bot.domain.summary import build_audit_trail, build_summary
from bot.exports import audit_html, audit_markdown, summary_html, summary_json, summary_markdown
from bot.models import Escalation, EscalationKind, EscalationState, FollowUp, Incident, SlackName
from bot.sandbox.emulator import SlackEmulator
from bot.services.container import Services
from bot.services.names import learn_names
from bot.services.wiring import build_services
from tests.builders import open_test_incident
from tests.conftest import T0

ZONE = ZoneInfo("UTC")
BIN = Path(sys.executable).parent / "triage-bot"
SLACK_ID = re.compile(r"\b(?:UREP|UONCALL|UPM|CSUPPORT|CENGESC|SONCALL)\b")
RAW_TS = re.compile(r"\d{10}\.\d{6}")


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    emulator = SlackEmulator()
    emulator.add_user("UREP", "rae", real_name="Rae Chen")
    emulator.add_user("UONCALL", "olu", real_name="Olu Adeyemi")
    emulator.add_user("UPM", "priya", real_name="Priya <Shah> & Co")
    emulator.add_channel("support", id="CSUPPORT", members=["UREP", emulator.bot_user_id])
    emulator.add_channel("eng-escalations", id="CENGESC", members=[emulator.bot_user_id])
    emulator.add_usergroup("SONCALL", "oncall-team", ["UONCALL"])
    server = emulator.serve()
    yield emulator
    server.stop()


@pytest.fixture
def services(database_url: str, clean_db: Engine, clock: ManualClock, slack: SlackEmulator) -> Services:
    settings = load_settings(
        slack_bot_token=slack.bot_token,
        slack_signing_secret="secret",
        slack_api_url=slack.api_url,
        database_url=database_url,
    )
    return build_services(settings, clock=clock, engine=clean_db)


def names(services: Services) -> dict[str, str | None]:
    with unit_of_work(services.session_factory) as session:
        return {row.slack_id: row.name for row in session.scalars(select(SlackName))}


def test_the_names_an_incident_needs_are_learned_once_and_refreshed_after_a_day(
    services: Services, slack: SlackEmulator, clock: ManualClock
) -> None:
    incident_id = open_test_incident(services.session_factory, "names", now=clock.now(), oncall_id="SONCALL")
    with unit_of_work(services.session_factory) as session:
        session.get_one(Incident, incident_id).owner_id = "UONCALL"
        session.add(
            FollowUp(incident_id=incident_id, description="x", owner_id="UGONE", created_by="UREP", created_at=T0)
        )

    assert learn_names(services, incident_id) == 5
    assert names(services) == {
        "UREP": "Rae Chen",
        "UONCALL": "Olu Adeyemi",
        "SONCALL": "@oncall-team",
        "CSUPPORT": "#support",
        "UGONE": None,  # Slack doesn't know them: shown as the id, asked again tomorrow
    }
    asked = len(slack.calls())
    assert learn_names(services, incident_id) == 0 and len(slack.calls()) == asked, "fresh names are not asked again"

    slack.add_user("UGONE", "gone", real_name="Gwen Back")
    clock.advance(timedelta(days=1, minutes=1))
    assert learn_names(services, incident_id) == 5
    assert names(services)["UGONE"] == "Gwen Back"


def test_an_error_slack_may_get_over_stops_the_lookups_and_keeps_what_was_learned(
    services: Services, slack: SlackEmulator, clock: ManualClock
) -> None:
    incident_id = open_test_incident(services.session_factory, "outage", now=clock.now())
    slack.fail_next("users.info", "internal_error")  # ids are asked in order: CSUPPORT, UONCALL, UREP
    assert learn_names(services, incident_id) == 1
    assert names(services) == {"CSUPPORT": "#support"}, "not known is not the same as not asked"
    assert learn_names(services, incident_id) == 2 and names(services)["UONCALL"] == "Olu Adeyemi"


def test_older_events_with_bare_ids_and_raw_timestamps_render_by_name(
    services: Services, slack: SlackEmulator, clock: ManualClock
) -> None:
    incident_id = open_test_incident(services.session_factory, "legacy", now=clock.now(), oncall_id=None)
    with unit_of_work(services.session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        session.add(
            Escalation(
                incident_id=incident_id,
                kind=EscalationKind.INTERNAL,
                state=EscalationState.FILED,
                requested_by="UREP",
                requested_at=T0,
                external_ref="CENGESC",
                external_url="https://example.slack.com/archives/CENGESC/p1796619852226045",
                details={"ts": "1796619852.226045"},
                idempotency_key="legacy-notice",
            )
        )
        old_events = [  # as versions before references stored them
            ("oncall_paged", "On-call UONCALL paged", {"oncall_id": "UONCALL"}),
            ("follow_up_added", "Follow-up for UPM: Alert on timeouts", {"owner": "UPM", "due_on": None}),
            (
                "escalation_filed",
                "Internal notice filed in <#CENGESC>: 1796619852.226045",
                {"kind": "internal", "ref": "1796619852.226045", "url": None, "where": "<#CENGESC>"},
            ),
            ("step", "Typed: <@UPM> and UREP", {"description": "typed"}),
        ]
        for kind, summary, details in old_events:
            record_event(
                session=session, incident=incident, at=T0, actor_id="UREP", kind=kind, summary=summary, details=details
            )
    learn_names(services, incident_id)
    with unit_of_work(services.session_factory) as session:
        summary = build_summary(session=session, incident_id=incident_id, now=clock.now())
        trail = build_audit_trail(session=session, incident_id=incident_id)

    markdown, html = summary_markdown(summary, zone=ZONE), summary_html(summary, zone=ZONE)
    assert "On-call Olu Adeyemi paged" in markdown and "Follow-up for Priya \\<Shah\\> & Co: Alert" in markdown
    assert "| Internal notice filed in #eng-escalations |" in markdown
    assert "Internal notice: filed — in [#eng-escalations](https://example.slack.com/archives/" in markdown, markdown
    assert "Follow-up for Priya &lt;Shah&gt; &amp; Co: Alert on timeouts" in html
    assert '<a href="https://example.slack.com/archives/CENGESC/p1796619852226045">#eng-escalations</a>' in html
    # What someone typed stays as typed: a forged mention is not a reference, an unknown id not a name.
    assert "| Typed: \\<@UPM\\> and UREP |" in markdown and "Typed: &lt;@UPM&gt; and UREP" in html
    for document in (markdown, html, audit_markdown(trail, zone=ZONE), audit_html(trail, zone=ZONE)):
        shown = document.replace("\\<@UPM\\> and UREP", "").replace("&lt;@UPM&gt; and UREP", "")
        shown = re.sub(r'href="[^"]*"|\]\([^)]*\)', "", shown)  # the permalink itself holds ids
        assert not SLACK_ID.findall(shown), SLACK_ID.findall(shown)
        assert not RAW_TS.findall(shown)
    assert "Olu Adeyemi" in summary_json(summary)


def test_names_prefer_the_incidents_own_workspace(services: Services, clock: ManualClock) -> None:
    with unit_of_work(services.session_factory) as session:
        remember_name(session, team_id="TOTHER", slack_id="UONE", name="Other Name", now=clock.now())
        remember_name(session, team_id="THOME", slack_id="UONE", name="Home Name", now=clock.now())
        remember_name(session, team_id="TOTHER", slack_id="UTWO", name="Only Elsewhere", now=clock.now())
        assert names_for(session, ["UONE", "UTWO", "bot", None], team_id="THOME") == {
            "UONE": "Home Name",
            "UTWO": "Only Elsewhere",
        }


def test_the_cli_names_who_is_on_call(
    services: Services, database_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    rotation = tmp_path / "oncall.yaml"
    rotation.write_text(
        "teams:\n  - name: platform\n    timezone: UTC\n    starts_on: 2020-01-06\n    members: [UONCALL]\n"
        "  - name: uploads\n    timezone: UTC\n    starts_on: 2020-01-06\n    members: [UNEWCOMER]\n",
        encoding="utf-8",
    )
    with unit_of_work(services.session_factory) as session:
        remember_name(session, team_id=None, slack_id="UONCALL", name="Olu Adeyemi", now=clock.now())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "JIRA_", "ONCALL_"))}
    env["DATABASE_URL"] = database_url
    for args in (["oncall", "load", str(rotation)], ["oncall", "show"]):
        shown = subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True, timeout=60, check=False)
        assert shown.returncode == 0, shown.stderr
    lines = shown.stderr.splitlines()  # the CLI talks to people on stderr
    assert lines == ["platform: Olu Adeyemi", "uploads: UNEWCOMER"], "the id only when no name is known"
