"""The four escalation paths, through signed requests, the Slack emulator and a fake Jira over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot.clock import ManualClock
from bot.db import unit_of_work
from bot.models import Escalation, EscalationKind, EscalationState, Event, Feedback, FeedbackTrack, Incident
from bot.sandbox.fake_jira import FakeJira
from bot.scheduler import tick
from tests.e2e.conftest import AGENT, JIRA_TOKEN, JIRA_USER, ONCALL, SUPPORT, Stack, start_jira, start_stack
from tests.e2e.test_commands_and_security import ask
from tests.e2e.test_triage_workflow import ephemerals_for, open_incident, root, thread_texts, wait_for_reply

ENG_CHANNEL, PM, LEAD = "CENG", "UPM", "ULEAD"


@dataclass
class Escalating:
    stack: Stack
    jira: FakeJira


def _stack(database_url: str, engine: Engine, clock: ManualClock, **settings: Any) -> Iterator[Escalating]:
    jira, jira_server = start_jira(clock)
    stack, servers = start_stack(
        database_url,
        engine,
        clock,
        jira_url=jira_server.url,
        jira_user=JIRA_USER,
        jira_api_token=JIRA_TOKEN,
        internal_channel_id=ENG_CHANNEL,
        product_areas=f"uploads={PM},billing",
        **settings,
    )
    stack.emulator.add_channel("eng-escalations", id=ENG_CHANNEL, members=[stack.emulator.bot_user_id, ONCALL])
    for user in (PM, LEAD):
        stack.emulator.add_user(user, user.lower())
    yield Escalating(stack, jira)
    servers[0].stop()
    stack.finish_work()
    for server in [*servers[1:], jira_server]:
        server.stop()


@pytest.fixture
def esc(database_url: str, clean_db: Engine, clock: ManualClock) -> Iterator[Escalating]:
    yield from _stack(database_url, clean_db, clock, major_incident_declarers=f"{LEAD},{ONCALL}")


@pytest.fixture
def esc_fast_timeout(database_url: str, clean_db: Engine, clock: ManualClock) -> Iterator[Escalating]:
    yield from _stack(database_url, clean_db, clock, jira_timeout_seconds=1)


def choose_path(stack: Stack, ts: str, path: str, user: str = AGENT) -> Any:
    """Click Escalate, pick a path in the chooser; the platform's response to that submission."""
    stack.platform.click_button(user, "incident_escalate", channel_id=SUPPORT, message_ts=ts)
    chooser = stack.emulator.wait_for(lambda: stack.emulator.current_modal(user))
    assert chooser["title"]["text"] == "Escalate"
    return stack.platform.submit_view(chooser["id"], user, {"escalation_path": path})


def escalation(stack: Stack, kind: EscalationKind) -> Escalation:
    with unit_of_work(stack.services.session_factory) as session:
        return session.scalars(select(Escalation).where(Escalation.kind == kind)).one()


def root_text(stack: Stack, ts: str) -> str:
    return json.dumps(root(stack, ts)["blocks"], ensure_ascii=False)


def hand_off(stack: Stack, ts: str) -> dict[str, Any]:
    """Hand the incident to engineering through the escalation chooser and the handoff form; the form shown."""
    choose_path(stack, ts, "engineering")
    form: dict[str, Any] = stack.emulator.current_modal(AGENT)
    assert stack.platform.submit_view(form["id"], AGENT, {"reproduction": "1. Upload it"}).status == 200
    return form


def creates(jira: FakeJira) -> int:
    return jira.requests().count(("POST", "/rest/api/2/issue"))


def test_internal_notice_goes_to_the_team_channel_and_status_changes_follow_in_its_thread(esc: Escalating) -> None:
    stack = esc.stack
    _, ts = open_incident(stack)
    response = choose_path(stack, ts, "internal")
    assert response.status == 200 and not response.body, "the internal notice needs no more questions"
    notice = stack.wait_while_scheduling(lambda: (stack.emulator.messages(ENG_CHANNEL) or [None])[0])
    text = notice["text"]
    assert "*INC-1* SEV1 · Hartley &amp; Moss LLP (⭐ premium)" in text and f"on-call <@{ONCALL}>" in text
    assert "*Blocker:* The 250 MB exhibit bundle stops at 99%" in text and "(court filing), in 2 h" in text
    assert "File size: 250 MB" in text and "|the incident thread>" in text
    stack.wait_while_scheduling(lambda: escalation(stack, EscalationKind.INTERNAL).state == EscalationState.FILED)
    stack.wait_while_scheduling(lambda: "Internal notice: posted" in root_text(stack, ts))

    stack.platform.click_button(AGENT, "incident_change_status", channel_id=SUPPORT, message_ts=ts)
    modal = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    stack.platform.submit_view(modal["id"], AGENT, {"status": "mitigated", "severity": "SEV1"})
    follow_up = stack.wait_while_scheduling(lambda: stack.emulator.replies(ENG_CHANNEL, notice["ts"]))
    assert "INC-1 status escalated → mitigated" in follow_up[0]["text"] or "→ mitigated" in follow_up[0]["text"]

    again = choose_path(stack, ts, "internal")
    assert "already has an internal notice" in again.json()["errors"]["escalation_path"]
    assert len(stack.emulator.messages(ENG_CHANNEL)) == 1


def test_engineering_handoff_files_one_jira_issue_and_follows_its_status(esc: Escalating) -> None:
    stack, jira = esc.stack, esc.jira
    _, ts = open_incident(stack)
    updated = choose_path(stack, ts, "engineering")
    assert updated.status == 200 and updated.json()["response_action"] == "update"
    form = stack.emulator.current_modal(AGENT)
    assert form["title"]["text"] == "Engineering handoff"
    prefilled = {b["block_id"]: b["element"].get("initial_value") for b in form["blocks"] if b["type"] == "input"}
    assert "stops at 99%" in prefilled["actual"] and "Hartley & Moss LLP (premium client)" in prefilled["impact"]
    assert "court filing" in prefilled["impact"] and "Browser: Chrome 126" in prefilled["environment"]
    values = {"reproduction": "1. Upload the 250 MB bundle in Chrome 126", "evidence": "https://logs.example/abc"}
    assert stack.platform.submit_view(form["id"], AGENT, values).status == 200

    reply = wait_for_reply(stack, ts, "filed for *INC-1*")
    issue = jira.issues("ENG")[0]
    assert len(jira.issues("ENG")) == 1
    assert f"|{issue['key']}>" in reply
    fields = issue
    assert fields["summary"] == "[INC-1] SEV1 Hartley & Moss LLP: Exhibit upload fails at 99%"
    assert fields["priority"] == "Highest" and "triage-bot" in fields["labels"]
    assert (
        "h3. Business impact and deadline" in fields["description"]
        and "https://logs.example/abc" in fields["description"]
    )
    stack.wait_while_scheduling(lambda: jira.remote_links(issue["key"]))
    assert jira.remote_links(issue["key"])[0]["title"] == "Slack: INC-1"
    stack.wait_while_scheduling(lambda: issue["key"] in root_text(stack, ts))
    with unit_of_work(stack.services.session_factory) as session:
        assert session.scalars(select(Incident.status)).one().value == "escalated"

    jira.set_status(issue["key"], "In Progress")
    stack.clock.advance(timedelta(minutes=5))
    tick(stack.services)
    assert "is now *In Progress*" in wait_for_reply(stack, ts, "is now")

    stack.platform.click_button(AGENT, "incident_change_status", channel_id=SUPPORT, message_ts=ts)
    modal = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    stack.platform.submit_view(modal["id"], AGENT, {"status": "resolved", "severity": "SEV1"})
    comments = stack.wait_while_scheduling(lambda: jira.comments(issue["key"]))
    assert "Resolved in Slack" in comments[0]["body"]


def test_a_jira_outage_keeps_the_handoff_pending_and_files_it_once_when_jira_recovers(esc: Escalating) -> None:
    stack, jira = esc.stack, esc.jira
    _, ts = open_incident(stack)
    jira.set_down(True)
    choose_path(stack, ts, "engineering")
    form = stack.emulator.current_modal(AGENT)
    response = stack.platform.submit_view(form["id"], AGENT, {"reproduction": "1. Upload it"})
    assert response.status == 200 and response.elapsed < 3, "Jira being down never slows the incident"
    stack.wait_while_scheduling(lambda: "Jira ticket pending — retrying" in root_text(stack, ts))
    assert escalation(stack, EscalationKind.ENGINEERING).state == EscalationState.PENDING
    for _ in range(3):
        stack.clock.advance(timedelta(minutes=2))
        tick(stack.services)
    assert jira.issues("ENG") == []
    jira.set_down(False)
    stack.clock.advance(timedelta(minutes=16))
    tick(stack.services)
    stack.wait_while_scheduling(lambda: escalation(stack, EscalationKind.ENGINEERING).state == EscalationState.FILED)
    stack.clock.advance(timedelta(minutes=16))
    tick(stack.services)
    assert len(jira.issues("ENG")) == 1, "filed exactly once"


def test_product_feedback_tags_the_pm_and_files_a_ticket_in_its_track(esc: Escalating) -> None:
    stack, jira = esc.stack, esc.jira
    _, ts = open_incident(stack)
    choose_path(stack, ts, "product_feedback")
    form = stack.emulator.current_modal(AGENT)
    assert form["title"]["text"] == "Product feedback"
    missing = stack.platform.submit_view(form["id"], AGENT, {"use_case": ""}, enforce_required=False)
    assert set(missing.json()["errors"]) == {"track", "area", "use_case"}
    values = {
        "track": "messaging",
        "area": "uploads",
        "use_case": "Filing 250 MB exhibit bundles before a court deadline",
    }
    assert stack.platform.submit_view(form["id"], AGENT, values).status == 200
    reply = wait_for_reply(stack, ts, "feedback for *uploads*")
    assert f"PM: <@{PM}>" in reply and "*Messaging*" in reply
    issue = stack.wait_while_scheduling(lambda: (jira.issues("PROD") or [None])[0])
    assert {"product-feedback", "messaging", "uploads"} <= set(issue["labels"])
    with unit_of_work(stack.services.session_factory) as session:
        feedback = session.scalars(select(Feedback)).one()
        assert (feedback.track, feedback.area, feedback.pm_user_id) == (FeedbackTrack.MESSAGING, "uploads", PM)


def test_declaring_a_major_incident_sets_up_its_channel_and_links_related_incidents(esc: Escalating) -> None:
    stack = esc.stack
    open_incident(stack, client="Acme Corp")
    _, ts = open_incident(stack, client="Birch Legal")
    stack.emulator.add_channel("inc-2-exhibit-upload-fails-at-99", members=[])  # the name is taken
    choose_path(stack, ts, "incident_management", user=ONCALL)
    form = stack.emulator.current_modal(ONCALL)
    assert form["title"]["text"] == "Incident management"
    assert stack.platform.submit_view(form["id"], ONCALL, {"lead": LEAD}).status == 200
    reply = wait_for_reply(stack, ts, "started incident management")
    channel = stack.emulator.channel_by_name("inc-2-exhibit-upload-fails-at-99-2")
    assert (
        channel is not None
        and f"<#{channel['id']}>" in reply
        and f"incident lead <@{LEAD}>" in reply
        and "Linked INC-1" in reply
    )
    assert {AGENT, ONCALL, LEAD} <= set(channel["members"])
    brief = stack.emulator.messages(channel["id"])[0]
    assert "*Incident management: INC-2*" in brief["text"] and "INC-1" in brief["text"]
    assert brief["ts"] in stack.emulator.channel(channel["id"])["pins"]
    stack.wait_while_scheduling(lambda: "🚨 *Incident management*" in root_text(stack, ts))
    with unit_of_work(stack.services.session_factory) as session:
        incident = session.get_one(Incident, 2)
        assert (incident.is_major, incident.lead_id, incident.major_channel_id) == (True, LEAD, channel["id"])


def test_only_permitted_people_may_declare(esc: Escalating) -> None:
    stack = esc.stack
    _, ts = open_incident(stack)
    refused = choose_path(stack, ts, "incident_management", user=AGENT)
    assert (
        refused.json()["errors"]["escalation_path"]
        == f"Only an incident-management declarer (<@{LEAD}>, <@{ONCALL}>) or a workspace admin may start "
        "incident management or assign its incident lead. Ask one of them."
    )
    stack.platform.slash_command(AGENT, SUPPORT, text="declare INC-1")
    assert stack.emulator.wait_for(
        lambda: any("may start incident management" in e for e in ephemerals_for(stack, AGENT))
    )
    assert stack.emulator.channel_by_name("inc-1-exhibit-upload-fails-at-99") is None


def test_without_jira_escalations_are_recorded_and_shown_as_not_filed(stack: Stack) -> None:
    _, ts = open_incident(stack)
    choose_path(stack, ts, "engineering")
    form = stack.emulator.current_modal(AGENT)
    stack.platform.submit_view(form["id"], AGENT, {"reproduction": "1. Upload it"})
    assert "Jira is not configured" in wait_for_reply(stack, ts, "handed *INC-1* to engineering")
    stack.wait_while_scheduling(lambda: "recorded, not filed (not configured)" in root_text(stack, ts))
    assert escalation(stack, EscalationKind.ENGINEERING).state == EscalationState.NOT_CONFIGURED


def test_files_shared_in_the_thread_go_with_the_handoff(esc: Escalating) -> None:
    stack, jira = esc.stack, esc.jira
    _, ts = open_incident(stack)
    stack.emulator.post_user_message(
        SUPPORT, AGENT, "client's console log", thread_ts=ts, files=[("console.log", "text/plain", b"ERROR upload 99%")]
    )
    stack.emulator.post_user_message(
        SUPPORT, AGENT, "screenshot", thread_ts=ts, files=[("screen.png", "image/png", b"\x89PNG fake")]
    )
    jira.fail_next(status=413, path_contains="attachments", times=1, method="POST")  # Jira refuses the first
    choose_path(stack, ts, "engineering")
    form = stack.emulator.current_modal(AGENT)
    stack.platform.submit_view(form["id"], AGENT, {"reproduction": "1. Upload it"})
    note = wait_for_reply(stack, ts, "Files from this thread went to Jira")
    key = jira.issues("ENG")[0]["key"]
    assert f"went to Jira {key}: attached 1, linked 1" in note
    assert [(a["filename"], a["content"]) for a in jira.attachments(key)] == [("screen.png", b"\x89PNG fake")]
    titles = [link["title"] for link in jira.remote_links(key)]
    assert "Slack file: console.log" in titles and "Slack: INC-1" in titles


# --- Jira Cloud: eventually consistent search, projects that differ ---------------------------------


def test_a_handoff_whose_jira_answer_is_lost_is_filed_once_while_search_lags(esc_fast_timeout: Escalating) -> None:
    stack, jira = esc_fast_timeout.stack, esc_fast_timeout.jira
    jira.set_search_lag(seconds=30)  # Jira Cloud's search shows a new issue only after a while
    jira.set_delay(10.0, path_contains="/rest/api/2/issue", method="POST")  # Jira files it; its answer is lost
    _, ts = open_incident(stack)
    hand_off(stack, ts)
    stack.wait_while_scheduling(lambda: "Jira ticket pending — retrying" in root_text(stack, ts))
    assert [i["key"] for i in jira.issues("ENG")] == ["ENG-1"]
    jira.clear_faults()
    assert stack.services.background.drain(timeout=10)

    stack.clock.advance(timedelta(seconds=10))  # the next attempt: search does not show ENG-1 yet
    tick(stack.services)
    assert creates(jira) == 1, "not filed again while Jira's search may lag"
    assert escalation(stack, EscalationKind.ENGINEERING).state == EscalationState.PENDING

    stack.clock.advance(timedelta(minutes=2))
    tick(stack.services)
    reply = wait_for_reply(stack, ts, "filed for *INC-1*")
    assert "|ENG-1>" in reply
    assert len(jira.issues("ENG")) == 1 and creates(jira) == 1, "one ticket"
    assert escalation(stack, EscalationKind.ENGINEERING).external_ref == "ENG-1"


def test_a_jira_project_without_the_issue_type_says_what_to_set(esc: Escalating) -> None:
    stack, jira = esc.stack, esc.jira
    jira.add_project("ENG", "Engineering", issue_types=("Task", "Story"))
    _, ts = open_incident(stack)

    hand_off(stack, ts)

    missing = "Jira project ENG has no issue type 'Bug' (it has Task, Story); set JIRA_ISSUE_TYPE"
    assert wait_for_reply(stack, ts, "failed") == f"⚠️ Engineering handoff (Jira) for *INC-1* failed: {missing}"
    stack.wait_while_scheduling(lambda: f"failed — {missing}" in root_text(stack, ts))
    assert f"Jira engineering ticket: failed — {missing}" in ask(stack, "show INC-1")
    assert creates(jira) == 0, "no create sent for Jira to refuse"


def test_the_configured_issue_type_and_priorities_reach_jira(
    database_url: str, clean_db: Engine, clock: ManualClock
) -> None:
    settings = {"jira_issue_type": "Defect", "jira_priorities": "SEV1=P1,SEV2=P2,SEV3=P3,SEV4=P4"}
    for esc in _stack(database_url, clean_db, clock, **settings):
        stack, jira = esc.stack, esc.jira
        jira.add_project("ENG", "Engineering", issue_types=("Defect", "Task"), priorities=("P1", "P2"))
        _, ts = open_incident(stack)
        form = hand_off(stack, ts)
        assert "priority *P1* (SEV1)" in json.dumps(form["blocks"])
        wait_for_reply(stack, ts, "filed for *INC-1*")
        issue = jira.issue("ENG-1")
        assert (issue["issuetype"], issue["priority"]) == ("Defect", "P1")

        _, other = open_incident(stack, severity="SEV3", client="Birch Legal")
        hand_off(stack, other)
        filed = wait_for_reply(stack, other, "filed for *INC-2*")
        assert jira.issue("ENG-2")["priority"] is None, "filed without the priority the scheme lacks, not refused"
        assert filed.endswith(
            "\n⚠️ Jira project ENG has no priority 'P3' (it has P1, P2); filed without a priority — set JIRA_PRIORITIES."
        )


def test_the_thread_link_is_stored_so_tickets_and_notices_link_the_thread(esc: Escalating) -> None:
    """chat.getPermalink takes form parameters only: sent as JSON, Slack reads no channel and the link is never kept,
    so tickets and notices had no link to the thread and `/triage show` listed a failed delivery for good."""
    stack, jira = esc.stack, esc.jira
    incident_id, ts = open_incident(stack)
    expected = stack.emulator.api("chat.getPermalink", channel=SUPPORT, message_ts=ts)["permalink"]

    def stored_link() -> str | None:
        with unit_of_work(stack.services.session_factory) as session:
            return session.get_one(Incident, incident_id).root_permalink

    assert stack.wait_while_scheduling(stored_link) == expected
    lookups = [c for c in stack.emulator.calls("chat.getPermalink") if c.args.get("message_ts") == ts]
    assert lookups[0].response["ok"], lookups[0].response

    choose_path(stack, ts, "internal")
    notice = stack.wait_while_scheduling(lambda: (stack.emulator.messages(ENG_CHANNEL) or [None])[0])
    assert f"<{expected}|the incident thread>" in notice["text"]

    form = choose_path(stack, ts, "engineering") and stack.emulator.current_modal(AGENT)
    stack.platform.submit_view(form["id"], AGENT, {"reproduction": "Upload the bundle", "evidence": "none"})
    wait_for_reply(stack, ts, "filed for *INC-1*")
    issue = jira.issues("ENG")[0]
    assert expected in issue["description"]
    links = stack.wait_while_scheduling(lambda: jira.remote_links(issue["key"]))
    assert links[0]["url"] == expected

    assert stack.platform.slash_command(AGENT, SUPPORT, text="show INC-1").status == 200
    shown = json.dumps(stack.emulator.ephemerals(SUPPORT, AGENT)[-1], ensure_ascii=False)
    assert "INC-1 · Exhibit upload fails at 99%" in shown
    assert "failed" not in shown and "root permalink" not in shown, "nothing is left undelivered"


def test_a_long_thread_goes_to_jira_within_a_distributed_apps_history_limit(esc: Escalating) -> None:
    """An app distributed without Marketplace approval reads 15 messages a minute: the handoff reads a few pages, a
    minute apart as Slack's Retry-After says, then says in the ticket and the thread which messages were read."""
    stack, jira = esc.stack, esc.jira
    stack.emulator.rate_limits.distributed = True
    _, ts = open_incident(stack)
    stack.platform.click_button(ONCALL, "incident_acknowledge", channel_id=SUPPORT, message_ts=ts)  # no re-pages
    early = stack.emulator.post_user_message(
        SUPPORT, AGENT, "console log", thread_ts=ts, files=[("console.log", "text/plain", b"ERROR 99%")]
    )
    for n in range(70):
        stack.emulator.post_user_message(SUPPORT, AGENT, f"tried again ({n})", thread_ts=ts)
    stack.emulator.post_user_message(SUPPORT, AGENT, "late", thread_ts=ts, files=[("late.png", "image/png", b"PNG")])
    choose_path(stack, ts, "engineering")
    stack.platform.submit_view(stack.emulator.current_modal(AGENT)["id"], AGENT, {"reproduction": "1. Upload it"})
    wait_for_reply(stack, ts, "filed for *INC-1*")
    key = jira.issues("ENG")[0]["key"]

    def note() -> str | None:
        return next((t for t in thread_texts(stack, ts) if "messages of this thread only" in t), None)

    for _ in range(6):  # each minute, Slack lets one more page be read
        stack.services.background.drain(timeout=10)
        tick(stack.services)
        if note():
            break
        stack.clock.advance(timedelta(seconds=61))
    read = 1 + 14 + 3 * 15  # four pages of 15: the thread's first message, then its replies
    found = note()
    assert found is not None and f"went to Jira {key}: attached 1" in found, found
    assert f"from the first {read} messages of this thread only" in found
    assert [a["filename"] for a in jira.attachments(key)] == [early["files"][0]["name"]], "the late file was not read"
    comment = next(c["body"] for c in jira.comments(key) if "of the Slack thread only" in c["body"])
    assert f"Files from the first {read} messages" in comment
    reads = [c.response for c in stack.emulator.calls("conversations.replies")]
    assert [r.get("error", "ok") for r in reads].count("ok") == 4, "four pages, each read once"
    assert len(reads) <= 8, "a 429 waits its minute: no storm"


# --- a failed Jira escalation can be filed again ---------------------------------------------------------------

GUEST = "UGUEST"


def failure_notice(stack: Stack, ts: str) -> dict[str, Any]:
    """The thread's latest "… failed: …" reply, once it is there."""
    found: dict[str, Any] = stack.emulator.wait_for(
        lambda: next((r for r in reversed(stack.emulator.replies(SUPPORT, ts)) if " failed: " in r["text"]), None)
    )
    return found


def retry_from(stack: Stack, notice: dict[str, Any], user: str = AGENT) -> None:
    """Click Retry on a failure notice in the thread (its value: the escalation's id)."""
    [button] = [e for b in notice["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert button["action_id"] == "escalation_retry"
    stack.platform.click_button(user, "escalation_retry", channel_id=SUPPORT, message_ts=notice["ts"])


def retried_events(stack: Stack) -> list[tuple[str, str]]:
    with unit_of_work(stack.services.session_factory) as session:
        events = session.scalars(select(Event).where(Event.kind == "escalation_retried").order_by(Event.id))
        return [(e.actor_id, e.summary) for e in events]


def test_a_handoff_jira_refused_is_filed_once_from_retry_on_its_failure_notice(esc: Escalating) -> None:
    stack, jira = esc.stack, esc.jira
    stack.emulator.add_user(GUEST, "guest", guest="multi")
    jira.fail_next(status=403, path_contains="/rest/api/2/issue", method="POST")  # refused: fails for good
    _, ts = open_incident(stack)
    hand_off(stack, ts)

    notice = failure_notice(stack, ts)
    assert notice["text"].startswith("⚠️ Engineering handoff (Jira) for *INC-1* failed: Jira user has no permission")
    stack.wait_while_scheduling(lambda: "failed — Jira user has no permission" in root_text(stack, ts))
    assert escalation(stack, EscalationKind.ENGINEERING).state == EscalationState.FAILED
    assert jira.issues("ENG") == []

    retry_from(stack, notice, GUEST)  # re-checked like every button: a guest may not work on incidents
    refusal = stack.emulator.wait_for(lambda: [e for e in ephemerals_for(stack, GUEST) if "Only " in e])
    assert "may work on INC-1" in refusal[0]
    assert escalation(stack, EscalationKind.ENGINEERING).state == EscalationState.FAILED

    retry_from(stack, notice)  # Jira works now
    assert "is filing the engineering handoff (Jira) for *INC-1* again (attempt 2)" in wait_for_reply(
        stack, ts, "again (attempt 2)"
    )
    reply = wait_for_reply(stack, ts, "filed for *INC-1*")
    assert "|ENG-1>" in reply and len(jira.issues("ENG")) == 1
    filed = escalation(stack, EscalationKind.ENGINEERING)
    assert (filed.state, filed.external_ref, filed.last_error) == (EscalationState.FILED, "ENG-1", None)
    stack.wait_while_scheduling(lambda: "ENG-1" in root_text(stack, ts))
    assert retried_events(stack) == [
        (AGENT, "Engineering handoff (Jira) filed again (attempt 2) after: " + filed_error(notice))
    ]
    stack.wait_while_scheduling(lambda: jira.remote_links("ENG-1"))  # the thread's link follows the retried ticket

    retry_from(stack, notice)  # a second click, later: nothing left to retry
    answer = stack.emulator.wait_for(lambda: [e for e in ephemerals_for(stack, AGENT) if "nothing to retry" in e])
    assert "INC-1's engineering handoff (Jira) is filed (ENG-1): there is nothing to retry." in answer[0]
    assert len(jira.issues("ENG")) == 1 and creates(jira) == 2, "one refused create, one ticket"


def filed_error(notice: dict[str, Any]) -> str:
    return str(notice["text"]).split(" failed: ", 1)[1]


def test_a_retry_after_jira_filed_the_ticket_unseen_finds_it_instead_of_filing_twice(
    esc_fast_timeout: Escalating,
) -> None:
    """Jira makes the issue but its answer is lost; the next attempt fails for good (the token was revoked). Once the
    token works again, Retry finds the issue by its label: the ticket Jira made is kept, none is filed twice."""
    stack, jira = esc_fast_timeout.stack, esc_fast_timeout.jira
    jira.set_search_lag(seconds=30)
    jira.set_delay(10.0, path_contains="/rest/api/2/issue", method="POST")
    _, ts = open_incident(stack)
    hand_off(stack, ts)
    stack.wait_while_scheduling(lambda: "Jira ticket pending — retrying" in root_text(stack, ts))
    assert [i["key"] for i in jira.issues("ENG")] == ["ENG-1"]
    jira.clear_faults()
    assert stack.services.background.drain(timeout=10)

    jira.fail_next(status=401, path_contains="search")  # the next attempt's search: the credentials are refused
    stack.clock.advance(timedelta(seconds=10))
    tick(stack.services)
    notice = failure_notice(stack, ts)
    assert "failed: Jira rejected the credentials" in notice["text"]
    assert escalation(stack, EscalationKind.ENGINEERING).state == EscalationState.FAILED

    stack.clock.advance(timedelta(minutes=1))  # Jira's search shows ENG-1 by now
    retry_from(stack, notice)
    reply = wait_for_reply(stack, ts, "filed for *INC-1*")
    assert "|ENG-1>" in reply
    assert len(jira.issues("ENG")) == 1 and creates(jira) == 1, "the ticket Jira made, never a second"
    assert escalation(stack, EscalationKind.ENGINEERING).external_ref == "ENG-1"


def test_sending_the_handoff_form_again_after_it_failed_files_it_again(esc: Escalating) -> None:
    stack, jira = esc.stack, esc.jira
    jira.add_project("ENG", "Engineering", issue_types=("Task", "Story"))
    _, ts = open_incident(stack)
    hand_off(stack, ts)
    assert "has no issue type 'Bug'" in failure_notice(stack, ts)["text"]

    jira.add_project("ENG", "Engineering", issue_types=("Task", "Bug"))  # someone fixes the project in Jira
    chooser_answer = choose_path(stack, ts, "engineering")  # the chooser offers it again, and the form opens
    assert chooser_answer.json()["response_action"] == "update"
    form = stack.emulator.current_modal(AGENT)
    assert form["title"]["text"] == "Engineering handoff"
    assert stack.platform.submit_view(form["id"], AGENT, {"reproduction": "1. Upload it twice"}).status == 200

    assert "engineering again (attempt 2)" in wait_for_reply(stack, ts, "again (attempt 2)")
    wait_for_reply(stack, ts, "filed for *INC-1*")
    [issue] = jira.issues("ENG")
    assert "1. Upload it twice" in issue["description"], "what the form says now"
    assert [actor for actor, _ in retried_events(stack)] == [AGENT]


def test_failed_product_feedback_is_filed_again_from_retry(esc: Escalating) -> None:
    stack, jira = esc.stack, esc.jira
    jira.fail_next(status=400, path_contains="/rest/api/2/issue", method="POST")
    _, ts = open_incident(stack)
    choose_path(stack, ts, "product_feedback")
    values = {"track": "stability", "area": "uploads", "use_case": "Large bundles before court deadlines"}
    assert stack.platform.submit_view(stack.emulator.current_modal(AGENT)["id"], AGENT, values).status == 200
    notice = failure_notice(stack, ts)
    assert notice["text"].startswith("⚠️ Product feedback for *INC-1* failed: Jira rejected the request")

    retry_from(stack, notice)
    wait_for_reply(stack, ts, "filed for *INC-1*")
    [issue] = jira.issues("PROD")
    assert {"product-feedback", "stability", "uploads"} <= set(issue["labels"])
    assert escalation(stack, EscalationKind.PRODUCT_FEEDBACK).state == EscalationState.FILED
