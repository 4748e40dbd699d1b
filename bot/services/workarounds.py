"""Workaround use cases and their timers: check-ins, unanswered pings, the end of the time box."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block
from sqlalchemy.orm import Session

from blocks.budget import page_number
from blocks.incident import Message
from blocks.replies import note
from blocks.text import escape_mrkdwn, mention, slack_time, time_left
from blocks.view_state import whole_number
from blocks.workarounds import (
    WORKAROUNDS_COMMAND,
    ProgressForm,
    already_answered,
    answered_checkin,
    answered_timebox,
    attempt_reply,
    checkin_message,
    timebox_message,
    unanswerable_checkin,
    unanswerable_timebox,
    unanswered_ping,
    workaround_line,
    workaround_list_blocks,
)
from bot.db import unit_of_work
from bot.domain.audit import record_event
from bot.domain.errors import DomainError
from bot.domain.permissions import Action
from bot.domain.timers import next_due
from bot.domain.workarounds import (
    KIND_LABELS,
    OUTCOME_LABELS,
    RETRY_CHECKIN,
    StartForm,
    WorkaroundGone,
    active_workaround,
    active_workarounds,
    answer_checkin,
    answer_of,
    attempts_of,
    checkin_due,
    extend,
    finish,
    record_progress,
    start_workaround,
    timebox_ended,
    unanswered,
)
from bot.domain.workspaces import visible_in
from bot.models import AttemptOutcome, Incident, Timer, Workaround, WorkaroundState
from bot.services.changes import apply_change
from bot.services.container import Services
from bot.services.rendering import (
    queue_prompt,
    queue_prompt_answer,
    queue_root_refresh,
    queue_thread_reply,
    unanswered_prompts,
)
from bot.services.roles import actor_of

EXTENSION = timedelta(minutes=30)


class CheckinUnavailable(DomainError):
    """A check-in button naming a workaround this workspace doesn't have (answered as for one that never existed)."""

    def __init__(self) -> None:
        super().__init__("That check-in isn't available here. `/triage workarounds` shows the active ones.")


def incident_of_workaround(services: Services, workaround_id: int) -> int:
    """The incident of a workaround the request's workspace may see; CheckinUnavailable otherwise."""
    with unit_of_work(services.session_factory) as session:
        workaround = session.get(Workaround, workaround_id)
        incident = session.get(Incident, workaround.incident_id) if workaround is not None else None
        if incident is None or not visible_in(incident, services.workspace):
            raise CheckinUnavailable()
        return incident.id


def start(services: Services, incident_id: int, actor_id: str, form: StartForm) -> None:
    assert form.kind is not None, "validated on the form (start_problems)"
    kind = form.kind
    interval = timedelta(minutes=form.interval_minutes or 10)

    def change(session: Session, incident: Incident, now: datetime) -> list[Message]:
        workaround = start_workaround(
            session=session,
            incident=incident,
            kind=kind,
            description=form.description,
            client_expectation=form.client_expectation,
            owner_id=actor_id,
            time_box=timedelta(minutes=form.time_box_minutes),
            interval=interval,
            now=now,
        )
        zone = services.settings.display_zone
        cadence = f", checking in every {workaround.interval_minutes} min" if workaround.interval_minutes else ""
        return [
            note(
                f"🛟 {mention(actor_id)} started a *{KIND_LABELS[kind].lower()}*{cadence} "
                f"until {slack_time(workaround.ends_at, zone)}: "
                f"{escape_mrkdwn(form.description)}\n*Client expects:* {escape_mrkdwn(form.client_expectation)}"
            )
        ]

    apply_change(
        services, incident_id, change, purpose="workaround", actor=actor_of(services, actor_id), action=Action.WORK
    )


def answer(
    services: Services,
    incident_id: int,
    workaround_id: int,
    number: int,
    outcome: AttemptOutcome,
    actor_id: str,
    error: str | None,
) -> None:
    def change(session: Session, incident: Incident, now: datetime) -> list[Message]:
        attempt, created = answer_checkin(
            session=session,
            incident=incident,
            workaround_id=workaround_id,
            number=number,
            outcome=outcome,
            actor_id=actor_id,
            error_text=error,
            now=now,
        )
        zone = services.settings.display_zone
        if not created:
            raise DomainError(already_answered(attempt, zone))
        workaround = session.get_one(Workaround, workaround_id)
        prompt = checkin_prompt_key(incident, workaround_id, number)
        queue_prompt_answer(session, incident, prompt, answered_checkin(incident, workaround, attempt, zone), now=now)
        if workaround.state != WorkaroundState.ACTIVE:
            close_prompts(session, incident, workaround, f"retry #{number} {OUTCOME_LABELS[outcome]}", now)
        return [
            attempt_reply(incident, workaround, number, outcome, actor_id, attempt.error_text, attempt.error_changed)
        ]

    apply_change(
        services, incident_id, change, purpose="attempt", actor=actor_of(services, actor_id), action=Action.WORK
    )


def answer_to(services: Services, session: Session, incident: Incident, workaround_id: int, number: int) -> str | None:
    """What to tell someone about to answer check-in `number` when it was already answered (None when it was not)."""
    attempt = answer_of(session=session, incident=incident, workaround_id=workaround_id, number=number)
    return already_answered(attempt, services.settings.display_zone) if attempt is not None else None


class TimeboxAlreadyExtended(DomainError):
    def __init__(self, workaround: Workaround, zone: ZoneInfo) -> None:
        super().__init__(f"This time box was already extended: it now ends {slack_time(workaround.ends_at, zone)}.")


def _unanswered_timebox(session: Session, workaround_id: int, prompt: int, zone: ZoneInfo) -> None:
    """Refuse a second answer to the time-box question `prompt` (the timer that asked it) once it was extended."""
    asked = session.get(Timer, prompt) if prompt else None
    workaround = session.get(Workaround, workaround_id)
    if asked is None or workaround is None or asked.workaround_id != workaround_id:
        return
    if workaround.state == WorkaroundState.ACTIVE and workaround.ends_at != asked.due_at:
        raise TimeboxAlreadyExtended(workaround, zone)


def extend_timebox(
    services: Services,
    incident_id: int,
    workaround_id: int,
    actor_id: str,
    *,
    prompt: int = 0,
    once: str | None = None,
) -> bool:
    """Extend the time box by `EXTENSION` from the question `prompt` asked; False when the request `once` was already
    applied (nothing changes). The question's buttons give way to the answer."""

    def change(session: Session, incident: Incident, now: datetime) -> list[Message]:
        zone = services.settings.display_zone
        _unanswered_timebox(session, workaround_id, prompt, zone)
        workaround = extend(
            session=session, incident=incident, workaround_id=workaround_id, by=EXTENSION, actor_id=actor_id, now=now
        )
        if prompt:
            answer = answered_timebox(incident, workaround, actor_id=actor_id, at=now, zone=zone, extended=True)
            queue_prompt_answer(session, incident, timebox_prompt_key(incident, workaround_id, prompt), answer, now=now)
        return [
            note(
                f"⏱️ {mention(actor_id)} extended the time box to "
                f"{slack_time(workaround.ends_at, services.settings.display_zone)}."
            )
        ]

    return apply_change(
        services,
        incident_id,
        change,
        purpose="workaround",
        actor=actor_of(services, actor_id),
        action=Action.WORK,
        once=once,
    )


def answer_from_checkin(
    services: Services, workaround_id: int, number: int, outcome: AttemptOutcome, actor_id: str
) -> int:
    """Answer check-in `number` from its message's buttons, which name only the workaround; the incident's id."""
    incident_id = incident_of_workaround(services, workaround_id)
    answer(services, incident_id, workaround_id, number, outcome, actor_id, None)
    return incident_id


def extend_from_timebox(
    services: Services, workaround_id: int, actor_id: str, *, prompt: int, once: str | None
) -> int | None:
    """Extend from the time-box question's button; the incident's id, or None when the same request (`once`) was
    already applied."""
    incident_id = incident_of_workaround(services, workaround_id)
    extended = extend_timebox(services, incident_id, workaround_id, actor_id, prompt=prompt, once=once)
    return incident_id if extended else None


def stop(services: Services, incident_id: int, workaround_id: int, actor_id: str, *, prompt: int = 0) -> None:
    """Stop the workaround from the time-box question `prompt`, whose buttons give way to the answer."""

    def change(session: Session, incident: Incident, now: datetime) -> list[Message]:
        workaround = active_workaround(session, workaround_id)
        if workaround is None:
            raise WorkaroundGone(workaround_id)
        finish(
            session=session,
            incident=incident,
            workaround=workaround,
            state=WorkaroundState.STOPPED,
            reason="stopped to switch",
            actor_id=actor_id,
            now=now,
        )
        if prompt:
            zone = services.settings.display_zone
            answer = answered_timebox(incident, workaround, actor_id=actor_id, at=now, zone=zone, extended=False)
            queue_prompt_answer(session, incident, timebox_prompt_key(incident, workaround_id, prompt), answer, now=now)
        close_prompts(session, incident, workaround, "the workaround was stopped", now)
        return [note(f"⏹️ {mention(actor_id)} stopped the {KIND_LABELS[workaround.kind].lower()}.")]

    apply_change(
        services, incident_id, change, purpose="workaround", actor=actor_of(services, actor_id), action=Action.WORK
    )


def save_progress(services: Services, incident_id: int, workaround_id: int, actor_id: str, form: ProgressForm) -> None:
    def change(session: Session, incident: Incident, now: datetime) -> list[Message]:
        workaround = record_progress(
            session=session,
            incident=incident,
            workaround_id=workaround_id,
            actor_id=actor_id,
            now=now,
            batches_done=form.batches_done,
            batches_total=form.batches_total,
            failing_element=form.failing_element,
            note=form.note,
        )
        line = workaround_line(workaround, attempts=0, now=now, zone=services.settings.display_zone)
        return [note(f"📈 {mention(actor_id)} updated progress: {line}")]

    apply_change(
        services, incident_id, change, purpose="workaround", actor=actor_of(services, actor_id), action=Action.WORK
    )


def stop_all_for(session: Session, incident: Incident, actor_id: str, now: datetime, reason: str) -> int:
    """Resolving an incident ends its workarounds and their check-ins."""
    running = active_workarounds(session=session, incident_id=incident.id)
    for workaround in running:
        finish(
            session=session,
            incident=incident,
            workaround=workaround,
            state=WorkaroundState.STOPPED,
            reason=reason,
            actor_id=actor_id,
            now=now,
        )
        close_prompts(session, incident, workaround, reason, now)
    return len(running)


# --- prompts: check-ins and time-box questions, whose buttons give way to their answer -----------------


def _prompts_of(incident: Incident, what: str, workaround_id: int) -> str:
    """The outbox-key prefix of one kind of prompt about one workaround."""
    return f"{incident.key}:{what}:{workaround_id}:"


def checkin_prompt_key(incident: Incident, workaround_id: int, number: int) -> str:
    return _prompts_of(incident, "checkin", workaround_id) + str(number)


def timebox_prompt_key(incident: Incident, workaround_id: int, prompt: int) -> str:
    """`prompt` is the timer that asked the question (time boxes can end more than once, when extended)."""
    return _prompts_of(incident, "timebox", workaround_id) + str(prompt)


def close_prompts(session: Session, incident: Incident, workaround: Workaround, why: str, now: datetime) -> None:
    """The workaround ended: its questions still showing buttons say no answer is needed, and why."""
    for key in unanswered_prompts(session, incident, _prompts_of(incident, "checkin", workaround.id)):
        number = whole_number(key.rsplit(":", 1)[1]) or 0
        queue_prompt_answer(session, incident, key, unanswerable_checkin(incident, workaround, number, why), now=now)
    for key in unanswered_prompts(session, incident, _prompts_of(incident, "timebox", workaround.id)):
        queue_prompt_answer(session, incident, key, unanswerable_timebox(incident, workaround, why), now=now)


# --- timers ---------------------------------------------------------------------------------------------


def post_checkin(services: Services, session: Session, timer: Timer, incident: Incident, now: datetime) -> str:
    checkin = checkin_due(session=session, incident=incident, timer=timer, now=now)
    if checkin is None:
        return "not needed"
    queue_prompt(
        services,
        session,
        incident,
        checkin_message(incident, checkin.workaround, checkin.number, late=checkin.late),
        "checkin",
        checkin_prompt_key(incident, checkin.workaround.id, checkin.number),
    )
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id="bot",
        kind="checkin_posted",
        summary=f"Retry #{checkin.number} check-in posted" + (" (late)" if checkin.late else ""),
        details={"workaround_id": checkin.workaround.id, "number": checkin.number, "late": checkin.late},
    )
    queue_root_refresh(services, session, incident)
    return f"retry #{checkin.number}" + (" (late)" if checkin.late else "")


def ping_unanswered(services: Services, session: Session, timer: Timer, incident: Incident, now: datetime) -> str:
    workaround = unanswered(session=session, timer=timer)
    if workaround is None or not incident.is_open:
        return "not needed"
    queue_thread_reply(
        services, session, incident, unanswered_ping(incident, workaround, timer.sequence), "checkin_unanswered"
    )
    return f"owner pinged for retry #{timer.sequence}"


def ask_at_timebox_end(services: Services, session: Session, timer: Timer, incident: Incident, now: datetime) -> str:
    workaround = timebox_ended(session=session, timer=timer)
    if workaround is None or not incident.is_open:
        return "not needed"
    queue_prompt(
        services,
        session,
        incident,
        timebox_message(incident, workaround, prompt=timer.id),
        "timebox_end",
        timebox_prompt_key(incident, workaround.id, timer.id),
    )
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id="bot",
        kind="timebox_ended",
        summary=f"{KIND_LABELS[workaround.kind]} time box ended; owner asked to extend, escalate or switch",
        details={"workaround_id": workaround.id},
    )
    return "owner asked"


# --- reading -------------------------------------------------------------------------------------------


def workaround_lines(services: Services, session: Session, incident_id: int) -> list[str]:
    now, zone = services.clock.now(), services.settings.display_zone
    return [
        workaround_line(w, attempts=len(attempts_of(session=session, workaround_id=w.id)), now=now, zone=zone)
        for w in active_workarounds(session=session, incident_id=incident_id)
    ]


def workarounds_blocks(services: Services, args: str = "") -> list[Block]:
    """`/triage workarounds [page]`: every active workaround and its next check-in, across incidents."""
    page = page_number(args, WORKAROUNDS_COMMAND)
    now, zone = services.clock.now(), services.settings.display_zone
    with unit_of_work(services.session_factory) as session:
        lines = []
        for workaround in active_workarounds(session=session, workspace=services.workspace):
            incident = session.get_one(Incident, workaround.incident_id)
            checkin = next_due(session=session, incident_id=incident.id, kinds=[RETRY_CHECKIN])
            upcoming = (
                f" · next check-in {slack_time(checkin.due_at, zone)} ({time_left(checkin.due_at, now)})"
                if checkin
                else ""
            )
            attempts = len(attempts_of(session=session, workaround_id=workaround.id))
            lines.append(
                f"*{incident.key}* {workaround_line(workaround, attempts=attempts, now=now, zone=zone)}{upcoming}"
            )
    return workaround_list_blocks(lines, page)
