"""Findings 5 and 9: every id that comes back from Slack — button values, option values, private_metadata — is
checked again against the requesting workspace (and against what the view offered). Another workspace's incident,
check-in or related incident is answered exactly as one that does not exist, without naming it, and nothing of it
is changed or posted.

BRAVO's member forges each request (Slack signs what its client sends) with ids of ALPHA's incident.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk.models.views import View
from sqlalchemy import func, select

from blocks.escalation import declare_modal, engineering_modal, escalate_modal, feedback_modal
from blocks.ids import EscalationAction, IncidentAction, WorkaroundAction
from blocks.incident_modals import (
    add_details_modal,
    change_status_modal,
    client_update_modal,
    isolate_modal,
    log_step_modal,
)
from blocks.resolution import resolve_modal
from blocks.workarounds import error_changed_modal, progress_modal, start_workaround_modal
from bot.db import unit_of_work
from bot.domain.handoff import HandoffForm
from bot.domain.isolation import Isolation
from bot.domain.workarounds import start_workaround
from bot.models import (
    Escalation,
    EscalationKind,
    EscalationState,
    Event,
    Incident,
    IncidentLink,
    Workaround,
    WorkaroundKind,
)
from bot.sandbox.platform import PlatformResponse, build_state_values
from tests.e2e.conftest import AGENT, SUPPORT
from tests.e2e.test_workspaces import ALPHA, BRAVO, Distribution, Workspace

UNAVAILABLE = "That incident isn't available here. `/triage list` shows the open ones."
NO_CHECKIN = "That check-in isn't available here. `/triage workarounds` shows the active ones."
NO_ESCALATION = "That escalation isn't available here. `/triage show INC-n` shows an incident's escalations."
MISSING_ID = 999


def envelope(workspace: Workspace, kind: str, user: str = AGENT) -> dict[str, Any]:
    emulator = workspace.emulator
    return {
        "type": kind,
        "team": {"id": emulator.team_id, "domain": emulator.team_domain},
        "user": {"id": user, "username": "agent", "name": "agent", "team_id": emulator.team_id},
        "api_app_id": emulator.app_id,
        "token": workspace.platform.verification_token,
        "trigger_id": emulator.new_trigger_id(user),
        "is_enterprise_install": False,
        "enterprise": None,
    }


def send(workspace: Workspace, payload: dict[str, Any]) -> PlatformResponse:
    response = workspace.platform.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")
    assert response.status == 200, response.body
    return response


def click(workspace: Workspace, ts: str, action_id: str, value: str) -> str:
    """A block_actions request for a button on the workspace's own root message, with any value; what the clicker
    is told."""
    payload = envelope(workspace, "block_actions")
    payload.update(
        container={"type": "message", "message_ts": ts, "channel_id": SUPPORT, "is_ephemeral": False},
        channel={"id": SUPPORT, "name": "support"},
        message=workspace.emulator.message(SUPPORT, ts),
        state={"values": {}},
        response_url=workspace.emulator.new_response_url(SUPPORT, AGENT, message_ts=ts),
        actions=[{"action_id": action_id, "block_id": "forged", "type": "button", "value": value, "action_ts": "1.0"}],
    )
    before = len(workspace.emulator.ephemerals(SUPPORT, AGENT))
    send(workspace, payload)
    shown = workspace.emulator.wait_for(lambda: workspace.emulator.ephemerals(SUPPORT, AGENT)[before:])
    return str(shown[0]["text"])


def filled(view: dict[str, Any]) -> dict[str, Any]:
    """Every required input answered the way a person would, so only the ids decide the outcome."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block.get("type") != "input" or block.get("optional"):
            continue
        element = block["element"]
        options = [o["value"] for o in element.get("options") or []]
        kind = element["type"]
        if kind in ("static_select", "radio_buttons"):
            values[element["action_id"]] = options[0]
        elif kind in ("checkboxes", "multi_static_select"):
            values[element["action_id"]] = options[:1]
        elif kind == "users_select":
            values[element["action_id"]] = AGENT
        elif kind == "number_input":
            values[element["action_id"]] = "30"
        elif kind == "datepicker":
            values[element["action_id"]] = "2026-12-24"
        else:
            values[element["action_id"]] = "The upload stops at 99%"
    return build_state_values(view["blocks"], values, enforce_required=True)


def submit(workspace: Workspace, view: dict[str, Any]) -> dict[str, str]:
    """A view_submission of `view` from the workspace; the errors shown on the form (none: it was accepted)."""
    payload = envelope(workspace, "view_submission")
    payload.update(view={**view, "id": f"VFORGED{time.monotonic_ns()}", "state": {"values": filled(view)}})
    response = send(workspace, payload)
    data = response.json() if response.body.strip() else {}
    errors: dict[str, str] = data.get("errors") or {}
    return errors


class Alpha:
    """ALPHA's incident with a running workaround: what BRAVO's requests must not reach."""

    def __init__(self, distribution: Distribution) -> None:
        self.distribution = distribution
        for team in (ALPHA, BRAVO):
            distribution.install(team)
        self.ts = distribution.open_incident(ALPHA, "Alpha Legal")
        self.bravo_ts = distribution.open_incident(BRAVO, "Bravo Partners")
        with unit_of_work(distribution.services.session_factory) as session:
            self.incident = session.scalars(select(Incident).where(Incident.team_id == ALPHA)).one()
            self.workaround = start_workaround(
                session=session,
                incident=self.incident,
                kind=WorkaroundKind.RETRY_CYCLE,
                description="retry every 10 minutes",
                client_expectation="an upload within the hour",
                owner_id=AGENT,
                time_box=timedelta(hours=1),
                interval=timedelta(minutes=10),
                now=distribution.clock.now(),
            )
        self.before = self.state()

    def state(self) -> tuple[Any, ...]:
        """ALPHA's incident as stored, and what ALPHA's Slack has seen sent."""
        self.distribution.services.background.drain(timeout=10)
        alpha = self.distribution.workspaces[ALPHA].emulator
        with unit_of_work(self.distribution.services.session_factory) as session:
            incident = session.get_one(Incident, self.incident.id)
            workaround = session.get_one(Workaround, self.workaround.id)
            events = session.scalar(select(func.count()).select_from(Event).where(Event.incident_id == incident.id))
            links = session.scalar(select(func.count()).select_from(IncidentLink))
        sent = [c.method for c in alpha.calls() if c.method.startswith(("chat.", "conversations.", "views."))]
        return (incident.version, incident.status, incident.owner_id, events, links, workaround.ends_at, sent)


@pytest.fixture
def alpha(distribution: Distribution) -> Alpha:
    return Alpha(distribution)


@pytest.mark.parametrize("action", list(IncidentAction))
def test_every_incident_button_with_another_workspaces_id_is_answered_as_a_missing_incident(
    alpha: Alpha, action: IncidentAction
) -> None:
    bravo = alpha.distribution.workspaces[BRAVO]
    theirs = click(bravo, alpha.bravo_ts, action.value, str(alpha.incident.id))
    missing = click(bravo, alpha.bravo_ts, action.value, str(MISSING_ID))
    assert theirs == missing == UNAVAILABLE
    assert bravo.emulator.current_modal(AGENT) is None
    assert alpha.state() == alpha.before


@pytest.mark.parametrize("action", list(WorkaroundAction))
def test_every_check_in_button_with_another_workspaces_workaround_is_answered_as_a_missing_one(
    alpha: Alpha, action: WorkaroundAction
) -> None:
    bravo = alpha.distribution.workspaces[BRAVO]
    theirs = click(bravo, alpha.bravo_ts, action.value, f"{alpha.workaround.id}:1")
    missing = click(bravo, alpha.bravo_ts, action.value, f"{MISSING_ID}:1")
    assert theirs == missing == NO_CHECKIN
    assert bravo.emulator.current_modal(AGENT) is None
    assert alpha.state() == alpha.before


def test_retry_with_another_workspaces_escalation_is_answered_as_a_missing_one(alpha: Alpha) -> None:
    with unit_of_work(alpha.distribution.services.session_factory) as session:
        failed = Escalation(
            incident_id=alpha.incident.id,
            kind=EscalationKind.ENGINEERING,
            state=EscalationState.FAILED,
            requested_by=AGENT,
            requested_at=alpha.distribution.clock.now(),
            last_error="Jira rejected the credentials (JIRA_USER/JIRA_API_TOKEN)",
            details={},
            idempotency_key=f"{alpha.incident.key}:engineering",
        )
        session.add(failed)
        session.flush()
        escalation_id = failed.id
    before = alpha.state()
    bravo = alpha.distribution.workspaces[BRAVO]
    theirs = click(bravo, alpha.bravo_ts, EscalationAction.RETRY.value, str(escalation_id))
    missing = click(bravo, alpha.bravo_ts, EscalationAction.RETRY.value, str(MISSING_ID))
    assert theirs == missing == NO_ESCALATION
    assert alpha.state() == before
    with unit_of_work(alpha.distribution.services.session_factory) as session:
        assert session.get_one(Escalation, escalation_id).state == EscalationState.FAILED


def _isolation() -> Isolation:
    return Isolation(
        matches=[], window=timedelta(hours=24), other_clients=0, summary="No similar incidents.", likely_systemic=False
    )


MODALS: dict[str, Callable[[Incident, Workaround], View]] = {
    "log_step": lambda i, _w: log_step_modal(i),
    "change_status": lambda i, _w: change_status_modal(i),
    "add_details": lambda i, _w: add_details_modal(i, []),
    "isolate": lambda i, _w: isolate_modal(i, _isolation()),
    "client_update": lambda i, _w: client_update_modal(i, "We are on it.", "10:30 UTC"),
    "escalate": lambda i, _w: escalate_modal(i, []),
    "engineering": lambda i, _w: engineering_modal(
        i, HandoffForm("", "", "", "", "", ""), "Highest", "ENG", jira_configured=True
    ),
    "feedback": lambda i, _w: feedback_modal(i, [], "upload the bundle"),
    "declare": lambda i, _w: declare_modal(i, AGENT),
    "start_workaround": lambda i, _w: start_workaround_modal(i),
    "error_changed": lambda i, w: error_changed_modal(i, w.id, 1),
    "progress": lambda i, w: progress_modal(i, w),
    "resolve": lambda i, _w: resolve_modal(i),
}


@pytest.mark.parametrize("modal", list(MODALS))
def test_every_modal_submitted_with_another_workspaces_incident_changes_nothing(alpha: Alpha, modal: str) -> None:
    bravo = alpha.distribution.workspaces[BRAVO]
    view = MODALS[modal](alpha.incident, alpha.workaround).to_dict()
    missing = json.loads(view["private_metadata"]) | {"incident_id": MISSING_ID}
    theirs, nothing = submit(bravo, view), submit(bravo, {**view, "private_metadata": json.dumps(missing)})
    assert theirs == nothing and list(theirs.values()) == [UNAVAILABLE], theirs
    assert alpha.state() == alpha.before


@pytest.mark.parametrize("command", ["declare", "show", "summary", "audit", "correct {} 1 it was Safari"])
def test_commands_naming_another_workspaces_incident_are_answered_as_for_a_missing_one(
    alpha: Alpha, command: str
) -> None:
    typed = command if "{}" in command else f"{command} {{}}"
    theirs = alpha.distribution.ask(BRAVO, typed.format(f"INC-{alpha.incident.id}"))
    missing = alpha.distribution.ask(BRAVO, typed.format(f"INC-{MISSING_ID}"))
    assert _texts(theirs) == _texts(missing) == [UNAVAILABLE]
    assert f"INC-{alpha.incident.id}" not in theirs and "Alpha Legal" not in theirs
    assert alpha.distribution.workspaces[BRAVO].emulator.current_modal(AGENT) is None
    assert alpha.state() == alpha.before


def _texts(shown: str) -> list[str]:
    """The texts of the ephemeral answers (their timestamps differ)."""
    return [m["text"] for m in json.loads(shown)]


def test_isolation_links_only_incidents_it_offered_and_only_of_its_own_workspace(alpha: Alpha) -> None:
    distribution = alpha.distribution
    bravo = distribution.workspaces[BRAVO]
    with unit_of_work(distribution.services.session_factory) as session:
        own = session.scalars(select(Incident).where(Incident.team_id == BRAVO)).one()
    # The form offered nothing to link, and the submission names ALPHA's incident anyway.
    view = isolate_modal(own, _isolation()).to_dict()
    view["blocks"].append(
        {
            "type": "input",
            "block_id": "related",
            "optional": True,
            "label": {"type": "plain_text", "text": "Link these incidents"},
            "element": {
                "type": "checkboxes",
                "action_id": "related",
                "options": [{"text": {"type": "plain_text", "text": "INC-1"}, "value": str(alpha.incident.id)}],
            },
        }
    )
    view["blocks"][-1]["optional"] = False
    assert submit(bravo, view) == {"related": "Link only incidents from this list."}
    # Even with private_metadata claiming the form offered it, another workspace's incident is never linked.
    forged = json.loads(view["private_metadata"]) | {"offered": [alpha.incident.id]}
    assert submit(bravo, {**view, "private_metadata": json.dumps(forged)}) == {}
    distribution.services.background.drain(timeout=10)
    with unit_of_work(distribution.services.session_factory) as session:
        assert session.get_one(Incident, own.id).scope is not None, "the scope itself was recorded"
    assert alpha.state() == alpha.before, "nothing linked, nothing posted in ALPHA's thread"
    assert not any("Linked" in t for t in distribution.workspaces[ALPHA].thread(alpha.ts))


@pytest.mark.parametrize("metadata", ["not json", "[1]", '{"incident_id": true}', '{"incident_id": "1"}', "{}"])
@pytest.mark.parametrize("modal", ["log_step", "error_changed", "declare"])
def test_unreadable_private_metadata_is_answered_as_a_missing_incident(alpha: Alpha, modal: str, metadata: str) -> None:
    view = MODALS[modal](alpha.incident, alpha.workaround).to_dict()
    errors = submit(alpha.distribution.workspaces[ALPHA], {**view, "private_metadata": metadata})
    assert list(errors.values()) == [UNAVAILABLE]
    assert alpha.state() == alpha.before
