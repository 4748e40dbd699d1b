"""Workarounds in Slack: the start form, retry check-ins, time-box questions, progress, and status lines."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from blocks.budget import more_note, page_of
from blocks.ids import IncidentModal, ModalField, WorkaroundAction
from blocks.incident import Message
from blocks.text import mention, quoted, slack_time, time_left, typed
from blocks.view_state import block_errors, choice, member, number, text
from bot.domain.glossary import WORKAROUND_KIND_MEANINGS
from bot.domain.workarounds import KIND_LABELS, OUTCOME_LABELS, StartForm, error_changed_problems, start_problems
from bot.models import Attempt, AttemptOutcome, Incident, Workaround, WorkaroundKind

F = ModalField
KIND_HELP = WORKAROUND_KIND_MEANINGS
OUTCOME_ICONS = {
    AttemptOutcome.WORKED: "✅",
    AttemptOutcome.STILL_FAILING: "🔁",
    AttemptOutcome.ERROR_CHANGED: "⚠️",
}
ICONS = {
    WorkaroundKind.RETRY_CYCLE: "🔁",
    WorkaroundKind.BATCHING: "📦",
    WorkaroundKind.FORMAT_CHANGE: "🔄",
    WorkaroundKind.MANUAL_OVERRIDE: "✋",
}
WORKAROUNDS_COMMAND = "/triage workarounds"
WORKAROUNDS_PER_PAGE = 20
TIME_BOXES = (30, 60, 90, 120, 240)
INTERVALS = (5, 10, 15, 30)


def _minutes(values: Sequence[int], suffix: str = " min") -> list[Option]:
    return [Option(value=str(v), text=f"{v}{suffix}") for v in values]


def start_workaround_modal(incident: Incident) -> View:
    kinds = [Option(value=k.value, text=KIND_LABELS[k], description=KIND_HELP[k]) for k in WorkaroundKind]
    boxes, intervals = _minutes(TIME_BOXES), _minutes(INTERVALS)
    blocks: list[Block] = [
        SectionBlock(text=f"*{incident.key}* · {typed(incident.title, 200)}"),
        InputBlock(
            block_id=F.WORKAROUND_KIND,
            label="Workaround",
            element=RadioButtonsElement(action_id=F.WORKAROUND_KIND, options=kinds, initial_option=kinds[0]),
        ),
        InputBlock(
            block_id=F.DESCRIPTION,
            label="What exactly",
            element=PlainTextInputElement(
                action_id=F.DESCRIPTION,
                multiline=True,
                max_length=1000,
                placeholder="e.g. Retry the exhibit upload from Chrome",
            ),
        ),
        InputBlock(
            block_id=F.EXPECTATION,
            label="What the client was told to expect",
            element=PlainTextInputElement(
                action_id=F.EXPECTATION,
                max_length=500,
                placeholder="e.g. We retry every 10 minutes and update you at 11:00",
            ),
        ),
        InputBlock(
            block_id=F.TIME_BOX,
            label="Time box",
            element=StaticSelectElement(action_id=F.TIME_BOX, options=boxes, initial_option=boxes[1]),
        ),
        InputBlock(
            block_id=F.INTERVAL,
            label="Retry every (retry cycles only)",
            optional=True,
            element=StaticSelectElement(action_id=F.INTERVAL, options=intervals, initial_option=intervals[1]),
        ),
    ]
    return View(
        type="modal",
        callback_id=IncidentModal.START_WORKAROUND.value,
        title="Start a workaround",
        submit="Start",
        close="Cancel",
        private_metadata=json.dumps({"incident_id": incident.id}),
        blocks=blocks,
    )


def read_start_workaround(values: dict[str, Any]) -> StartForm:
    kind = choice(values, F.WORKAROUND_KIND)
    interval = choice(values, F.INTERVAL)
    return StartForm(
        kind=member(WorkaroundKind, kind),
        description=text(values, F.DESCRIPTION),
        client_expectation=text(values, F.EXPECTATION),
        time_box_minutes=_minutes_chosen(choice(values, F.TIME_BOX), TIME_BOXES) or 60,
        interval_minutes=_minutes_chosen(interval, INTERVALS),
    )


def _minutes_chosen(value: str | None, offered: Sequence[int]) -> int | None:
    """One of the offered minutes (a value the form did not offer counts as no choice)."""
    return next((m for m in offered if str(m) == value), None)


def _answer_button(text: str, action: WorkaroundAction, value: str, style: str | None = None) -> ButtonElement:
    return ButtonElement(text=text, action_id=action.value, value=value, style=style)


# What each check-in button answers (the error-changed one asks for the new error first).
CHECKIN_ANSWERS = {
    WorkaroundAction.WORKED: AttemptOutcome.WORKED,
    WorkaroundAction.STILL_FAILING: AttemptOutcome.STILL_FAILING,
    WorkaroundAction.ERROR_CHANGED: AttemptOutcome.ERROR_CHANGED,
}


def _checkin_question(incident: Incident, workaround: Workaround, number: int) -> str:
    return f"🔁 *Retry #{number} for {incident.key} is due* — {typed(workaround.description, 300)}"


def checkin_message(incident: Incident, workaround: Workaround, number: int, *, late: bool) -> Message:
    """`Retry #3 for INC-12 is due`, with Worked / Still failing / Error changed."""
    text = _checkin_question(incident, workaround, number)
    if late:
        text += "\n_Posted late: it fell due while the bot was down or behind._"
    value = f"{workaround.id}:{number}"
    buttons = [
        _answer_button("Worked", WorkaroundAction.WORKED, value, "primary"),
        _answer_button("Still failing", WorkaroundAction.STILL_FAILING, value),
        _answer_button("Error changed", WorkaroundAction.ERROR_CHANGED, value, "danger"),
    ]
    plain = f"Retry #{number} for {incident.key} is due"
    return Message(
        text=plain,
        blocks=[SectionBlock(text=text), ActionsBlock(block_id=f"checkin_{value.replace(':', '_')}", elements=buttons)],
    )


def _answered(question: str, answer: str, notification: str) -> Message:
    """A prompt once answered: its question, and the answer where its buttons were."""
    return Message(
        text=notification,
        blocks=[SectionBlock(text=question), ContextBlock(elements=[MarkdownTextObject(text=answer)])],
    )


def checkin_answer(attempt: Attempt, zone: ZoneInfo) -> str:
    """`✅ Worked — answered by @Sam Mon 30 Nov 09:40`: what, who and when."""
    what = f"{OUTCOME_ICONS[attempt.outcome]} *{OUTCOME_LABELS[attempt.outcome].capitalize()}*"
    return f"{what} — answered by {mention(attempt.actor_id)} {slack_time(attempt.at, zone)}"


def answered_checkin(incident: Incident, workaround: Workaround, attempt: Attempt, zone: ZoneInfo) -> Message:
    """The check-in with its buttons replaced by the answer."""
    notification = f"Retry #{attempt.number} for {incident.key}: {OUTCOME_LABELS[attempt.outcome]}"
    question = _checkin_question(incident, workaround, attempt.number)
    return _answered(question, checkin_answer(attempt, zone), notification)


def unanswerable_checkin(incident: Incident, workaround: Workaround, number: int, why: str) -> Message:
    """A check-in left unanswered when its workaround ended: no buttons, and why none are needed."""
    question = _checkin_question(incident, workaround, number)
    answer = f"⏹️ *No answer needed* — {typed(why, 200)}"
    return _answered(question, answer, f"Retry #{number} for {incident.key}: no answer needed")


def unanswerable_timebox(incident: Incident, workaround: Workaround, why: str) -> Message:
    """A time-box question left unanswered when its workaround ended: no buttons, and why none are needed."""
    answer = f"⏹️ *No answer needed* — {typed(why, 200)}"
    return _answered(
        _timebox_ended(incident, workaround), answer, f"Time box ended for {incident.key}: no answer needed"
    )


def already_answered(attempt: Attempt, zone: ZoneInfo) -> str:
    """What a second click on an answered check-in is told (only the clicker sees it)."""
    return f"Retry #{attempt.number} was already answered: {checkin_answer(attempt, zone)}."


def error_changed_modal(incident: Incident, workaround_id: int, number: int) -> View:
    element = PlainTextInputElement(
        action_id=F.ERROR_TEXT, multiline=True, max_length=2000, placeholder="The error as it shows now"
    )
    return View(
        type="modal",
        callback_id=IncidentModal.ERROR_CHANGED.value,
        title="Error changed",
        submit="Log it",
        close="Cancel",
        private_metadata=json.dumps({"incident_id": incident.id, "workaround_id": workaround_id, "number": number}),
        blocks=[
            SectionBlock(text=f"*{incident.key}* retry #{number}"),
            InputBlock(block_id=F.ERROR_TEXT, label="What does the error say now?", element=element),
        ],
    )


def read_error_text(values: dict[str, Any]) -> str:
    return text(values, F.ERROR_TEXT)


START_BLOCKS = {
    "kind": F.WORKAROUND_KIND,
    "description": F.DESCRIPTION,
    "client_expectation": F.EXPECTATION,
    "time_box_minutes": F.TIME_BOX,
    "interval_minutes": F.INTERVAL,
}


def start_workaround_errors(form: StartForm) -> dict[str, str]:
    """What is wrong with a workaround being started, on its inputs (`response_action: errors`)."""
    return block_errors(start_problems(form), START_BLOCKS)


def error_changed_errors(error: str) -> dict[str, str]:
    return block_errors(error_changed_problems(error), {"error": F.ERROR_TEXT})


def attempt_reply(
    incident: Incident,
    workaround: Workaround,
    number: int,
    outcome: AttemptOutcome,
    actor_id: str,
    error: str | None,
    changed: bool,
) -> Message:
    text = f"🔁 Retry #{number} for *{incident.key}*: *{OUTCOME_LABELS[outcome]}* ({mention(actor_id)})"
    if changed:
        text += "\n⚠️ *The error changed*" + (":\n" + quoted(error, 2000) if error else ".")
    if outcome == AttemptOutcome.WORKED:
        text += f"\n✅ The retry cycle ends. Resolve *{incident.key}* once the client confirms."
    return Message(text=text, blocks=[SectionBlock(text=text)])


def unanswered_ping(incident: Incident, workaround: Workaround, number: int) -> Message:
    text = f"🔔 {mention(workaround.owner_id)} retry #{number} for *{incident.key}* has no answer yet."
    return Message(text=text, blocks=[SectionBlock(text=text)])


def _timebox_ended(incident: Incident, workaround: Workaround) -> str:
    what = f"*{KIND_LABELS[workaround.kind].lower()}* on *{incident.key}*"
    return f"⌛ {mention(workaround.owner_id)} the time box for {what} has ended: {typed(workaround.description, 200)}."


def timebox_message(incident: Incident, workaround: Workaround, prompt: int = 0) -> Message:
    """The time box ended: extend, escalate, or stop — nothing runs on silently. `prompt` names this question
    (the timer that asked it), so that its answer edits it and a second answer is refused."""
    text = f"{_timebox_ended(incident, workaround)} Extend it, escalate, or stop it and switch?"
    value = f"{workaround.id}:{prompt}"
    buttons = [
        ButtonElement(text="Extend 30 min", action_id=WorkaroundAction.EXTEND.value, value=value, style="primary"),
        ButtonElement(text="Escalate", action_id="incident_escalate", value=str(incident.id)),
        ButtonElement(text="Stop and switch", action_id=WorkaroundAction.STOP.value, value=value, style="danger"),
    ]
    return Message(
        text=f"Time box ended for {incident.key}",
        blocks=[SectionBlock(text=text), ActionsBlock(block_id=f"timebox_{workaround.id}", elements=buttons)],
    )


def answered_timebox(
    incident: Incident, workaround: Workaround, *, actor_id: str, at: datetime, zone: ZoneInfo, extended: bool
) -> Message:
    """The time-box question with its buttons replaced by the answer: extended (to when) or stopped."""
    when = slack_time(at, zone)
    if extended:
        answer = f"⏱️ *Extended* to {slack_time(workaround.ends_at, zone)} — by {mention(actor_id)} {when}"
    else:
        answer = f"⏹️ *Stopped* to switch — by {mention(actor_id)} {when}"
    notification = f"Time box ended for {incident.key}: {'extended' if extended else 'stopped'}"
    return _answered(_timebox_ended(incident, workaround), answer, notification)


def progress_modal(incident: Incident, workaround: Workaround) -> View:
    def number(field: ModalField, label: str, initial: int | None) -> InputBlock:
        element = NumberInputElement(
            action_id=field,
            is_decimal_allowed=False,
            min_value="0",
            initial_value=str(initial) if initial is not None else None,
        )
        return InputBlock(block_id=field, label=label, optional=True, element=element)

    blocks: list[Block] = [
        SectionBlock(text=f"*{incident.key}* · {KIND_LABELS[workaround.kind]}: {typed(workaround.description, 200)}")
    ]
    if workaround.kind == WorkaroundKind.BATCHING:
        blocks += [
            number(F.BATCHES_DONE, "Batches done", workaround.batches_done),
            number(F.BATCHES_TOTAL, "Batches in all", workaround.batches_total),
            InputBlock(
                block_id=F.FAILING_ELEMENT,
                label="Failing element",
                optional=True,
                element=PlainTextInputElement(
                    action_id=F.FAILING_ELEMENT, max_length=300, initial_value=workaround.failing_element
                ),
            ),
        ]
    blocks.append(
        InputBlock(
            block_id=F.PROGRESS_NOTE,
            label="Status / who owns the alternate path",
            optional=True,
            element=PlainTextInputElement(
                action_id=F.PROGRESS_NOTE, multiline=True, max_length=1000, initial_value=workaround.progress_note
            ),
        )
    )
    return View(
        type="modal",
        callback_id=IncidentModal.PROGRESS.value,
        title="Workaround progress",
        submit="Save",
        close="Cancel",
        private_metadata=json.dumps({"incident_id": incident.id, "workaround_id": workaround.id}),
        blocks=blocks,
    )


@dataclass(frozen=True)
class ProgressForm:
    batches_done: int | None
    batches_total: int | None
    failing_element: str
    note: str


def read_progress(values: dict[str, Any]) -> ProgressForm:
    return ProgressForm(
        number(values, F.BATCHES_DONE),
        number(values, F.BATCHES_TOTAL),
        text(values, F.FAILING_ELEMENT),
        text(values, F.PROGRESS_NOTE),
    )


def workaround_line(workaround: Workaround, *, attempts: int, now: datetime, zone: ZoneInfo) -> str:
    """`🔁 Retry cycle every 10 min, 3 attempts · time box ends 10:45 (in 32 min)`"""
    detail = ""
    if workaround.kind == WorkaroundKind.RETRY_CYCLE:
        detail = f" every {workaround.interval_minutes} min, {attempts} attempt{'s' if attempts != 1 else ''}"
    elif workaround.batches_total:
        detail = f" {workaround.batches_done or 0}/{workaround.batches_total} batches"
        if workaround.failing_element:
            detail += f" (failing: {typed(workaround.failing_element, 60)})"
    if workaround.progress_note:
        detail += f" — {typed(workaround.progress_note, 80)}"
    ends = f"time box ends {slack_time(workaround.ends_at, zone)} ({time_left(workaround.ends_at, now)})"
    owner = mention(workaround.owner_id)
    return f"{ICONS[workaround.kind]} {KIND_LABELS[workaround.kind]}{detail} · owner {owner} · {ends}"


def workaround_list_blocks(lines: Sequence[str], page: int = 1) -> list[Block]:
    """`/triage workarounds [page]`: a page of the active workarounds' lines (at most 20 and 6,000 characters)."""
    if not lines:
        return [SectionBlock(text="No active workarounds. *Start a workaround* on an incident's message.")]
    shown = page_of(lines, page, max_lines=WORKAROUNDS_PER_PAGE)
    part = f" · page {shown.number} of {shown.count}" if shown.count > 1 else ""
    blocks: list[Block] = [HeaderBlock(text=f"Active workarounds ({len(lines)}){part}")]
    blocks += [SectionBlock(text=line) for line in shown.lines]
    more = more_note(shown, WORKAROUNDS_COMMAND)
    return [*blocks, more] if more else blocks
