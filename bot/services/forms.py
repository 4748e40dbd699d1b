"""What a button or a chosen escalation path shows next: its form, once the person may use it and the incident is
in a state for it. A refusal (a `DomainError`: not permitted, not open, already escalated) comes before any form
opens, so listeners only parse the request, ask for the form here and open it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk.models.views import View

from blocks.escalation import declare_modal, engineering_modal, escalate_modal, feedback_modal
from blocks.ids import IncidentAction
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
from bot.domain.errors import DomainError
from bot.domain.escalations import escalations_of
from bot.domain.incidents import load_incident
from bot.domain.lifecycle import require_open
from bot.domain.permissions import Action
from bot.domain.triage import missing_environment
from bot.domain.workarounds import active_workarounds
from bot.models import EscalationKind, Incident
from bot.services.container import Services
from bot.services.escalation.engineering import handoff_draft
from bot.services.escalation.incident_management import check_can_declare
from bot.services.escalation.internal_notice import notify_internal_channel
from bot.services.incident_actions import draft_update, isolation_for
from bot.services.resolution import resolvable
from bot.services.roles import permit_on_incident
from bot.services.workarounds import answer_to, incident_of_workaround, stop

FormOf = Callable[[Services, int], View]


# --- the forms an incident's buttons open ------------------------------------------------------------------


def button_form(services: Services, action: IncidentAction, incident_id: int, user_id: str) -> View:
    """The form `action`'s button opens on the incident, once the person may do what it is for."""
    needed = Action.RESOLVE if action == IncidentAction.RESOLVE else Action.WORK
    permit_on_incident(services, needed, user_id, incident_id)
    return BUTTON_FORMS[action](services, incident_id)


def _of_open_incident(doing: str, build: Callable[[Incident], View]) -> FormOf:
    """A form about an incident that must still be open (`doing`: what it can't be once it is not, for the refusal)."""

    def form(services: Services, incident_id: int) -> View:
        with unit_of_work(services.session_factory) as session:
            incident = load_incident(session, incident_id, services.workspace)
            require_open(incident, doing)
            return build(incident)

    return form


def _isolate(services: Services, incident_id: int) -> View:
    incident, found = isolation_for(services, incident_id)
    return isolate_modal(incident, found)


def _escalate(services: Services, incident_id: int) -> View:
    """The path chooser, showing the escalations already made."""
    with unit_of_work(services.session_factory) as session:
        incident = load_incident(session, incident_id, services.workspace)
        require_open(incident, "escalated")
        return escalate_modal(
            incident,
            escalations_of(session=session, incident_id=incident_id),
            jira_configured=services.settings.jira_configured,
        )


def _workaround(*, progress: bool) -> FormOf:
    """Progress on the running workaround when asked for and there is one; else the form to start one."""

    def form(services: Services, incident_id: int) -> View:
        with unit_of_work(services.session_factory) as session:
            incident = load_incident(session, incident_id, services.workspace)
            require_open(incident, "given a workaround")
            running = active_workarounds(session=session, incident_id=incident_id)
            if progress and running:
                return progress_modal(incident, running[0])
            return start_workaround_modal(incident)

    return form


def _client_update(services: Services, incident_id: int) -> View:
    draft = draft_update(services, incident_id)
    return client_update_modal(draft.incident, draft.text, draft.next_due_label)


def _resolve(services: Services, incident_id: int) -> View:
    incident, stopping = resolvable(services, incident_id)
    return resolve_modal(incident, stopping=stopping)


def _feedback(services: Services, incident_id: int) -> View:
    """Also after resolving: feedback is how an incident closes the loop."""
    with unit_of_work(services.session_factory) as session:
        incident = load_incident(session, incident_id, services.workspace)
        return feedback_modal(incident, list(services.settings.product_area_pms), incident.blocker[:2000])


BUTTON_FORMS: dict[IncidentAction, FormOf] = {
    IncidentAction.ADD_DETAILS: _of_open_incident("changed", lambda i: add_details_modal(i, missing_environment(i))),
    IncidentAction.LOG_STEP: _of_open_incident("changed", log_step_modal),
    IncidentAction.CHANGE_STATUS: _of_open_incident("changed", change_status_modal),
    IncidentAction.ISOLATE: _isolate,
    IncidentAction.CLIENT_UPDATE: _client_update,
    IncidentAction.ESCALATE: _escalate,
    IncidentAction.START_WORKAROUND: _workaround(progress=False),
    IncidentAction.WORKAROUND_PROGRESS: _workaround(progress=True),
    IncidentAction.RESOLVE: _resolve,
    IncidentAction.FILE_FEEDBACK: _feedback,
}


# --- the escalation paths ----------------------------------------------------------------------------------


def escalation_path_form(services: Services, incident_id: int, path: EscalationKind, user_id: str) -> View | None:
    """The path chosen: the internal notice is queued at once (None: nothing more to ask); every other path goes
    on in its own form."""
    return PATH_FORMS[path](services, incident_id, user_id)


def _internal_notice(services: Services, incident_id: int, user_id: str) -> None:
    notify_internal_channel(services, incident_id, user_id)


def _engineering(services: Services, incident_id: int, _user_id: str) -> View:
    draft = handoff_draft(services, incident_id)
    return engineering_modal(
        draft.incident,
        draft.form,
        draft.priority,
        services.settings.jira_project,
        jira_configured=services.settings.jira_configured,
    )


def declare_form(services: Services, incident_id: int, user_id: str) -> View:
    """The incident-management form, only for who may declare it, on an open incident that has no channel yet."""
    incident = check_can_declare(services, incident_id, user_id)
    return declare_modal(incident, incident.owner_id)


PATH_FORMS: dict[EscalationKind, Callable[[Services, int, str], View | None]] = {
    EscalationKind.INTERNAL: _internal_notice,
    EscalationKind.ENGINEERING: _engineering,
    EscalationKind.PRODUCT_FEEDBACK: lambda services, incident_id, _user_id: _feedback(services, incident_id),
    EscalationKind.INCIDENT_MANAGEMENT: declare_form,
}


# --- workaround questions, whose buttons name the workaround ---------------------------------------------------


def error_changed_form(services: Services, workaround_id: int, number: int, user_id: str) -> View:
    """The form for the new error of check-in `number`, unless that check-in was answered already."""
    incident_id = incident_of_workaround(services, workaround_id)
    permit_on_incident(services, Action.WORK, user_id, incident_id)
    with unit_of_work(services.session_factory) as session:
        incident = load_incident(session, incident_id, services.workspace)
        answered = answer_to(services, session, incident, workaround_id, number)
        if answered is not None:
            raise DomainError(answered)
        return error_changed_modal(incident, workaround_id, number)


@dataclass(frozen=True)
class NextForm:
    """A change made, and the form to go on with: `incident_id` is whose queued messages to send."""

    incident_id: int
    view: View


def stop_and_choose_another(services: Services, workaround_id: int, user_id: str, *, prompt: int) -> NextForm:
    """Stop a workaround from its time-box question (`prompt`), and offer the form to start the next one."""
    incident_id = incident_of_workaround(services, workaround_id)
    stop(services, incident_id, workaround_id, user_id, prompt=prompt)
    return NextForm(incident_id, button_form(services, IncidentAction.START_WORKAROUND, incident_id, user_id))
