"""Names, not ids: how audit summaries refer to people and channels, and how each surface shows them (mentions in
Slack, names in Markdown, HTML and JSON, the id only when no name is known), escaped wherever they land."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from blocks.summary import entry_line
from blocks.text import said
from bot.db import make_engine, make_session_factory, unit_of_work
from bot.domain.names import (
    Ref,
    display_name,
    event_refs,
    ids_to_learn,
    kind_of,
    names_for,
    person_token,
    pieces,
    plain_text,
    remember_name,
    shown_summary,
)
from bot.domain.summary import AuditEntry
from bot.exports import audit_html, audit_json, audit_markdown
from bot.integrations.names import ask_names, person_name
from bot.integrations.slack import SlackGateway, build_web_client
from bot.models import Base
from bot.sandbox.demo import AGENT, ESCALATIONS, PM, SUPPORT, seed_workspace
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.wsgi_server import start_background_server
from tests.conftest import T0
from tests.unit.test_summary_formats import a_trail, an_entry

UTC_ZONE = ZoneInfo("UTC")


def entry(summary: str, refs: set[str], **changes: Any) -> AuditEntry:
    return replace(an_entry(1, summary), refs=frozenset(refs), **changes)


# --- references in a summary -------------------------------------------------------------------------------


def test_only_the_ids_an_event_lists_are_references() -> None:
    text = "On-call <@U0ONCALL> paged; typed: <@U0PM> <!subteam^S1X|team> in <#C0ENG|eng> and U0LEAD"
    assert pieces(text, {"U0ONCALL", "C0ENG", "U0LEAD", "S1X"}) == [
        "On-call ",
        Ref("U0ONCALL"),
        " paged; typed: <@U0PM> ",
        Ref("S1X"),
        " in ",
        Ref("C0ENG"),
        " and ",
        Ref("U0LEAD"),
    ]
    assert pieces("nothing here", set()) == ["nothing here"]
    assert [p.kind for p in pieces("<@W1X> <!subteam^S1X> <#G1X>", {"W1X", "S1X", "G1X"}) if isinstance(p, Ref)] == [
        "user",
        "usergroup",
        "channel",
    ]


def test_a_bare_id_inside_a_forged_token_or_a_word_is_not_a_reference() -> None:
    assert pieces("<@U0PM> XU0PMX U0PM_ U0PMS", {"U0PM"}) == [Ref("U0PM"), " XU0PMX U0PM_ U0PMS"]
    assert pieces("<@U0PMX> <#U0PM>", {"U0PM"}) == ["<@U0PMX> <#U0PM>"]


def test_older_events_refer_to_the_ids_their_details_name() -> None:
    assert event_refs({"refs": ["U1AB", "C1AB", "bot", 7]}) == {"U1AB", "C1AB"}
    assert event_refs({"oncall_id": "U0ONCALL"}) == {"U0ONCALL"}
    assert event_refs({"owner": "U0PM", "due_on": None}) == {"U0PM"}
    assert event_refs({"where": "<#C0ENGESC>", "ref": "1796619852.226045"}) == {"C0ENGESC"}
    assert event_refs({"where": "Jira", "ref": "ENG-1"}) == frozenset()
    assert event_refs({"description": "U0PM", "reason": "CDN"}) == frozenset(), "typed text names nobody"


@pytest.mark.parametrize(
    ("kind", "summary", "ref", "shown"),
    [
        ("escalation_filed", "Internal notice filed in <#C0E>: 1796619852.226045", "1796619852.226045", "Internal notice filed in <#C0E>"),
        ("escalation_filed", "Incident management filed in <#C0MAJ>: C0MAJ", "C0MAJ", "Incident management filed in <#C0MAJ>"),
        ("escalation_filed", "Engineering handoff (Jira) filed in Jira: ENG-4", "ENG-4", "Engineering handoff (Jira) filed in Jira: ENG-4"),
        ("note", "Seen at 1796619852.226045", "1796619852.226045", "Seen at 1796619852.226045"),
    ],
)  # fmt: skip
def test_a_filed_escalation_never_shows_a_raw_timestamp(kind: str, summary: str, ref: str, shown: str) -> None:
    assert shown_summary(kind, summary, {"ref": ref}) == shown


def test_names_fall_back_to_the_id_only_when_none_is_known() -> None:
    names = {"U0OLU": "Olu Adeyemi", "C0ENG": "#eng-escalations"}
    text = f"On-call {person_token('U0OLU')} and {person_token('U0NEW')} in <#C0ENG>"
    assert plain_text(text, {"U0OLU", "U0NEW", "C0ENG"}, names) == "On-call Olu Adeyemi and U0NEW in #eng-escalations"
    assert (display_name("U0OLU", names), display_name("bot", names), display_name(None, names)) == (
        "Olu Adeyemi",
        "bot",
        "—",
    )
    assert [kind_of(i) for i in ("U0PM", "S0TEAM", "C0SUP", "bot", "u0pm", "U1", "")] == [
        "user",
        "usergroup",
        "channel",
        None,
        None,
        None,
        None,
    ]


# --- Slack: mentions and channel links ---------------------------------------------------------------------


def test_slack_shows_references_as_mentions_and_everything_else_as_escaped_text() -> None:
    text = "Follow-up for <@U0PM>: fix <#C0X> & <!channel> <@U0EVIL> in <#C0ENG>, <!subteam^S0OPS>"
    shown = said(text, {"U0PM", "C0ENG", "S0OPS"}, 300)
    assert shown == (
        "Follow-up for <@U0PM>: fix &lt;#C0X&gt; &amp; &lt;!channel&gt; &lt;@U0EVIL&gt; in <#C0ENG>, <!subteam^S0OPS>"
    )


@pytest.mark.parametrize("limit", range(0, 40))
def test_slack_summaries_stay_within_their_limit_and_never_cut_a_mention(limit: int) -> None:
    shown = said("On-call <@U0ONCALL> paged & <b>more</b> text", {"U0ONCALL"}, limit)
    assert len(shown) <= limit
    assert "<@U0ONCALL" not in shown or "<@U0ONCALL>" in shown
    assert "&" not in shown.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")


def test_the_slack_timeline_mentions_who_an_entry_refers_to() -> None:
    line = entry_line(entry("On-call <@U0ONCALL> paged; typed <@U0X>", {"U0ONCALL"}), UTC_ZONE)
    assert "· <@UOWNER> · On-call <@U0ONCALL> paged; typed &lt;@U0X&gt;" in line


# --- exports: names, escaped -------------------------------------------------------------------------------

HOSTILE_NAMES = {"UOWNER": "Owen <b>Owner</b> *x*", "U0PM": "Priya_Shah [1](https://evil.example)", "C0E": "#eng|esc"}


def test_markdown_shows_names_escaped_and_the_id_when_no_name_is_known() -> None:
    trail = replace(a_trail((entry("Follow-up for <@U0PM> in <#C0E> for <@U0NEW>", {"U0PM", "C0E", "U0NEW"}),)))
    document = audit_markdown(replace(trail, names=HOSTILE_NAMES), zone=UTC_ZONE)
    row = next(line for line in document.splitlines() if line.startswith("| 1 |"))
    assert row == (
        r"| 1 | 2026-11-30 09:01 UTC | Owen \<b\>Owner\</b\> \*x\* | step | Follow-up for Priya\_Shah \[1\](https://evil.example)"
        r" in #eng\|esc for U0NEW |"
    )


def test_html_shows_names_escaped() -> None:
    trail = a_trail((entry("Follow-up for <@U0PM> in <#C0E>", {"U0PM", "C0E"}),))
    document = audit_html(replace(trail, names=HOSTILE_NAMES), zone=UTC_ZONE)
    assert '<td class="who">Owen &lt;b&gt;Owner&lt;/b&gt; *x*</td>' in document
    assert "Follow-up for Priya_Shah [1](https://evil.example) in #eng|esc</td>" in document
    assert "<b>" not in document


def test_json_keeps_the_ids_and_adds_the_names() -> None:
    trail = a_trail((entry("Follow-up for <@U0PM>", {"U0PM"}, actor_id="U0NEW"),))
    [part] = json.loads(audit_json(replace(trail, names={"U0PM": "Priya Shah"})))["entries"]
    assert (part["actor_id"], part["actor_name"], part["summary"]) == ("U0NEW", None, "Follow-up for Priya Shah")


# --- what Slack calls an id --------------------------------------------------------------------------------


@pytest.fixture
def gateway() -> Iterator[tuple[SlackEmulator, SlackGateway]]:
    emulator = SlackEmulator()
    emulator.add_user("U0SAM", "sam", real_name="Sam Rivera")
    emulator.add_user("U0NOREAL", "handle")
    emulator.add_channel("eng-escalations", id="C0ENG", members=[emulator.bot_user_id])
    emulator.add_channel("private-room", id="G0PRIV", members=["U0SAM"], is_private=True)
    emulator.add_usergroup("S0OPS", "ops-team", ["U0SAM"])
    server = start_background_server(emulator)
    emulator.base_url = server.url
    yield emulator, SlackGateway(build_web_client(token=emulator.bot_token, base_url=emulator.api_url))
    server.stop()


def test_slack_names_people_channels_and_user_groups_and_says_when_it_does_not_know(
    gateway: tuple[SlackEmulator, SlackGateway],
) -> None:
    emulator, slack = gateway
    answers = ask_names(slack, ["U0SAM", "U0NOREAL", "C0ENG", "G0PRIV", "S0OPS", "S0GONE", "U0GONE"])
    assert answers == {
        "U0SAM": "Sam Rivera",
        "U0NOREAL": "handle",
        "C0ENG": "#eng-escalations",
        "G0PRIV": None,  # a private channel the bot is not in: Slack won't say
        "S0OPS": "@ops-team",
        "S0GONE": None,
        "U0GONE": None,
    }
    assert len(emulator.calls("usergroups.list")) == 1, "one call names every user group"


def test_a_persons_name_is_their_full_name_then_display_name_then_handle() -> None:
    assert person_name({"name": "sam", "real_name": "Sam R", "profile": {"real_name": "Sam Rivera"}}) == "Sam Rivera"
    assert person_name({"name": "sam", "profile": {"display_name": "Sammy", "real_name": " "}}) == "Sammy"
    assert person_name({"name": "sam", "profile": {}}) == "sam"
    assert person_name({}) is None


def test_the_sandbox_answers_with_the_demo_peoples_names() -> None:
    emulator = SlackEmulator()
    seed_workspace(emulator)
    server = start_background_server(emulator)
    emulator.base_url = server.url
    try:
        slack = SlackGateway(build_web_client(token=emulator.bot_token, base_url=emulator.api_url))
        answers = ask_names(slack, [AGENT.id, PM.id, SUPPORT.id, ESCALATIONS.id])
    finally:
        server.stop()
    assert answers == {
        AGENT.id: "Sam Rivera",
        PM.id: "Priya Shah",
        SUPPORT.id: "#support",
        ESCALATIONS.id: "#eng-escalations",
    }


def test_the_directory_works_on_sqlite_too(tmp_path: Path) -> None:
    """The sandbox's and the CLI's default database: the same upsert and lookup as on PostgreSQL."""
    engine = make_engine(f"sqlite:///{tmp_path / 'names.db'}")
    Base.metadata.create_all(engine)
    with unit_of_work(make_session_factory(engine)) as session:
        remember_name(session, team_id=None, slack_id="U0PM", name="Priya", now=T0)
        remember_name(session, team_id=None, slack_id="U0PM", name="Priya Shah", now=T0 + timedelta(days=2))
        remember_name(session, team_id=None, slack_id="U0GONE", name=None, now=T0)
        assert names_for(session, ["U0PM", "U0GONE"]) == {"U0PM": "Priya Shah"}
        assert ids_to_learn(session, ["U0PM", "U0GONE", "bot"], team_id=None, now=T0 + timedelta(days=2)) == ["U0GONE"]
    engine.dispose()
