"""Finding 8: who may do what is decided in one place, and a signed request from someone without the role changes
nothing — it is answered with one line saying who may."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from blocks.escalation import declare_modal
from blocks.resolution import resolve_modal
from bot.clock import ManualClock
from bot.db import unit_of_work
from bot.models import Event, Incident, IncidentStatus, Severity
from bot.sandbox.platform import build_state_values
from tests.e2e.conftest import AGENT, ONCALL, SUPPORT, Stack, start_stack
from tests.e2e.hostile import settle, submit_state
from tests.e2e.test_triage_workflow import ephemerals_for, open_incident, root_fields, wait_for_reply

MEMBER, ADMIN, GUEST, OUTSIDER, LEAD = "U0MEMBER", "U0ADMIN", "U0GUEST", "U0OUTSIDER", "U0LEAD"
LEADS_GROUP = "S0LEADS"
RESOLUTION = {"root_cause": "Proxy timeout", "resolution": "Timeout raised"}


def people(stack: Stack) -> None:
    stack.emulator.add_user(MEMBER, "member", real_name="Mo Member")
    stack.emulator.add_user(ADMIN, "admin", real_name="Ada Admin", is_admin=True)
    stack.emulator.add_user(GUEST, "guest", real_name="Gus Guest", guest="single")
    stack.emulator.add_user(OUTSIDER, "outsider", real_name="Oz Outsider", team_id="T0ELSEWHERE")


def the_incident(stack: Stack, incident_id: int) -> Incident:
    with unit_of_work(stack.services.session_factory) as session:
        return session.get_one(Incident, incident_id)


def events(stack: Stack, incident_id: int, kind: str | None = None) -> int:
    with unit_of_work(stack.services.session_factory) as session:
        query = select(func.count()).select_from(Event).where(Event.incident_id == incident_id)
        return int(session.scalar(query.where(Event.kind == kind) if kind else query) or 0)


def told(stack: Stack, user: str, fragment: str) -> str:
    found: str = stack.emulator.wait_for(lambda: next((e for e in ephemerals_for(stack, user) if fragment in e), None))
    return found


def forged_submission(stack: Stack, user: str, view: dict[str, Any], values: dict[str, Any]) -> dict[str, str]:
    """A view_submission of a form the user was never shown (Slack signs whatever its client sends): the errors."""
    state = build_state_values(view["blocks"], values, enforce_required=False)
    response = submit_state(stack, user, view, state, view_id=f"VFORGED{len(stack.emulator.calls())}")
    assert response.status == 200
    errors: dict[str, str] = response.json()["errors"]
    return errors


@pytest.fixture
def involved(stack: Stack) -> tuple[int, str]:
    """An incident reported by AGENT, ONCALL paged, and people with and without roles around it."""
    people(stack)
    return open_incident(stack)


def test_an_ordinary_member_can_neither_resolve_nor_change_the_severity_of_someone_elses_incident(
    stack: Stack, involved: tuple[int, str]
) -> None:
    incident_id, ts = involved
    stack.platform.click_button(MEMBER, "incident_resolve", channel_id=SUPPORT, message_ts=ts)
    refusal = told(stack, MEMBER, "may resolve or close INC-1")
    assert f"Only the owner, lead or reporter of INC-1 (<@{AGENT}>)" in refusal and f"paged (<@{ONCALL}>)" in refusal
    assert stack.emulator.current_modal(MEMBER) is None, "refused before any form opens"

    stack.platform.click_button(MEMBER, "incident_change_status", channel_id=SUPPORT, message_ts=ts)
    status_form = stack.emulator.wait_for(lambda: stack.emulator.current_modal(MEMBER))  # working on it is fine
    for change in ({"status": "resolved"}, {"severity": "SEV3"}):
        answer = stack.platform.submit_view(status_form["id"], MEMBER, {"reason": "done, I think", **change})
        assert "Only the owner, lead or reporter of INC-1" in answer.json()["errors"]["status"]

    # The attacker skips the button and sends the resolve form itself.
    errors = forged_submission(stack, MEMBER, resolve_modal(the_incident(stack, incident_id)).to_dict(), RESOLUTION)
    assert errors["root_cause"].startswith("Only the owner, lead or reporter of INC-1")
    settle(stack)
    incident = the_incident(stack, incident_id)
    assert (incident.status, incident.severity, incident.resolved_at) == (IncidentStatus.NEW, Severity.SEV1, None)
    assert events(stack, incident_id, "status_changed") == events(stack, incident_id, "severity_changed") == 0


def test_the_playbook_still_flows_members_acknowledge_owners_and_admins_resolve(
    stack: Stack, involved: tuple[int, str]
) -> None:
    incident_id, ts = involved
    stack.platform.click_button(MEMBER, "incident_acknowledge", channel_id=SUPPORT, message_ts=ts)
    wait_for_reply(stack, ts, f"<@{MEMBER}> acknowledged")
    form = stack.platform
    form.click_button(MEMBER, "incident_change_status", channel_id=SUPPORT, message_ts=ts)
    status_form = stack.emulator.wait_for(lambda: stack.emulator.current_modal(MEMBER))
    assert form.submit_view(status_form["id"], MEMBER, {"severity": "SEV2", "reason": "owner's call"}).ok
    wait_for_reply(stack, ts, "changed severity SEV1 → *SEV2*")
    form.click_button(ADMIN, "incident_resolve", channel_id=SUPPORT, message_ts=ts)
    resolve = stack.emulator.wait_for(lambda: stack.emulator.current_modal(ADMIN))
    assert form.submit_view(resolve["id"], ADMIN, RESOLUTION).ok
    stack.emulator.wait_for(lambda: the_incident(stack, incident_id).status == IncidentStatus.RESOLVED)


def test_the_audit_trail_is_corrected_only_by_the_entrys_author_owner_lead_declarers_or_admins(
    stack: Stack, involved: tuple[int, str]
) -> None:
    incident_id, ts = involved
    stack.platform.slash_command(MEMBER, SUPPORT, text="correct INC-1 2 it was Safari, not Chrome")
    refusal = told(stack, MEMBER, "may correct the audit trail of INC-1")
    assert refusal.startswith(f"Only the author of the entry (<@{AGENT}>), the owner or lead of INC-1")
    stack.platform.slash_command(ONCALL, SUPPORT, text="correct INC-1 3 nobody was paged")  # paged, not an author
    told(stack, ONCALL, "may correct the audit trail of INC-1")
    settle(stack)
    assert events(stack, incident_id, "correction") == 0

    stack.platform.slash_command(ADMIN, SUPPORT, text="correct INC-1 2 it was Safari 17")
    told(stack, ADMIN, "Recorded: a correction to entry #2 of INC-1")
    stack.platform.slash_command(AGENT, SUPPORT, text="correct INC-1 2 and version 17.2")  # the entry's author
    told(stack, AGENT, "Recorded: a correction to entry #2 of INC-1")
    wait_for_reply(stack, ts, "and version 17.2")
    assert events(stack, incident_id, "correction") == 2


@pytest.mark.parametrize("stranger", [GUEST, OUTSIDER], ids=["guest", "from-another-organisation"])
def test_guests_and_people_from_other_organisations_see_nothing_and_change_nothing(
    stack: Stack, involved: tuple[int, str], stranger: str
) -> None:
    incident_id, ts = involved
    before = events(stack, incident_id)
    for text in ("list", "show INC-1", "report 30d", "oncall"):
        stack.platform.slash_command(stranger, SUPPORT, text=text)
    stack.platform.click_button(stranger, "incident_acknowledge", channel_id=SUPPORT, message_ts=ts)
    stack.platform.click_button(stranger, "incident_log_step", channel_id=SUPPORT, message_ts=ts)
    stack.platform.open_home(stranger)
    home = stack.emulator.wait_for(lambda: stack.emulator.home(stranger))
    settle(stack)
    answers = ephemerals_for(stack, stranger)
    assert len(answers) == 6 and all("Only full members of this workspace" in a for a in answers), answers
    assert "Exhibit upload" not in json.dumps(answers) and "Hartley" not in json.dumps(answers)
    assert "Only full members of this workspace" in json.dumps(home) and "INC-1" not in json.dumps(home)
    assert stack.emulator.current_modal(stranger) is None
    assert events(stack, incident_id) == before and root_fields(stack, ts)["Owner"] == "_Unassigned_"


@pytest.fixture
def group_declarers(database_url: str, clean_db: Engine, clock: ManualClock) -> Iterator[Stack]:
    """MAJOR_INCIDENT_DECLARERS names a user group (S…): its members may declare, nobody else (admins aside)."""
    running, servers = start_stack(database_url, clean_db, clock, major_incident_declarers=LEADS_GROUP)
    people(running)
    running.emulator.add_user(LEAD, "lead", real_name="Lena Lead")
    running.emulator.add_usergroup(LEADS_GROUP, "incident-leads", [LEAD])
    yield running
    servers[0].stop()
    running.finish_work()
    for server in servers[1:]:
        server.stop()


def test_declarers_given_as_a_user_group_may_declare_and_others_may_not(group_declarers: Stack) -> None:
    stack = group_declarers
    incident_id, ts = open_incident(stack)
    stack.platform.slash_command(AGENT, SUPPORT, text="declare INC-1")
    refusal = told(stack, AGENT, "may start incident management")
    assert f"Only an incident-management declarer (<!subteam^{LEADS_GROUP}>) or a workspace admin" in refusal
    errors = forged_submission(
        stack, AGENT, declare_modal(the_incident(stack, incident_id), None).to_dict(), {"lead": AGENT}
    )
    assert "may start incident management" in errors["lead"]
    settle(stack)
    assert stack.emulator.calls("conversations.create") == [] and not the_incident(stack, incident_id).is_major

    stack.platform.slash_command(LEAD, SUPPORT, text="declare INC-1")
    form = stack.emulator.wait_for(lambda: stack.emulator.current_modal(LEAD))
    assert stack.platform.submit_view(form["id"], LEAD, {"lead": LEAD}).ok
    reply = wait_for_reply(stack, ts, f"<@{LEAD}> started incident management for *INC-1*")
    assert "incident lead <@U0LEAD>" in reply
    assert the_incident(stack, incident_id).lead_id == LEAD
    assert [c.args["usergroup"] for c in stack.emulator.calls("usergroups.users.list")] == [LEADS_GROUP], (
        "the group is asked once a minute per workspace, not on every request"
    )


def test_when_slack_cannot_say_who_someone_is_nothing_is_done(stack: Stack, involved: tuple[int, str]) -> None:
    incident_id, ts = involved
    stack.emulator.fail_next("users.info", error="missing_scope", status=200, extra={"needed": "users:read"})
    stack.platform.click_button(MEMBER, "incident_acknowledge", channel_id=SUPPORT, message_ts=ts)
    refusal = told(stack, MEMBER, "I can't check roles")
    assert "the app lacks a Slack scope (users:read). Ask an admin to reinstall it" in refusal
    settle(stack)
    assert root_fields(stack, ts)["Owner"] == "_Unassigned_" and events(stack, incident_id, "acknowledged") == 0
