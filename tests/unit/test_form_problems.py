"""Field validation has one home, the domain: each form's validator names what is wrong per field, and `blocks`
shows each problem on the input it belongs to (`response_action: errors`), as the new-incident and resolve forms do."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from blocks.escalation import (
    FEEDBACK_BLOCKS,
    HANDOFF_BLOCKS,
    declare_errors,
    declare_modal,
    engineering_modal,
    escalate_modal,
    feedback_errors,
    feedback_modal,
    handoff_errors,
    path_errors,
)
from blocks.incident_modals import (
    SCOPE_BLOCKS,
    STEP_BLOCKS,
    client_update_errors,
    client_update_modal,
    isolate_modal,
    isolation_errors,
    log_step_errors,
    log_step_modal,
)
from blocks.new_incident import new_incident_errors, new_incident_modal
from blocks.view_state import block_errors
from blocks.workarounds import (
    START_BLOCKS,
    error_changed_errors,
    error_changed_modal,
    start_workaround_errors,
    start_workaround_modal,
)
from bot.domain.channels import ChannelReach, post_in_problems
from bot.domain.client_updates import client_update_problems
from bot.domain.escalations import (
    OTHER_AREA,
    FeedbackForm,
    declare_problems,
    feedback_problems,
    path_problems,
)
from bot.domain.handoff import HandoffForm, handoff_problems
from bot.domain.isolation import Isolation, SimilarIncident
from bot.domain.triage import (
    NOT_OFFERED,
    LoggedStep,
    ScopeDecision,
    StepKind,
    StepOutcome,
    scope_problems,
    step_problems,
)
from bot.domain.workarounds import StartForm, error_changed_problems, start_problems
from bot.models import EscalationKind, FeedbackTrack, Scope, WorkaroundKind
from tests.builders import an_incident
from tests.conftest import T0
from tests.factories import a_report

EMPTY_STEP = LoggedStep(kind=None, description="", outcome=None)
EMPTY_HANDOFF = HandoffForm("", "", "", "", "", "")
EMPTY_FEEDBACK = FeedbackForm(track=None, area=None, use_case="")
EMPTY_START = StartForm(kind=None, description="", client_expectation="", time_box_minutes=60, interval_minutes=None)


# --- the validators: what each form needs, worded for the person ---------------------------------------------


def test_a_step_needs_a_description_a_kind_and_an_outcome() -> None:
    assert step_problems(EMPTY_STEP) == {
        "description": "Say what was done or supposed.",
        "kind": "Choose what it is.",
        "outcome": "Choose the outcome.",
    }
    assert step_problems(LoggedStep(StepKind.HYPOTHESIS, "Proxy timeout", StepOutcome.CONFIRMED)) == {}


def test_a_scope_is_chosen_first_then_related_incidents_must_be_those_offered() -> None:
    assert scope_problems(ScopeDecision(scope=None, related_ids=[99]), offered={12}) == {
        "scope": "Choose how far it reaches."
    }
    assert scope_problems(ScopeDecision(Scope.SYSTEMIC, [12, 99]), offered={12}) == {"related_ids": NOT_OFFERED}
    assert scope_problems(ScopeDecision(Scope.SYSTEMIC, [12]), offered={12, 14}) == {}
    assert scope_problems(ScopeDecision(Scope.ACCOUNT, []), offered=()) == {}


def test_a_client_update_and_a_changed_error_cannot_be_empty() -> None:
    assert client_update_problems("") == {"text": "Write the update the client received."}
    assert client_update_problems("We are on it.") == {}
    assert error_changed_problems("") == {"error": "Paste the error as it shows now."}
    assert error_changed_problems("HTTP 502") == {}


def test_escalating_needs_a_path_and_declaring_a_lead() -> None:
    assert path_problems(None) == {"path": "Choose a path."}
    assert path_problems(EscalationKind.INTERNAL) == {}
    assert declare_problems(None) == {"lead": "Choose the incident lead."}
    assert declare_problems("ULEAD") == {}


def test_engineering_needs_reproduction_expected_actual_and_impact_and_a_bare_numbering_is_empty() -> None:
    missing = "Engineering needs this to act."
    assert handoff_problems(EMPTY_HANDOFF) == dict.fromkeys(("reproduction", "expected", "actual", "impact"), missing)
    draft_left_as_is = HandoffForm("1. ", "Uploads finish", "Stops at 99%", "", "", "Filing due 17:00")
    assert handoff_problems(draft_left_as_is) == {"reproduction": missing}
    assert handoff_problems(HandoffForm("1. Upload a 300 MB bundle", "ok", "fails", "", "", "blocked")) == {}


def test_feedback_needs_a_track_a_listed_area_and_the_use_case() -> None:
    assert feedback_problems(EMPTY_FEEDBACK, ["uploads"]) == {
        "track": "Choose Stability, Messaging or Monitoring.",
        "area": "Choose the product area.",
        "use_case": "Describe what the client was trying to do.",
    }
    unlisted = FeedbackForm(FeedbackTrack.STABILITY, "billing", "Upload a bundle")
    assert feedback_problems(unlisted, ["uploads"]) == {"area": "Choose a product area from the list."}
    assert feedback_problems(FeedbackForm(FeedbackTrack.STABILITY, "uploads", "Upload"), ["uploads"]) == {}
    assert feedback_problems(FeedbackForm(FeedbackTrack.MESSAGING, OTHER_AREA, "Upload"), []) == {}


def test_a_workaround_needs_a_kind_what_will_be_tried_and_what_the_client_expects() -> None:
    assert start_problems(EMPTY_START) == {
        "kind": "Choose a workaround.",
        "description": "Say what exactly will be tried.",
        "client_expectation": "Say what the client was told to expect.",
    }
    ready = StartForm(WorkaroundKind.BATCHING, "Upload in batches of 50", "Done by 16:00", 60, None)
    assert start_problems(ready) == {}


def test_a_form_that_asks_where_to_post_needs_a_channel() -> None:
    assert post_in_problems("") == {"post_in": "Choose a channel for the incident."}
    assert post_in_problems(None) == {}
    assert post_in_problems("CSUPPORT") == {}


def test_the_channel_choice_is_checked_once_the_report_itself_is_fine() -> None:
    broken = a_report(T0, title="")
    assert set(new_incident_errors(broken, "", now=T0)) == {"title"}
    assert new_incident_errors(a_report(T0), "", now=T0) == {"post_in": "Choose a channel for the incident."}
    assert new_incident_errors(a_report(T0), None, now=T0) == {}


# --- blocks: every problem lands on an input of the form it is about -------------------------------------------


@pytest.mark.parametrize(
    ("form_type", "blocks"),
    [
        (LoggedStep, STEP_BLOCKS),
        (ScopeDecision, SCOPE_BLOCKS),
        (HandoffForm, HANDOFF_BLOCKS),
        (StartForm, START_BLOCKS),
        (FeedbackForm, FEEDBACK_BLOCKS),
    ],
)
def test_every_field_of_a_form_has_its_block(form_type: type, blocks: Mapping[str, str]) -> None:
    assert set(blocks) == {f.name for f in dataclasses.fields(form_type)}


def input_blocks(view: Any) -> set[str]:
    shown = view if isinstance(view, dict) else view.to_dict()
    return {b["block_id"] for b in shown["blocks"] if b["type"] == "input"}


def a_similar_incident() -> SimilarIncident:
    return SimilarIncident(12, "INC-12", "Acme", "Uploads fail", "new", T0, ("region eu-west",), 0.4)


INCIDENT = an_incident()
FORMS_AND_THEIR_ERRORS = {
    "log step": (log_step_modal(INCIDENT), log_step_errors(EMPTY_STEP)),
    "isolate": (
        isolate_modal(INCIDENT, Isolation([a_similar_incident()], timedelta(hours=2), 1, "One", likely_systemic=False)),
        isolation_errors(ScopeDecision(None, []), '{"incident_id": 7}')
        | isolation_errors(ScopeDecision(Scope.SYSTEMIC, [99]), '{"incident_id": 7, "offered": [12]}'),
    ),
    "client update": (client_update_modal(INCIDENT, "Draft", "16:00"), client_update_errors("")),
    "escalate": (escalate_modal(INCIDENT, []), path_errors(None)),
    "engineering": (engineering_modal(INCIDENT, EMPTY_HANDOFF, "High", "ENG", jira_configured=True), handoff_errors(EMPTY_HANDOFF)),
    "feedback": (feedback_modal(INCIDENT, ["uploads"], ""), feedback_errors(EMPTY_FEEDBACK, ["uploads"])),
    "declare": (declare_modal(INCIDENT, None), declare_errors(None)),
    "start workaround": (start_workaround_modal(INCIDENT), start_workaround_errors(EMPTY_START)),
    "error changed": (error_changed_modal(INCIDENT, 3, 2), error_changed_errors("")),
    "new incident, channel": (
        new_incident_modal(channel_id="CSUPPORT", unreachable=ChannelReach.NOT_A_MEMBER),
        new_incident_errors(a_report(T0), "", now=T0),
    ),
    "new incident, report": (
        new_incident_modal(channel_id="CSUPPORT"),
        new_incident_errors(a_report(T0, title="", severity=None, blocker=""), None, now=T0),
    ),
}


@pytest.mark.parametrize("name", FORMS_AND_THEIR_ERRORS)
def test_each_problem_is_shown_on_an_input_of_its_form(name: str) -> None:
    view, errors = FORMS_AND_THEIR_ERRORS[name]
    assert errors, "the empty form has problems"
    assert set(errors) <= input_blocks(view)
    assert all(isinstance(message, str) and message for message in errors.values())


def test_a_problem_on_a_field_without_a_block_is_a_bug_not_a_silent_drop() -> None:
    with pytest.raises(KeyError):
        block_errors({"unknown": "Choose one."}, {"known": "known_block"})


def test_severity_is_one_of_the_new_incident_problems() -> None:
    errors = new_incident_errors(a_report(T0, severity=None), None, now=T0)
    assert errors == {"severity": "Choose a severity."}
