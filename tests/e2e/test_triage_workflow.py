"""Working an incident from its root message and thread, through signed requests and the emulator."""

from __future__ import annotations

import json
import threading
import urllib.request
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from bot.db import unit_of_work
from bot.domain.oncall import TeamSpec, replace_teams
from bot.models import Incident, IncidentLink, Scope, StepState, TriageStep, TriageStepRecord
from bot.scheduler import tick
from tests.conftest import T0
from tests.e2e.conftest import AGENT, ONCALL, SUPPORT, Stack, start_stack
from tests.e2e.test_open_incident_flow import filled_form, open_modal

BACKUP = "UBACKUP"


def open_incident(stack: Stack, **form: Any) -> tuple[int, str]:
    """Open an incident through /triage and the modal; (incident id, root ts) once its thread is posted."""
    before = len(stack.root_messages())
    modal = open_modal(stack)
    assert stack.platform.submit_view(modal["id"], AGENT, filled_form(**form)).status == 200
    root = stack.emulator.wait_for(
        lambda: stack.root_messages()[before] if len(stack.root_messages()) > before else None
    )
    stack.emulator.wait_for(lambda: len(stack.emulator.replies(SUPPORT, root["ts"])) >= 4)
    with unit_of_work(stack.services.session_factory) as session:
        incident = session.scalars(select(Incident).where(Incident.root_ts == root["ts"])).one()
        return incident.id, root["ts"]


def root(stack: Stack, ts: str) -> dict[str, Any]:
    message = stack.emulator.message(SUPPORT, ts)
    assert message is not None
    return message


def root_fields(stack: Stack, ts: str) -> dict[str, str]:
    section = next(b for b in root(stack, ts)["blocks"] if b["type"] == "section" and "fields" in b)
    return {f["text"].split("\n", 1)[0].strip("*"): f["text"].split("\n", 1)[1] for f in section["fields"]}


def buttons(stack: Stack, ts: str) -> list[str]:
    actions = [b for b in root(stack, ts)["blocks"] if b["type"] == "actions"]
    return [e["text"]["text"] for b in actions for e in b["elements"]]


def thread_texts(stack: Stack, ts: str) -> list[str]:
    return [r["text"] for r in stack.emulator.replies(SUPPORT, ts)]


def wait_for_reply(stack: Stack, ts: str, fragment: str) -> str:
    found: str = stack.emulator.wait_for(lambda: next((t for t in thread_texts(stack, ts) if fragment in t), None))
    return found


def ephemerals_for(stack: Stack, user: str) -> list[str]:
    return [
        f"{e.get('text') or ''} {json.dumps(e.get('blocks'), ensure_ascii=False)}"
        for e in stack.emulator.ephemerals(user=user)
    ]


def test_acknowledge_takes_ownership_and_updates_the_root_in_place(stack: Stack) -> None:
    incident_id, ts = open_incident(stack)
    assert root_fields(stack, ts)["Owner"] == "_Unassigned_"
    assert buttons(stack, ts) == [
        "Acknowledge",
        "Add details",
        "Log a step",
        "Status / severity",
        "Isolate",
        "Escalate",
        "Start a workaround",
        "Client update",
        "Resolve",
    ]
    stack.clock.advance(timedelta(minutes=3))

    response = stack.platform.click_button(ONCALL, "incident_acknowledge", channel_id=SUPPORT, message_ts=ts)
    assert response.status == 200 and response.elapsed < 3
    stack.emulator.wait_for(lambda: root_fields(stack, ts)["Owner"] == f"<@{ONCALL}>")
    assert root_fields(stack, ts)["Status"] == "Investigating"
    assert buttons(stack, ts)[0] == "Take ownership"
    assert "acknowledged *INC-1* after 3 min and owns it" in wait_for_reply(stack, ts, "acknowledged")
    assert len(stack.root_messages()) == 1, "the root is edited in place, never re-posted"
    with unit_of_work(stack.services.session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        assert (incident.owner_id, incident.acknowledged_at) == (ONCALL, T0 + timedelta(minutes=3))


def test_two_people_acknowledging_at_once_end_with_one_owner(stack: Stack) -> None:
    stack.emulator.add_user(BACKUP, "backup")
    _, ts = open_incident(stack)
    barrier = threading.Barrier(2)

    def click(user: str) -> None:
        barrier.wait()
        stack.platform.click_button(user, "incident_acknowledge", channel_id=SUPPORT, message_ts=ts)

    threads = [threading.Thread(target=click, args=(u,)) for u in (ONCALL, BACKUP)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refusal = stack.emulator.wait_for(
        lambda: next(
            (e for u in (ONCALL, BACKUP) for e in ephemerals_for(stack, u) if "already acknowledged" in e), None
        )
    )
    stack.emulator.wait_for(lambda: root_fields(stack, ts)["Owner"] != "_Unassigned_")
    stack.settle()  # every queued root edit has landed
    with unit_of_work(stack.services.session_factory) as session:
        owner = session.scalars(select(Incident.owner_id)).one()
    assert owner in (ONCALL, BACKUP) and f"<@{owner}>" in refusal
    assert root_fields(stack, ts)["Owner"] == f"<@{owner}>"
    assert len([t for t in thread_texts(stack, ts) if "acknowledged *INC-1*" in t]) == 1


def test_log_a_step_records_it_and_a_reproduction_completes_investigate(stack: Stack) -> None:
    incident_id, ts = open_incident(stack)
    stack.platform.click_button(AGENT, "incident_log_step", channel_id=SUPPORT, message_ts=ts)
    modal = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    assert modal["title"]["text"] == "Log a step"
    values = {
        "step_kind": "reproduction",
        "step_description": "Re-uploaded the 250 MB bundle: fails at 99%",
        "step_outcome": "confirmed",
    }
    assert stack.platform.submit_view(modal["id"], AGENT, values).status == 200
    reply = wait_for_reply(stack, ts, "logged a reproduction attempt")
    assert "*confirmed*" in reply and "fails at 99%" in reply and "✅ *Investigate* is done." in reply
    stack.emulator.wait_for(lambda: "✅ *Investigate*" in json.dumps(root(stack, ts)["blocks"], ensure_ascii=False))
    with unit_of_work(stack.services.session_factory) as session:
        states = {
            r.step: r.state
            for r in session.scalars(select(TriageStepRecord).where(TriageStepRecord.incident_id == incident_id))
        }
    assert states == {
        TriageStep.GATHER: StepState.DONE,
        TriageStep.INVESTIGATE: StepState.DONE,
        TriageStep.ISOLATE: StepState.PENDING,
        TriageStep.ESCALATE: StepState.PENDING,
    }


def test_investigate_waits_for_the_environment_and_add_details_completes_it(stack: Stack) -> None:
    _, ts = open_incident(stack, browser="", os="")
    stack.platform.click_button(AGENT, "incident_log_step", channel_id=SUPPORT, message_ts=ts)
    modal = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    stack.platform.submit_view(
        modal["id"],
        AGENT,
        {"step_kind": "reproduction", "step_description": "Tried it", "step_outcome": "inconclusive"},
    )
    assert "missing browser, operating system" in wait_for_reply(stack, ts, "logged a reproduction")

    stack.platform.click_button(AGENT, "incident_add_details", channel_id=SUPPORT, message_ts=ts)
    details = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    bad = stack.platform.submit_view(
        details["id"], AGENT, {"file_size": "lots", "browser": "Firefox 128", "os": "macOS 15"}
    )
    assert bad.json()["errors"] == {"file_size": "Enter a size such as 250 MB, 1.2GB, 3 GiB or 800k."}
    good = stack.platform.submit_view(
        details["id"], AGENT, {"file_size": "250 MB", "browser": "Firefox 128", "os": "macOS 15"}
    )
    assert good.status == 200 and not good.body
    reply = wait_for_reply(stack, ts, "updated the details")
    assert "Browser" in reply and "OS" in reply and "✅ *Immediate Action* is done" in reply


def test_isolation_finds_other_accounts_and_one_click_marks_it_systemic(stack: Stack) -> None:
    first, first_ts = open_incident(stack, client="Acme Corp", title="Uploads stall")
    second, _ = open_incident(stack, client="Birch Legal", title="Upload never finishes")
    third, ts = open_incident(stack, client="Cedar Partners", title="Upload broken")
    wait_for_reply(stack, ts, "Isolation for INC-3")
    reply = next(r for r in stack.emulator.replies(SUPPORT, ts) if "Isolation for INC-3" in r["text"])
    finding = json.dumps(reply["blocks"], ensure_ascii=False)
    assert "2 other accounts report document upload failing in eu-west in the last minute — likely systemic" in finding
    assert "*INC-1* Acme Corp" in finding and "*INC-2* Birch Legal" in finding
    assert "Mark systemic & link 2" in finding
    stack.platform.click_button(AGENT, "isolation_mark_systemic", channel_id=SUPPORT, message_ts=reply["ts"])
    assert "set the scope of *INC-3* to *systemic* and linked" in wait_for_reply(stack, ts, "set the scope")
    stack.emulator.wait_for(lambda: "Scope: *systemic*" in json.dumps(root(stack, ts)["blocks"]))
    assert "Linked: INC-1, INC-2" in json.dumps(root(stack, ts)["blocks"])
    tick(stack.services)  # the note in the other incidents' threads goes out with the scheduler's next tick
    assert "Linked to *INC-3* (systemic)" in wait_for_reply(stack, first_ts, "Linked to")
    with unit_of_work(stack.services.session_factory) as session:
        assert session.get_one(Incident, third).scope == Scope.SYSTEMIC.value
        pairs = {(a, b) for a, b in session.execute(select(IncidentLink.incident_id, IncidentLink.related_id))}
    assert pairs == {(third, first), (first, third), (third, second), (second, third)}


def test_an_unacknowledged_sev1_escalates_on_time(stack: Stack) -> None:
    stack.emulator.add_user(BACKUP, "backup")
    escalations = stack.emulator.add_channel("escalations", id="CESC", members=[stack.emulator.bot_user_id])
    with unit_of_work(stack.services.session_factory) as session:
        spec = TeamSpec(
            name="platform",
            members=(ONCALL, BACKUP),
            timezone="Europe/London",
            starts_on=date(2026, 11, 30),
            escalation_channel_id="CESC",
        )
        replace_teams(session=session, teams=[spec], now=T0)
    stack.clock.set(T0 + timedelta(hours=10))  # after today's 09:00 handoff: ONCALL is on call, BACKUP is next
    opened_at = stack.clock.now()
    _, ts = open_incident(stack, deadline=int((opened_at + timedelta(hours=2)).timestamp()))

    def pages() -> list[str]:
        return [t for t in thread_texts(stack, ts) if "has not been acknowledged" in t]

    stack.clock.set(opened_at + timedelta(minutes=4, seconds=59))
    tick(stack.services)
    assert pages() == []
    stack.clock.set(opened_at + timedelta(minutes=5))
    tick(stack.services)
    assert pages()[0].startswith(
        f"⏰ *INC-1* (SEV1) has not been acknowledged after 5 min — <@{ONCALL}>, please acknowledge."
    )
    stack.clock.set(opened_at + timedelta(minutes=10))
    tick(stack.services)
    assert f"<@{BACKUP}>, the on-call engineer has not answered" in pages()[1]
    channel_posts = stack.emulator.messages(escalations["id"])
    assert (
        len(channel_posts) == 1
        and "INC-1" in channel_posts[0]["text"]
        and "unacknowledged after 10 min" in channel_posts[0]["text"]
        and "|the incident thread>" in channel_posts[0]["text"]
    )
    stack.clock.set(opened_at + timedelta(hours=1))
    tick(stack.services)
    assert len(pages()) == 2, "two levels, then it stops"


def test_acknowledging_stops_the_escalation(stack: Stack) -> None:
    _, ts = open_incident(stack)
    stack.platform.click_button(ONCALL, "incident_acknowledge", channel_id=SUPPORT, message_ts=ts)
    wait_for_reply(stack, ts, "acknowledged")
    stack.clock.advance(timedelta(minutes=30))
    tick(stack.services)
    assert not [t for t in thread_texts(stack, ts) if "has not been acknowledged" in t]


def test_stale_buttons_get_a_clear_answer(stack: Stack) -> None:
    incident_id, ts = open_incident(stack)
    stack.resolve_behind_the_bot(incident_id)  # the root has not caught up yet
    stack.platform.click_button(ONCALL, "incident_acknowledge", channel_id=SUPPORT, message_ts=ts)
    assert stack.emulator.wait_for(
        lambda: any("is resolved, so it can't be acknowledged" in e for e in ephemerals_for(stack, ONCALL))
    )
    stack.platform.click_button(ONCALL, "incident_log_step", channel_id=SUPPORT, message_ts=ts, value="999")
    assert stack.emulator.wait_for(
        lambda: any("That incident isn't available here" in e for e in ephemerals_for(stack, ONCALL))
    )


def test_status_changes_are_recorded_and_a_no_op_is_refused_on_the_form(stack: Stack) -> None:
    _, ts = open_incident(stack)
    stack.platform.click_button(AGENT, "incident_change_status", channel_id=SUPPORT, message_ts=ts)
    modal = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    nothing = stack.platform.submit_view(modal["id"], AGENT, {"status": "new", "severity": "SEV1"})
    assert "Nothing changed" in nothing.json()["errors"]["status"]
    done = stack.platform.submit_view(
        modal["id"], AGENT, {"status": "mitigated", "severity": "SEV2", "reason": "retry worked"}
    )
    assert done.status == 200 and not done.body
    assert "moved status new → *mitigated* — retry worked" in wait_for_reply(stack, ts, "moved status")
    assert "changed severity SEV1 → *SEV2*" in wait_for_reply(stack, ts, "changed severity")
    stack.emulator.wait_for(lambda: root_fields(stack, ts)["Status"] == "Mitigated")


def test_client_update_is_drafted_recorded_and_reminded(stack: Stack) -> None:
    _, ts = open_incident(stack)
    stack.platform.click_button(AGENT, "incident_client_update", channel_id=SUPPORT, message_ts=ts)
    modal = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    draft = modal["blocks"][1]["element"]["initial_value"]
    assert (
        draft.startswith("Hi Hartley & Moss LLP team,")
        and "court filing" in draft
        and "We will update you again by 09:30 UTC" in draft
    )
    assert stack.platform.submit_view(modal["id"], AGENT, {"update_text": draft}).status == 200
    assert "recorded a client update" in wait_for_reply(stack, ts, "recorded a client update")
    stack.clock.advance(timedelta(minutes=29))
    tick(stack.services)
    assert not [t for t in thread_texts(stack, ts) if "client update for *INC-1* is due" in t]
    stack.clock.advance(timedelta(minutes=1))
    tick(stack.services)
    assert "next client update for *INC-1* is due now" in wait_for_reply(stack, ts, "is due now")


def test_app_home_shows_my_incidents_and_all_open_ones(stack: Stack) -> None:
    open_incident(stack)
    assert stack.platform.open_home(AGENT).status == 200
    home = stack.emulator.wait_for(lambda: stack.emulator.home(AGENT))
    text = json.dumps(home["blocks"], ensure_ascii=False)
    assert "My open incidents" in text and "*INC-1* 🔴 SEV1" in text and "On call now" in text


def test_oncall_shows_rotations_and_sets_an_override(stack: Stack) -> None:
    stack.emulator.add_user(BACKUP, "backup")
    with unit_of_work(stack.services.session_factory) as session:
        replace_teams(
            session=session,
            teams=[TeamSpec(name="platform", members=(ONCALL, BACKUP), timezone="UTC", starts_on=date(2026, 11, 1))],
            now=T0,
        )
    stack.platform.slash_command(AGENT, SUPPORT, text="oncall")
    shown = stack.emulator.wait_for(lambda: next((e for e in ephemerals_for(stack, AGENT) if "platform" in e), None))
    assert f"<@{ONCALL}>" in shown or f"<@{BACKUP}>" in shown
    # A member of the rotation sets it (overriding is for the rotation's members and leads, declarers and admins).
    stack.platform.slash_command(ONCALL, SUPPORT, text=f"oncall override <@{BACKUP}|backup> 4h platform")
    assert stack.emulator.wait_for(
        lambda: any(f"<@{BACKUP}> is on call until" in e for e in ephemerals_for(stack, ONCALL))
    )
    stack.platform.slash_command(AGENT, SUPPORT, text="oncall override nobody 4h")
    assert stack.emulator.wait_for(lambda: any("is not a Slack user" in e for e in ephemerals_for(stack, AGENT)))


def test_deployments_reported_by_the_hook_show_up_in_a_new_incidents_thread(stack: Stack) -> None:
    body = json.dumps(
        {
            "service": "upload-api",
            "version": "4.2.0",
            "deployed_at": (T0 - timedelta(minutes=40)).isoformat(),
            "link": "https://ci.example/runs/9",
        }
    )
    request = urllib.request.Request(
        f"{stack.bot_url}/hooks/deployments",
        data=body.encode(),
        method="POST",
        headers={"Authorization": "Bearer hook-secret", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 201
    _, ts = open_incident(stack)
    found = wait_for_reply(stack, ts, "What else happened")
    assert "<https://ci.example/runs/9|upload-api 4.2.0 deployed to production> — 40 min before" in found


def test_deadline_reminders_tag_the_owner_and_can_raise_the_severity(
    database_url: str, clean_db: Any, clock: Any
) -> None:
    stack, servers = start_stack(database_url, clean_db, clock, sev1_within_minutes=45)
    try:
        _, ts = open_incident(stack, severity="SEV3", deadline=int((T0 + timedelta(hours=2)).timestamp()))
        stack.clock.set(T0 + timedelta(minutes=59))
        tick(stack.services)
        assert not [t for t in thread_texts(stack, ts) if "deadline (court filing) is" in t]
        stack.clock.set(T0 + timedelta(minutes=60))
        tick(stack.services)
        first = wait_for_reply(stack, ts, "deadline (court filing) is in 1 h")
        assert first.startswith(f"⏳ <@{AGENT}> *INC-1*") and "SEV1" not in first
        stack.clock.set(T0 + timedelta(minutes=90))
        tick(stack.services)
        assert "is in 30 min" in wait_for_reply(
            stack, ts, "is in 30 min"
        ) and "Severity raised to *SEV1*" in wait_for_reply(stack, ts, "is in 30 min")
        stack.wait_while_scheduling(lambda: root_fields(stack, ts)["Severity"].startswith("SEV1"))
    finally:
        servers[0].stop()
        stack.finish_work()
        servers[1].stop()
