"""Resolving through the modal: validation on the form, the record, what it stops, Jira follow-ups, feedback."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from blocks.text import slack_time
from bot.clock import ManualClock
from bot.db import unit_of_work
from bot.models import Event, Feedback, FollowUp, Incident, IncidentStatus, Learning, Workaround, WorkaroundState
from tests.conftest import T0
from tests.e2e.conftest import AGENT, ONCALL, SUPPORT, Stack
from tests.e2e.test_escalation import PM, Escalating, _stack
from tests.e2e.test_triage_workflow import ephemerals_for, open_incident, root, root_fields, wait_for_reply
from tests.e2e.test_workarounds import at, checkins, start_retry_cycle

ADMIN = "UADMIN"
RESOLUTION = {
    "root_cause": "The upload proxy timed out bundles over 200 MB",
    "resolution": "Proxy timeout raised to 15 min; the exhibit bundle uploaded at 10:42",
}


@pytest.fixture
def esc(database_url: str, clean_db: Engine, clock: ManualClock) -> Iterator[Escalating]:
    yield from _stack(database_url, clean_db, clock)


def open_resolve_modal(stack: Stack, ts: str, user: str = AGENT) -> dict[str, Any]:
    stack.platform.click_button(user, "incident_resolve", channel_id=SUPPORT, message_ts=ts)
    modal: dict[str, Any] = stack.emulator.wait_for(lambda: stack.emulator.current_modal(user))
    assert modal["title"]["text"] == "Resolve incident"
    return modal


def blocks_of(stack: Stack, ts: str, fragment: str) -> str:
    """The blocks (as JSON) of the first thread reply whose notification text contains `fragment`."""
    reply = stack.emulator.wait_for(
        lambda: next((r for r in stack.emulator.replies(SUPPORT, ts) if fragment in r["text"]), None)
    )
    return json.dumps(reply["blocks"], ensure_ascii=False)


def test_the_resolve_form_explains_what_is_wrong_on_the_offending_field(stack: Stack) -> None:
    _, ts = open_incident(stack)
    modal = open_resolve_modal(stack, ts)
    errors = stack.platform.submit_view(
        modal["id"],
        AGENT,
        {
            "root_cause": " ",
            "resolution": RESOLUTION["resolution"],
            "follow_up_2_owner": ONCALL,
            "follow_up_3_description": "Alert on proxy timeouts",
            "follow_up_3_owner": ONCALL,
            "follow_up_3_due": "2026-11-01",
        },
    ).json()["errors"]
    assert errors == {
        "root_cause": "Say what caused it (or what is known so far).",
        "follow_up_2_description": "Say what needs doing, or clear the owner and date.",
        "follow_up_3_due": "That date is in the past.",
    }
    with unit_of_work(stack.services.session_factory) as session:
        assert session.scalars(select(Incident.status)).one() == IncidentStatus.NEW


def test_resolving_records_everything_stops_the_retry_cycle_and_offers_feedback(stack: Stack) -> None:
    _, ts = open_incident(stack)
    start_retry_cycle(stack, ts)
    modal = open_resolve_modal(stack, ts)
    assert "Resolving stops: Retry the exhibit upload from Chrome" in json.dumps(modal["blocks"])
    response = stack.platform.submit_view(
        modal["id"],
        AGENT,
        {
            **RESOLUTION,
            "follow_up_1_description": "Add a size check before exhibit upload",
            "follow_up_1_owner": ONCALL,
            "follow_up_1_due": "2026-12-15",
            "follow_up_tickets": ["yes"],
            "learnings": "- Bundles over 200 MB hit the proxy timeout\nAsk for the bundle size first\n\n",
            "file_feedback": ["yes"],
        },
    )
    assert response.status == 200 and not response.body
    resolved = blocks_of(stack, ts, "INC-1 resolved")
    assert f"<@{AGENT}> resolved *INC-1*" in resolved
    assert f"Follow-up for <@{ONCALL}> — due 2026-12-15: Add a size check before exhibit upload" in resolved
    assert "2 key learning(s) recorded" in resolved and "1 workaround(s) and their check-ins stopped" in resolved
    assert "(Jira ticket on its way)" not in resolved
    assert "🎫 No Jira tickets: Jira is not configured" in resolved
    offer = blocks_of(stack, ts, "Product feedback was asked for")
    assert "File product feedback" in offer
    stack.wait_while_scheduling(lambda: not [b for b in root(stack, ts)["blocks"] if b["type"] == "actions"])

    with unit_of_work(stack.services.session_factory) as session:
        incident = session.scalars(select(Incident)).one()
        assert (incident.status, incident.root_cause) == (IncidentStatus.RESOLVED, RESOLUTION["root_cause"])
        follow_up = session.scalars(select(FollowUp)).one()
        assert (follow_up.owner_id, follow_up.due_on.isoformat() if follow_up.due_on else None) == (
            ONCALL,
            "2026-12-15",
        )
        assert [learning.text for learning in session.scalars(select(Learning).order_by(Learning.id))] == [
            "Bundles over 200 MB hit the proxy timeout",
            "Ask for the bundle size first",
        ]
        assert session.scalars(select(Workaround.state)).one() == WorkaroundState.STOPPED
    at(stack, 30)
    assert checkins(stack, ts) == [], "no check-in after resolving"


COUNTDOWN = re.compile(r"\bin \d+ (h|min)\b|passed \d+ (h|min)")


def root_text(stack: Stack, ts: str) -> str:
    return json.dumps(root(stack, ts)["blocks"], ensure_ascii=False)


def test_a_resolved_incident_shows_its_deadline_met_and_no_countdown_or_next_check_in(stack: Stack) -> None:
    _, ts = open_incident(stack)  # the client's deadline is in 2 h
    stack.platform.click_button(AGENT, "incident_acknowledge", channel_id=SUPPORT, message_ts=ts)
    wait_for_reply(stack, ts, "acknowledged")
    stack.platform.click_button(AGENT, "incident_client_update", channel_id=SUPPORT, message_ts=ts)
    modal = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    draft = modal["blocks"][1]["element"]["initial_value"]
    assert stack.platform.submit_view(modal["id"], AGENT, {"update_text": draft}).status == 200
    stack.wait_while_scheduling(lambda: "Next check-in: client update due" in root_text(stack, ts))
    assert "(in 2 h)" in root_fields(stack, ts)["Deadline"]

    stack.clock.advance(timedelta(minutes=16))
    modal = open_resolve_modal(stack, ts)
    assert stack.platform.submit_view(modal["id"], AGENT, RESOLUTION).status == 200
    stack.wait_while_scheduling(lambda: root_fields(stack, ts)["Status"] == "Resolved")

    zone = stack.services.settings.display_zone
    deadline, unblocked = slack_time(T0 + timedelta(hours=2), zone), slack_time(T0 + timedelta(minutes=16), zone)
    met = f"{deadline} · ✅ *met* — client unblocked {unblocked}\n_court filing_"
    assert root_fields(stack, ts)["Deadline"] == met
    shown = root_text(stack, ts)
    assert "Next check-in" not in shown and "⏰" not in shown and not COUNTDOWN.search(shown), shown
    stack.platform.slash_command(AGENT, SUPPORT, text="list")
    assert stack.emulator.wait_for(lambda: any("No open incidents" in e for e in ephemerals_for(stack, AGENT))), (
        "a resolved incident is no longer listed with a countdown"
    )


def test_the_summary_is_posted_on_resolution_and_on_request_and_the_audit_trail_pages(stack: Stack) -> None:
    _, ts = open_incident(stack)
    stack.platform.click_button(AGENT, "incident_acknowledge", channel_id=SUPPORT, message_ts=ts)
    wait_for_reply(stack, ts, "acknowledged")
    stack.clock.advance(timedelta(minutes=40))
    modal = open_resolve_modal(stack, ts)
    assert stack.platform.submit_view(modal["id"], AGENT, RESOLUTION).status == 200
    posted = blocks_of(stack, ts, "INC-1 summary")
    for part in ("Root cause", RESOLUTION["root_cause"], "Timeline", "Time to resolve", "40 min"):
        assert part in posted, part

    stack.platform.slash_command(AGENT, SUPPORT, text="summary INC-1")
    asked = stack.emulator.wait_for(
        lambda: next((e for e in ephemerals_for(stack, AGENT) if "Time to resolve" in e), None)
    )
    assert RESOLUTION["resolution"] in asked
    stack.platform.slash_command(AGENT, SUPPORT, text="audit INC-1")
    trail = stack.emulator.wait_for(lambda: next((e for e in ephemerals_for(stack, AGENT) if "Audit trail" in e), None))
    assert "→ resolved" in trail and "Resolved. Root cause: The upload proxy timed out" in trail
    stack.platform.slash_command(AGENT, SUPPORT, text="summary INC-99")
    assert stack.emulator.wait_for(
        lambda: any("That incident isn't available here" in e for e in ephemerals_for(stack, AGENT))
    )


def test_resolving_twice_is_refused_with_a_clear_message(stack: Stack) -> None:
    _, ts = open_incident(stack)
    first, second = open_resolve_modal(stack, ts), open_resolve_modal(stack, ts, ONCALL)  # two people at once
    assert stack.platform.submit_view(first["id"], AGENT, RESOLUTION).status == 200
    blocks_of(stack, ts, "INC-1 resolved")
    errors = stack.platform.submit_view(second["id"], ONCALL, RESOLUTION).json()["errors"]
    assert errors["root_cause"].startswith("INC-1 is already resolved: nothing changed.")
    stack.wait_while_scheduling(lambda: not [b for b in root(stack, ts)["blocks"] if b["type"] == "actions"])


def test_a_stale_resolve_button_gets_a_clear_answer(stack: Stack) -> None:
    incident_id, ts = open_incident(stack)
    stack.resolve_behind_the_bot(incident_id)  # the root has not caught up yet
    stack.platform.click_button(AGENT, "incident_resolve", channel_id=SUPPORT, message_ts=ts)
    assert stack.emulator.wait_for(
        lambda: any("INC-1 is resolved, so it can't be resolved any more" in e for e in ephemerals_for(stack, AGENT))
    )


def test_follow_ups_become_jira_tickets_and_feedback_can_be_filed_after_resolving(esc: Escalating) -> None:
    stack = esc.stack
    _, ts = open_incident(stack)
    modal = open_resolve_modal(stack, ts)
    form = {
        **RESOLUTION,
        "follow_up_1_description": "Add a size check before exhibit upload",
        "follow_up_1_owner": ONCALL,
        "follow_up_2_description": "Alert on proxy timeouts",
        "follow_up_2_owner": AGENT,
        "follow_up_2_due": "2026-12-20",
        "follow_up_tickets": ["yes"],
        "file_feedback": ["yes"],
    }
    assert stack.platform.submit_view(modal["id"], AGENT, form).status == 200
    filed = stack.wait_while_scheduling(lambda: len(esc.jira.issues("ENG")) == 2 and esc.jira.issues("ENG"))
    summaries = sorted(issue["summary"] for issue in filed)
    assert summaries == [
        "[INC-1] Follow-up: Add a size check before exhibit upload",
        "[INC-1] Follow-up: Alert on proxy timeouts",
    ]
    assert all("follow-up" in issue["labels"] for issue in filed)
    wait_for_reply(stack, ts, "Follow-up ticket ENG-")
    with unit_of_work(stack.services.session_factory) as session:
        assert sorted(f.ticket_key or "" for f in session.scalars(select(FollowUp))) == ["ENG-1", "ENG-2"]

    offer = next(r for r in stack.emulator.replies(SUPPORT, ts) if "Product feedback was asked for" in r["text"])
    stack.platform.click_button(AGENT, "incident_file_feedback", channel_id=SUPPORT, message_ts=offer["ts"])
    feedback = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    answer = {"track": "stability", "area": "uploads", "use_case": "Filing a 300 MB exhibit bundle before a deadline"}
    assert stack.platform.submit_view(feedback["id"], AGENT, answer).status == 200
    assert f"PM: <@{PM}>" in wait_for_reply(stack, ts, "feedback for *uploads*")
    with unit_of_work(stack.services.session_factory) as session:
        assert session.scalars(select(Feedback.area)).one() == "uploads"


def test_the_report_goes_to_the_asker_and_an_admin_posts_it_with_its_charts_in_the_thread(stack: Stack) -> None:
    stack.emulator.add_user(ADMIN, "admin", is_admin=True)
    stack.platform.slash_command(AGENT, SUPPORT, text="report 30d")
    empty = stack.emulator.wait_for(
        lambda: next((e for e in stack.emulator.ephemerals(SUPPORT, AGENT) if "No incidents opened" in e["text"]), None)
    )
    assert "the last 30 days" in empty["text"] and stack.root_messages() == [], "only the asker sees the report"
    closing = stack.emulator.wait_for(lambda: [e for e in ephemerals_for(stack, AGENT) if "Only you can see" in e])
    assert "Post in this channel" not in closing[0], "only declarers and admins may post it"

    _, ts = open_incident(stack)
    stack.clock.advance(timedelta(hours=2))
    modal = open_resolve_modal(stack, ts)
    form = {**RESOLUTION, "learnings": "Ask for the bundle size first"}
    assert stack.platform.submit_view(modal["id"], AGENT, form).status == 200
    blocks_of(stack, ts, "INC-1 resolved")
    stack.clock.advance(timedelta(minutes=1))
    stack.platform.slash_command(ADMIN, SUPPORT, text="report 2w")
    assert stack.emulator.wait_for(
        lambda: any("Building the report for the last 14 days" in e for e in ephemerals_for(stack, ADMIN))
    )
    private = stack.emulator.wait_for(
        lambda: next((e for e in stack.emulator.ephemerals(SUPPORT, ADMIN) if "1 incidents" in e["text"]), None)
    )
    assert "Ask for the bundle size first" in json.dumps(private["blocks"], ensure_ascii=False)
    offer = stack.emulator.wait_for(
        lambda: next((e for e in stack.emulator.ephemerals(SUPPORT, ADMIN) if "Only you can see" in e["text"]), None)
    )
    assert stack.platform.click_ephemeral_button(ADMIN, SUPPORT, offer["ts"], "report_post_in_channel").status == 200
    report = stack.emulator.wait_for(
        lambda: next((m for m in stack.root_messages() if "1 incidents" in m["text"]), None)
    )
    assert "Ask for the bundle size first" in json.dumps(report["blocks"], ensure_ascii=False)
    charts = stack.emulator.wait_for(
        lambda: [r for r in stack.emulator.replies(SUPPORT, report["ts"]) if r.get("files")]
    )
    names = [f["name"] for f in charts[0]["files"]]
    assert names and all(name.endswith(".png") for name in names)
    assert stack.emulator.file_bytes(charts[0]["files"][0]["id"]).startswith(b"\x89PNG")
    assert stack.emulator.wait_for(
        lambda: any("Posted the report for the last 14 days in <#CSUPPORT>" in e for e in ephemerals_for(stack, ADMIN))
    )

    stack.platform.slash_command(AGENT, SUPPORT, text="report forever")
    assert stack.emulator.wait_for(
        lambda: any("A report covers 1 to 365 days" in e for e in ephemerals_for(stack, AGENT))
    )


def test_a_correction_is_a_new_audit_entry_that_points_at_the_old_one(stack: Stack) -> None:
    _, ts = open_incident(stack)
    stack.platform.slash_command(AGENT, SUPPORT, text="correct INC-1 2 Safari 17, not Chrome <!channel>")
    assert stack.emulator.wait_for(
        lambda: any("Recorded: a correction to entry #2 of INC-1" in e for e in ephemerals_for(stack, AGENT))
    )
    notice = wait_for_reply(stack, ts, "corrected audit entry #2")
    assert "Safari 17, not Chrome &lt;!channel&gt;" in notice
    stack.platform.slash_command(AGENT, SUPPORT, text="audit INC-1")
    trail = stack.emulator.wait_for(lambda: next((e for e in ephemerals_for(stack, AGENT) if "Audit trail" in e), None))
    assert "corrected by #" in trail and "corrects #2" in trail
    stack.platform.slash_command(AGENT, SUPPORT, text="correct INC-1 99 nothing there")
    assert stack.emulator.wait_for(
        lambda: any("INC-1 has no audit entry #99" in e for e in ephemerals_for(stack, AGENT))
    )
    with unit_of_work(stack.services.session_factory) as session:
        correction = session.scalars(select(Event).where(Event.kind == "correction")).one()
        assert correction.refers_to_id is not None and correction.summary.startswith("Correction to #2: Safari 17")
