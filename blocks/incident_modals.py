"""Modals opened from an incident's buttons, and reading their submissions back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from blocks.ids import IncidentModal, ModalField
from blocks.new_incident import details_inputs, severity_option
from blocks.text import escape_mrkdwn, truncate
from blocks.view_state import block_errors, choice, member, state, text, whole_number
from bot.domain.client_updates import MAX_UPDATE_CHARS, client_update_problems
from bot.domain.glossary import SCOPES, status_label
from bot.domain.incidents import DetailsReport, EnvironmentReport
from bot.domain.isolation import Isolation
from bot.domain.lifecycle import ALLOWED_TRANSITIONS
from bot.domain.triage import (
    KIND_LABELS,
    OUTCOME_LABELS,
    LoggedStep,
    ScopeDecision,
    StepKind,
    StepOutcome,
    scope_problems,
    step_problems,
)
from bot.models import Incident, IncidentStatus, Scope, Severity

F = ModalField
SCOPE_LABELS = SCOPES
MAX_RELATED = 10


NO_ID = 0  # no incident or workaround has it: unreadable metadata is answered as a missing one


def metadata_id(private_metadata: str, key: str = "incident_id") -> int:
    """A whole number the modal keeps in its private_metadata (the incident's id by default); NO_ID if unreadable."""
    try:
        value = json.loads(private_metadata).get(key)
    except (ValueError, AttributeError):
        return NO_ID
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else NO_ID


def incident_id_of(private_metadata: str) -> int:
    return metadata_id(private_metadata)


def offered_ids(private_metadata: str) -> set[int]:
    """The incidents a modal offered to pick from (the isolate modal's related incidents)."""
    try:
        offered = json.loads(private_metadata).get("offered") or []
    except (ValueError, AttributeError):
        return set()
    return (
        {n for n in offered if isinstance(n, int) and not isinstance(n, bool)} if isinstance(offered, list) else set()
    )


def _modal(
    incident: Incident,
    callback: IncidentModal,
    title: str,
    submit: str,
    blocks: Sequence[Block],
    *,
    offered: Sequence[int] = (),
) -> View:
    metadata: dict[str, object] = {"incident_id": incident.id}
    if offered:
        metadata["offered"] = list(offered)
    return View(
        type="modal",
        callback_id=callback.value,
        title=title,
        submit=submit,
        close="Cancel",
        private_metadata=json.dumps(metadata),
        blocks=[SectionBlock(text=f"*{incident.key}* · {escape_mrkdwn(truncate(incident.title, 200))}"), *blocks],
    )


def _option(value: str, text: str) -> Option:
    return Option(value=value, text=text)


def log_step_modal(incident: Incident) -> View:
    kinds = [_option(k.value, KIND_LABELS[k]) for k in StepKind]
    outcomes = [_option(o.value, OUTCOME_LABELS[o].capitalize()) for o in StepOutcome]
    return _modal(
        incident,
        IncidentModal.LOG_STEP,
        "Log a step",
        "Log it",
        [
            InputBlock(
                block_id=F.STEP_KIND,
                label="What is it",
                element=RadioButtonsElement(action_id=F.STEP_KIND, options=kinds, initial_option=kinds[2]),
            ),
            InputBlock(
                block_id=F.STEP_DESCRIPTION,
                label="What was done or supposed",
                element=PlainTextInputElement(
                    action_id=F.STEP_DESCRIPTION,
                    multiline=True,
                    max_length=2000,
                    placeholder="e.g. Re-uploaded the same 250 MB file from Chrome 126 on Windows 11",
                ),
            ),
            InputBlock(
                block_id=F.STEP_OUTCOME,
                label="Outcome",
                element=RadioButtonsElement(action_id=F.STEP_OUTCOME, options=outcomes, initial_option=outcomes[2]),
            ),
        ],
    )


def change_status_modal(incident: Incident) -> View:
    statuses = [incident.status, *ALLOWED_TRANSITIONS[incident.status]]
    status_options = [_option(s.value, status_label(s)) for s in statuses]
    return _modal(
        incident,
        IncidentModal.CHANGE_STATUS,
        "Status and severity",
        "Save",
        [
            InputBlock(
                block_id=F.STATUS,
                label="Status",
                element=StaticSelectElement(
                    action_id=F.STATUS, options=status_options, initial_option=status_options[0]
                ),
            ),
            InputBlock(
                block_id=F.SEVERITY,
                label="Severity",
                element=StaticSelectElement(
                    action_id=F.SEVERITY,
                    options=[severity_option(s) for s in Severity],
                    initial_option=severity_option(incident.severity),
                ),
            ),
            InputBlock(
                block_id=F.REASON,
                label="Why (shown in the audit trail)",
                optional=True,
                element=PlainTextInputElement(action_id=F.REASON, max_length=300),
            ),
        ],
    )


def details_of(incident: Incident) -> DetailsReport:
    env = incident.environment
    browser = " ".join(p for p in (env.browser, env.browser_version) if p) if env else None
    return DetailsReport(
        workflow=incident.workflow,
        region=incident.region,
        environment=EnvironmentReport(
            file_size=env.file_size_text if env else None,
            browser=browser or None,
            os=env.os if env else None,
            started=env.started_text if env else None,
            frequency=env.frequency if env else None,
            already_tried=env.already_tried if env else None,
        ),
    )


def add_details_modal(incident: Incident, missing: Sequence[str]) -> View:
    intro = f"_Still missing: {', '.join(missing)}._" if missing else "_Everything the playbook asks for is recorded._"
    return _modal(
        incident,
        IncidentModal.ADD_DETAILS,
        "Add details",
        "Save",
        [SectionBlock(text=intro), *details_inputs(details_of(incident))],
    )


def isolate_modal(incident: Incident, isolation: Isolation) -> View:
    scopes = [_option(s.value, SCOPE_LABELS[s]) for s in Scope]
    suggested = (
        Scope.SYSTEMIC if isolation.likely_systemic else Scope(incident.scope) if incident.scope else Scope.ACCOUNT
    )
    blocks: list[Block] = [
        SectionBlock(text=escape_mrkdwn(isolation.summary)),
        InputBlock(
            block_id=F.SCOPE,
            label="How far does it reach?",
            element=RadioButtonsElement(
                action_id=F.SCOPE, options=scopes, initial_option=scopes[list(Scope).index(suggested)]
            ),
        ),
    ]
    related = [
        _option(str(m.incident_id), truncate(f"{m.key} {m.client_name}: {m.title} ({', '.join(m.shared)})", 75))
        for m in isolation.matches[:MAX_RELATED]
    ]
    if related:
        blocks.append(
            InputBlock(
                block_id=F.RELATED,
                label="Link these incidents (same cause)",
                optional=True,
                element=CheckboxesElement(
                    action_id=F.RELATED, options=related, initial_options=related if isolation.likely_systemic else None
                ),
            )
        )
    offered = [m.incident_id for m in isolation.matches[:MAX_RELATED]]
    return _modal(incident, IncidentModal.ISOLATE, "Isolate", "Save scope", blocks, offered=offered)


def client_update_modal(incident: Incident, draft: str, next_due_label: str) -> View:
    return _modal(
        incident,
        IncidentModal.CLIENT_UPDATE,
        "Client update",
        "Record update",
        [
            InputBlock(
                block_id=F.UPDATE_TEXT,
                label="Update for the client (edit freely)",
                hint=f"Send it to the client, then record it here. The next update will be due by {next_due_label}.",
                element=PlainTextInputElement(
                    action_id=F.UPDATE_TEXT, multiline=True, max_length=MAX_UPDATE_CHARS, initial_value=draft
                ),
            )
        ],
    )


STEP_BLOCKS = {"kind": F.STEP_KIND, "description": F.STEP_DESCRIPTION, "outcome": F.STEP_OUTCOME}
SCOPE_BLOCKS = {"scope": F.SCOPE, "related_ids": F.RELATED}
CLIENT_UPDATE_BLOCKS = {"text": F.UPDATE_TEXT}


def read_log_step(values: dict[str, Any]) -> LoggedStep:
    kind, outcome = choice(values, F.STEP_KIND), choice(values, F.STEP_OUTCOME)
    return LoggedStep(
        kind=member(StepKind, kind),
        description=text(values, F.STEP_DESCRIPTION),
        outcome=member(StepOutcome, outcome),
    )


@dataclass(frozen=True)
class StatusChange:
    status: IncidentStatus | None
    severity: Severity | None
    reason: str | None


def read_status_change(values: dict[str, Any]) -> StatusChange:
    status, severity = choice(values, F.STATUS), choice(values, F.SEVERITY)
    return StatusChange(
        status=member(IncidentStatus, status),
        severity=member(Severity, severity),
        reason=text(values, F.REASON) or None,
    )


def read_isolation(values: dict[str, Any]) -> ScopeDecision:
    scope = choice(values, F.SCOPE)
    related = state(values, F.RELATED).get("selected_options") or []
    return ScopeDecision(
        scope=member(Scope, scope),
        related_ids=[n for o in related if (n := whole_number(str(o.get("value", "")))) is not None],
    )


def read_client_update(values: dict[str, Any]) -> str:
    return text(values, F.UPDATE_TEXT)


def log_step_errors(step: LoggedStep) -> dict[str, str]:
    """What is wrong with a logged step, on its inputs (`response_action: errors`)."""
    return block_errors(step_problems(step), STEP_BLOCKS)


def isolation_errors(decision: ScopeDecision, private_metadata: str) -> dict[str, str]:
    """What is wrong with a scope decision; the related incidents must be among those the form offered (kept in its
    private_metadata)."""
    return block_errors(scope_problems(decision, offered_ids(private_metadata)), SCOPE_BLOCKS)


def client_update_errors(text_: str) -> dict[str, str]:
    return block_errors(client_update_problems(text_), CLIENT_UPDATE_BLOCKS)
