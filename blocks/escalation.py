"""Escalation: the path chooser, the engineering / feedback / incident-management modals, and status lines."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    OptionGroup,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from blocks.ids import IncidentModal, ModalField
from blocks.incident import Message, retry_button
from blocks.replies import note
from blocks.text import link, mention, slack_time, time_left, truncate, typed
from blocks.view_state import block_errors, choice, member, state, text
from bot.domain.escalations import (
    KIND_TITLES,
    OTHER_AREA,
    RETRYABLE,
    TRACK_MEANINGS,
    FeedbackForm,
    declare_problems,
    feedback_problems,
    path_problems,
)
from bot.domain.glossary import ESCALATION_PATH_MEANINGS, ESCALATION_STATES, INCIDENT_LEAD, INCIDENT_MANAGEMENT
from bot.domain.handoff import MAX_FIELD, HandoffForm, handoff_problems
from bot.domain.incidents import environment_details
from bot.domain.names import CHANNEL, kind_of
from bot.models import ClientTier, Escalation, EscalationKind, EscalationState, FeedbackTrack, Incident

F = ModalField
PATH_HELP = ESCALATION_PATH_MEANINGS
JIRA_OFF_HELP = {
    EscalationKind.ENGINEERING: "Record a handoff for engineering (Jira is not configured: no ticket)",
    EscalationKind.PRODUCT_FEEDBACK: "Record feedback for the area's product manager (Jira is not configured)",
}
MAX_OPTIONS = 100  # in a select, and groups in a select
MAX_OPTION_TEXT = 75


def _meta(incident: Incident) -> str:
    return json.dumps({"incident_id": incident.id})


def _modal(incident: Incident, callback: IncidentModal, title: str, submit: str, blocks: Sequence[Block]) -> View:
    header = SectionBlock(text=f"*{incident.key}* · {typed(incident.title, 200)}")
    return View(
        type="modal",
        callback_id=callback.value,
        title=title,
        submit=submit,
        close="Cancel",
        private_metadata=_meta(incident),
        blocks=[header, *blocks],
    )


def escalate_modal(incident: Incident, existing: Sequence[Escalation], *, jira_configured: bool = True) -> View:
    """The four paths, each with what it does; one already taken says how it stands."""
    done = {e.kind: e for e in existing if e.kind != EscalationKind.PRODUCT_FEEDBACK}
    help_texts = {**PATH_HELP, **({} if jira_configured else JIRA_OFF_HELP)}
    options = []
    for kind in EscalationKind:
        taken = f"Already {ESCALATION_STATES[done[kind].state]}. " if kind in done else ""
        if kind in done and done[kind].state == EscalationState.FAILED and kind in RETRYABLE:
            taken = "Failed: choose it to file it again. "
        description = truncate(taken + help_texts[kind], 75)
        options.append(Option(value=kind.value, text=KIND_TITLES[kind], description=description))
    chooser = RadioButtonsElement(action_id=F.PATH, options=options)
    return _modal(
        incident,
        IncidentModal.ESCALATE,
        "Escalate",
        "Next",
        [InputBlock(block_id=F.PATH, label="Which path?", element=chooser)],
    )


def _long_input(
    field: ModalField, label: str, initial: str, *, optional: bool = False, hint: str | None = None
) -> InputBlock:
    element = PlainTextInputElement(
        action_id=field, multiline=True, max_length=MAX_FIELD, initial_value=initial or None
    )
    return InputBlock(block_id=field, label=label, optional=optional, hint=hint, element=element)


def engineering_modal(
    incident: Incident, draft: HandoffForm, priority: str, project: str, *, jira_configured: bool
) -> View:
    """The handoff form; it says what submitting does: a Jira issue, or (Jira not configured) a record only."""
    if jira_configured:
        what = (
            f"Files a Jira issue in project *{project}*, priority *{priority}* ({incident.severity.value}), "
            "linked to this thread."
        )
        submit = "Create Jira issue"
    else:
        what = (
            "Jira is not configured, so no ticket is filed: the handoff is recorded in the incident's audit trail "
            "and summary for engineering to pick up."
        )
        submit = "Record handoff"
    return _modal(
        incident,
        IncidentModal.ENGINEERING,
        "Engineering handoff",
        submit,
        [
            SectionBlock(text=what),
            _long_input(F.REPRODUCTION, "Steps to reproduce", draft.reproduction),
            _long_input(F.EXPECTED, "Expected", draft.expected),
            _long_input(F.ACTUAL, "Actual", draft.actual),
            _long_input(F.ENVIRONMENT, "Environment", draft.environment, optional=True),
            _long_input(
                F.EVIDENCE,
                "Logs and screenshots (links)",
                draft.evidence,
                optional=True,
                hint="Files shared in the incident's thread are linked automatically.",
            ),
            _long_input(F.IMPACT, "Business impact and deadline", draft.impact),
        ],
    )


def area_select(areas: Sequence[str]) -> StaticSelectElement:
    """The product areas to choose from, and "Other / not sure".

    A select takes 100 options, so more areas come in groups of up to 100 (alphabetical, labelled by their first
    and last area), which Slack's search box still filters as one list; groups rather than an external select
    because the list is known when the form opens: no options endpoint, nothing to load while someone types.
    """
    other = Option(value=OTHER_AREA, text="Other / not sure")
    options = [Option(value=area, text=truncate(area, MAX_OPTION_TEXT)) for area in areas]
    placeholder = "Choose the area"
    if len(options) < MAX_OPTIONS:
        return StaticSelectElement(action_id=F.AREA, options=[*options, other], placeholder=placeholder)
    ordered = sorted(options, key=lambda option: str(option.value).casefold())
    size = -(-len(ordered) // -(-len(ordered) // MAX_OPTIONS))  # as even as groups of at most 100 can be
    chunks = [ordered[i : i + size] for i in range(0, len(ordered), size)]
    groups = [OptionGroup(label=_group_label(chunk), options=chunk) for chunk in chunks]
    groups.append(OptionGroup(label="Not listed", options=[other]))
    return StaticSelectElement(action_id=F.AREA, option_groups=groups, placeholder=placeholder)


def _group_label(chunk: Sequence[Option]) -> str:
    first, last = (truncate(str(option.value), 35) for option in (chunk[0], chunk[-1]))
    return first if first == last else f"{first} to {last}"


def feedback_modal(incident: Incident, areas: Sequence[str], use_case: str) -> View:
    tracks = [Option(value=t.value, text=TRACK_MEANINGS[t]) for t in FeedbackTrack]
    return _modal(
        incident,
        IncidentModal.FEEDBACK,
        "Product feedback",
        "File feedback",
        [
            InputBlock(block_id=F.TRACK, label="Track", element=RadioButtonsElement(action_id=F.TRACK, options=tracks)),
            InputBlock(
                block_id=F.AREA,
                label="Product area",
                element=area_select(areas),
            ),
            _long_input(F.USE_CASE, "The client's use case", use_case),
        ],
    )


def declare_modal(incident: Incident, suggested_lead: str | None) -> View:
    lead = UserSelectElement(action_id=F.LEAD, placeholder="Who leads it?", initial_user=suggested_lead)
    return _modal(
        incident,
        IncidentModal.DECLARE,
        INCIDENT_MANAGEMENT.capitalize(),
        "Declare",
        [
            SectionBlock(
                text="Creates a dedicated channel, invites the reporter, owner, on-call and lead, "
                "pins a brief, and links related incidents."
            ),
            InputBlock(block_id=F.LEAD, label=INCIDENT_LEAD.capitalize(), element=lead),
        ],
    )


def read_path(values: dict[str, Any]) -> EscalationKind | None:
    return member(EscalationKind, choice(values, F.PATH))


def read_handoff(values: dict[str, Any]) -> HandoffForm:
    return HandoffForm(
        reproduction=text(values, F.REPRODUCTION),
        expected=text(values, F.EXPECTED),
        actual=text(values, F.ACTUAL),
        environment=text(values, F.ENVIRONMENT),
        evidence=text(values, F.EVIDENCE),
        impact=text(values, F.IMPACT),
    )


def read_feedback(values: dict[str, Any]) -> FeedbackForm:
    return FeedbackForm(
        track=member(FeedbackTrack, choice(values, F.TRACK)),
        area=choice(values, F.AREA),
        use_case=text(values, F.USE_CASE),
    )


def read_lead(values: dict[str, Any]) -> str | None:
    lead = state(values, F.LEAD).get("selected_user")
    return lead if isinstance(lead, str) and lead else None


HANDOFF_BLOCKS = {
    "reproduction": F.REPRODUCTION,
    "expected": F.EXPECTED,
    "actual": F.ACTUAL,
    "environment": F.ENVIRONMENT,
    "evidence": F.EVIDENCE,
    "impact": F.IMPACT,
}
FEEDBACK_BLOCKS = {"track": F.TRACK, "area": F.AREA, "use_case": F.USE_CASE}


def path_errors(path: EscalationKind | None) -> dict[str, str]:
    """What is wrong with the path chooser, on its input (`response_action: errors`)."""
    return block_errors(path_problems(path), {"path": F.PATH})


def handoff_errors(form: HandoffForm) -> dict[str, str]:
    return block_errors(handoff_problems(form), HANDOFF_BLOCKS)


def feedback_errors(form: FeedbackForm, areas: Collection[str]) -> dict[str, str]:
    """`areas`: the configured product areas (PRODUCT_AREAS), the only ones the form offers besides "other"."""
    return block_errors(feedback_problems(form, areas), FEEDBACK_BLOCKS)


def declare_errors(lead_id: str | None) -> dict[str, str]:
    return block_errors(declare_problems(lead_id), {"lead": F.LEAD})


def escalation_line(escalation: Escalation) -> str:
    """How one escalation stands, for the root message."""
    label = KIND_TITLES[escalation.kind]
    ref = escalation.external_ref or ""
    shown = link(escalation.external_url, ref)
    if escalation.kind == EscalationKind.INCIDENT_MANAGEMENT and ref:
        shown = f"<#{ref}>"
    elif escalation.kind == EscalationKind.INTERNAL and escalation.state == EscalationState.FILED:
        shown = "posted" + (f" in <#{ref}>" if kind_of(ref) == CHANNEL else "")
        if escalation.external_url:
            shown += f" ({link(escalation.external_url, 'message')})"
    status = f" ({typed(escalation.external_status, 100)})" if escalation.external_status else ""
    if escalation.state == EscalationState.FILED:
        return f"{label}: {shown}{status}"
    if escalation.state == EscalationState.PENDING:
        system = (
            "Jira ticket" if escalation.kind in (EscalationKind.ENGINEERING, EscalationKind.PRODUCT_FEEDBACK) else label
        )
        return f"{system} pending — retrying" if escalation.last_error else f"{label}: in progress"
    if escalation.state == EscalationState.NOT_CONFIGURED:
        return f"{label}: recorded, not filed (not configured)"
    return f"{label}: failed — {typed(escalation.last_error or 'unknown error', 200)}"


def lead_line(incident: Incident) -> str | None:
    if not incident.is_major:
        return None
    lead = f" · {INCIDENT_LEAD} {mention(incident.lead_id)}" if incident.lead_id else ""
    channel = f" in <#{incident.major_channel_id}>" if incident.major_channel_id else ""
    return f"🚨 *{INCIDENT_MANAGEMENT.capitalize()}*{channel}{lead}"


def internal_notice(incident: Incident, *, now: datetime, zone: ZoneInfo) -> Message:
    """Client and tier, severity, environment, the blocker in a line, deadline and time left, the thread, on-call."""
    tier = "⭐ premium" if incident.client.tier == ClientTier.PREMIUM else "standard"
    deadline = "no deadline"
    if incident.deadline_at is not None:
        context = f" ({typed(incident.deadline_context, 200)})" if incident.deadline_context else ""
        deadline = f"{slack_time(incident.deadline_at, zone)}{context}, {time_left(incident.deadline_at, now)}"
    env = " · ".join(
        f"{k}: {typed(v, 200)}" for k, v in environment_details(incident.environment).items() if k != "Already tried"
    )
    thread = (
        link(incident.root_permalink, "the incident thread")
        if incident.root_permalink
        else f"the thread in <#{incident.channel_id}>"
    )
    oncall = f" · on-call {mention(incident.oncall_id)}" if incident.oncall_id else ""
    first_line = next(iter(incident.blocker.strip().splitlines()), "")
    text = (
        f"📣 *{incident.key}* {incident.severity.value} · {typed(incident.client.name, 200)} ({tier}){oncall}\n"
        f"*Blocker:* {typed(first_line, 300)}\n"
        f"*Deadline:* {deadline}\n*Environment:* {env or 'not recorded yet'}\nDetails in {thread}."
    )
    return note(text)


def major_brief(incident: Incident, *, lead_id: str, related: Iterable[str], now: datetime, zone: ZoneInfo) -> Message:
    """The pinned brief in the incident-management channel."""
    deadline = "none"
    if incident.deadline_at is not None:
        deadline = f"{slack_time(incident.deadline_at, zone)} ({time_left(incident.deadline_at, now)})"
    thread = link(incident.root_permalink, "main thread") if incident.root_permalink else f"<#{incident.channel_id}>"
    linked = ", ".join(related) or "none found yet"
    text = (
        f"🚨 *{INCIDENT_MANAGEMENT.capitalize()}: {incident.key}* — {typed(incident.title, 150)}\n"
        f"*{INCIDENT_LEAD.capitalize()}:* {mention(lead_id)} · *Severity:* {incident.severity.value} · "
        f"*Scope:* {incident.scope or 'systemic?'}\n"
        f"*Client:* {typed(incident.client.name, 200)} · *Deadline:* {deadline}\n"
        f"*Blocker:* {typed(incident.blocker, 800, one_line=False)}\n"
        f"*Related incidents:* {linked}\n*History:* {thread}"
    )
    return note(text)


def failure_notice(incident: Incident, escalation: Escalation, error: str) -> Message:
    """The thread is told an escalation failed for good; a Jira ticket comes with a button to file it again."""
    text = f"⚠️ {KIND_TITLES[escalation.kind]} for *{incident.key}* failed: {typed(error, 2000)}"
    if escalation.kind not in RETRYABLE:
        return note(text)
    how = "Fix what it says, then *Retry*: a ticket Jira did make the first time is found, never filed twice."
    return Message(
        text=text,
        blocks=[
            SectionBlock(text=text),
            ContextBlock(elements=[MarkdownTextObject(text=how)]),
            ActionsBlock(block_id=f"retry_{escalation.id}", elements=[retry_button(escalation)]),
        ],
    )
