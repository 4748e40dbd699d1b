"""The resolve modal (root cause, resolution, follow-ups, learnings) and the replies a resolution posts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ContextBlock,
    DatePickerElement,
    DividerBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    UserSelectElement,
)
from slack_sdk.models.views import View

from blocks.budget import lines_within
from blocks.ids import FollowUpPart, IncidentAction, IncidentModal, ModalField, follow_up_field
from blocks.incident import Message
from blocks.replies import MAX_TEXT
from blocks.text import link, mention, typed
from blocks.view_state import state, text
from bot.domain.resolution import (
    MAX_FOLLOW_UP,
    FollowUpItem,
    ResolutionReport,
    follow_up_problems,
    learnings_from,
    resolution_problems,
)
from bot.domain.resolution import MAX_TEXT as MAX_ANSWER
from bot.models import FollowUp, Incident

F = ModalField
FOLLOW_UP_ROWS = 3
YES = "yes"
NO_JIRA = "Jira is not configured (JIRA_URL, JIRA_USER, JIRA_API_TOKEN)"
FOLLOW_UPS_INTRO = "*Follow-up items* — each has an owner: you, unless you pick someone. Due dates are optional."
OWNER_HINT = "Left empty, the follow-up is yours."


def resolve_modal(incident: Incident, *, stopping: Sequence[str] = ()) -> View:
    """`stopping`: what resolving will stop (active workarounds), said up front."""
    blocks: list[Block] = [SectionBlock(text=f"*{incident.key}* · {typed(incident.title, 200)}")]
    if stopping:
        listed = lines_within([typed(s, 300) for s in stopping], 1900, separator="; ")
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"⏹️ Resolving stops: {listed}")]))
    blocks += [
        _long_text(F.ROOT_CAUSE, "Root cause", "e.g. The upload proxy timed out bundles over 200 MB"),
        _long_text(F.RESOLUTION, "Resolution", "e.g. Proxy timeout raised; the client's bundle uploaded at 10:42"),
        DividerBlock(),
        SectionBlock(text=FOLLOW_UPS_INTRO),
    ]
    for row in range(1, FOLLOW_UP_ROWS + 1):
        blocks += _follow_up_row(row)
    blocks += [
        InputBlock(
            block_id=F.FOLLOW_UP_TICKETS,
            label="Jira",
            optional=True,
            element=CheckboxesElement(
                action_id=F.FOLLOW_UP_TICKETS,
                options=[Option(value=YES, text="Create a Jira ticket for each follow-up item")],
            ),
        ),
        DividerBlock(),
        InputBlock(
            block_id=F.LEARNINGS,
            label="Key learnings (one per line)",
            optional=True,
            element=PlainTextInputElement(
                action_id=F.LEARNINGS,
                multiline=True,
                max_length=MAX_ANSWER,
                placeholder="e.g. Large exhibit bundles need a pre-flight size check",
            ),
        ),
        InputBlock(
            block_id=F.FILE_FEEDBACK,
            label="Product feedback",
            optional=True,
            element=CheckboxesElement(
                action_id=F.FILE_FEEDBACK,
                options=[Option(value=YES, text="This should go to product: offer the feedback form after resolving")],
            ),
        ),
    ]
    return View(
        type="modal",
        callback_id=IncidentModal.RESOLVE.value,
        title="Resolve incident",
        submit="Resolve",
        close="Cancel",
        private_metadata=json.dumps({"incident_id": incident.id}),
        blocks=blocks,
    )


def _long_text(field: ModalField, label: str, placeholder: str) -> InputBlock:
    return InputBlock(
        block_id=field,
        label=label,
        element=PlainTextInputElement(action_id=field, multiline=True, max_length=MAX_ANSWER, placeholder=placeholder),
    )


def _follow_up_row(row: int) -> list[Block]:
    description = follow_up_field(row, FollowUpPart.DESCRIPTION)
    owner = follow_up_field(row, FollowUpPart.OWNER)
    due = follow_up_field(row, FollowUpPart.DUE)
    return [
        InputBlock(
            block_id=description,
            label=f"Follow-up {row}",
            optional=True,
            element=PlainTextInputElement(
                action_id=description,
                max_length=MAX_FOLLOW_UP,
                placeholder="e.g. Add a size check before exhibit upload" if row == 1 else None,
            ),
        ),
        InputBlock(
            block_id=owner,
            label=f"Owner of follow-up {row}",
            optional=True,
            hint=OWNER_HINT,
            element=UserSelectElement(action_id=owner, placeholder="Who owns it?"),
        ),
        InputBlock(
            block_id=due,
            label=f"Due date of follow-up {row}",
            optional=True,
            element=DatePickerElement(action_id=due),
        ),
    ]


@dataclass(frozen=True)
class FollowUpRow:
    row: int
    description: str
    owner_id: str | None
    due_on: date | None
    due_typed: str | None  # what the date picker sent, to report one it could not read


@dataclass(frozen=True)
class ResolveForm:
    root_cause: str
    resolution: str
    rows: tuple[FollowUpRow, ...]
    tickets: bool
    learnings: tuple[str, ...]
    file_feedback: bool

    def follow_up_items(self) -> tuple[FollowUpItem, ...]:
        """The filled-in rows (validated before this is called)."""
        return tuple(
            FollowUpItem(r.description, r.owner_id, r.due_on, self.tickets)
            for r in self.rows
            if r.description and r.owner_id
        )


def read_resolve_form(values: dict[str, Any], *, resolver_id: str) -> ResolveForm:
    """The submitted form; a follow-up given without an owner is owned by the person resolving."""
    rows = tuple(_read_row(values, row, resolver_id) for row in range(1, FOLLOW_UP_ROWS + 1))
    return ResolveForm(
        root_cause=text(values, F.ROOT_CAUSE),
        resolution=text(values, F.RESOLUTION),
        rows=rows,
        tickets=_checked(values, F.FOLLOW_UP_TICKETS),
        learnings=learnings_from(text(values, F.LEARNINGS)),
        file_feedback=_checked(values, F.FILE_FEEDBACK),
    )


def _read_row(values: dict[str, Any], row: int, resolver_id: str) -> FollowUpRow:
    chosen = state(values, follow_up_field(row, FollowUpPart.OWNER)).get("selected_user")
    description = text(values, follow_up_field(row, FollowUpPart.DESCRIPTION))
    owner = chosen if isinstance(chosen, str) and chosen else (resolver_id if description else None)
    typed = state(values, follow_up_field(row, FollowUpPart.DUE)).get("selected_date")
    try:
        due_on = date.fromisoformat(typed) if isinstance(typed, str) else None
    except ValueError:
        due_on = None
    return FollowUpRow(
        row=row,
        description=description,
        owner_id=owner,
        due_on=due_on,
        due_typed=typed if isinstance(typed, str) else None,
    )


REPORT_FIELDS = {"root_cause": F.ROOT_CAUSE, "resolution": F.RESOLUTION, "learnings": F.LEARNINGS}


def resolve_form_errors(form: ResolveForm, *, today: date) -> dict[str, str]:
    """Block id → what is wrong, for `response_action: errors`; empty when the form can be applied."""
    report = ResolutionReport(form.root_cause, form.resolution, learnings=form.learnings)
    errors = {REPORT_FIELDS[name].value: problem for name, problem in resolution_problems(report).items()}
    for row in form.rows:
        for part, problem in follow_up_problems(row.description, row.owner_id, row.due_on, today).items():
            errors[follow_up_field(row.row, FollowUpPart(part))] = problem
        if row.due_typed and row.due_on is None:
            errors[follow_up_field(row.row, FollowUpPart.DUE)] = "Pick the date from the calendar."
    return errors


def _checked(values: dict[str, Any], block_id: str) -> bool:
    return any(option.get("value") == YES for option in state(values, block_id).get("selected_options") or [])


# --- replies ----------------------------------------------------------------------------------------------


def resolved_reply(
    incident: Incident,
    actor_id: str,
    follow_ups: Sequence[FollowUp],
    learnings: int,
    stopped: int,
    *,
    jira_configured: bool,
) -> Message:
    """What the thread is told when the incident is resolved; follow-up tickets are promised only when Jira is set."""
    head = [
        f"✅ {mention(actor_id)} resolved *{incident.key}*.",
        f"*Root cause:* {typed(incident.root_cause or '', 900, one_line=False)}",
        f"*Resolution:* {typed(incident.resolution or '', 900, one_line=False)}",
    ]
    tail = []
    if learnings:
        tail.append(f"📚 {learnings} key learning(s) recorded.")
    if stopped:
        tail.append(f"⏹️ {stopped} workaround(s) and their check-ins stopped.")
    items = []
    for item in follow_ups:
        due = f" — due {item.due_on.isoformat()}" if item.due_on else ""
        ticket = " (Jira ticket on its way)" if item.wants_ticket and jira_configured else ""
        items.append(f"• Follow-up for {mention(item.owner_id)}{due}: {typed(item.description, 300)}{ticket}")
    if not jira_configured and any(item.wants_ticket for item in follow_ups):
        tail.insert(0, f"🎫 No Jira tickets: {NO_JIRA}, so the follow-ups are recorded here and in the summary.")
    room = MAX_TEXT - sum(len(line) + 1 for line in [*head, *tail])
    text_ = "\n".join([*head, *([lines_within(items, room)] if items else []), *tail])
    return Message(text=f"{incident.key} resolved", blocks=[SectionBlock(text=text_)])


def feedback_offer(incident: Incident) -> Message:
    """The link from resolving to the product-feedback flow."""
    text_ = f"💡 Product feedback was asked for on *{incident.key}*: file it for the area's product manager."
    button = ButtonElement(
        text="File product feedback", action_id=IncidentAction.FILE_FEEDBACK.value, value=str(incident.id)
    )
    return Message(
        text=text_,
        blocks=[SectionBlock(text=text_), ActionsBlock(block_id=f"feedback_offer_{incident.id}", elements=[button])],
    )


def follow_up_ticket_note(follow_up: FollowUp, key: str, url: str | None) -> Message:
    where = link(url, key) if url else key
    return Message(
        text=f"Follow-up ticket {key}",
        blocks=[SectionBlock(text=f"🎫 Follow-up {where} filed: {typed(follow_up.description, MAX_TEXT - 700)}")],
    )
