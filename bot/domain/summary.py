"""The one-page incident summary and the audit trail, as plain data built from what is stored.

Renderers (Slack blocks, Markdown, HTML, JSON) take these frozen values; nothing here knows about Slack.
A fixed handful of queries builds a summary, however many events, workarounds or attempts there are.
People and channels are Slack ids; `names` holds what the directory (bot.domain.names) calls each of them, for
the renderers that show names (exports, the CLI) rather than mentions (Slack).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.domain.errors import IncidentNotFound
from bot.domain.escalations import KIND_TITLES as ESCALATION_TITLES
from bot.domain.escalations import TRACK_MEANINGS
from bot.domain.incidents import environment_details
from bot.domain.names import CHANNEL, event_refs, kind_of, names_for, shown_summary
from bot.domain.triage import STEP_TITLES
from bot.domain.workarounds import KIND_LABELS as WORKAROUND_LABELS
from bot.models import (
    Attempt,
    ClientTier,
    Escalation,
    EscalationKind,
    EscalationState,
    Event,
    Feedback,
    FeedbackTrack,
    FollowUp,
    Incident,
    IncidentStatus,
    Learning,
    Severity,
    StepState,
    TriageStep,
    TriageStepRecord,
    Workaround,
    WorkaroundKind,
    WorkaroundState,
)


class DeadlineOutcome(enum.StrEnum):
    """Whether the client's deadline was kept: mitigated or resolved at or before it."""

    MET = "met"
    MISSED = "missed"
    PENDING = "pending"
    NONE = "none"


@dataclass(frozen=True)
class AuditEntry:
    """One audit-trail event; `number` is its place in the incident's trail (1 = oldest).

    A correction is a later entry whose `corrects` names the entry it corrects; that entry lists it in
    `corrected_by`. `summary` names people and channels as `<@U…>` / `<#C…>`; `refs` are the ids it refers to
    (bot.domain.names.pieces splits it).
    """

    number: int
    event_id: int
    at: datetime
    actor_id: str
    kind: str
    summary: str
    details: Mapping[str, Any]
    corrects: int | None = None
    corrected_by: tuple[int, ...] = ()
    refs: frozenset[str] = frozenset()


@dataclass(frozen=True)
class AuditTrail:
    incident_id: int
    key: str
    title: str
    client_name: str
    entries: tuple[AuditEntry, ...]
    names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WhatHappened:
    """The blocker in the client's words and the environment recorded for it (None: not recorded)."""

    blocker: str
    file_size: str | None = None
    browser: str | None = None
    os: str | None = None
    started: str | None = None
    frequency: str | None = None
    already_tried: str | None = None


@dataclass(frozen=True)
class Milestones:
    opened_at: datetime
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True)
class Durations:
    """Time from opening to each milestone; None when the milestone was not reached."""

    to_acknowledge: timedelta | None
    to_mitigate: timedelta | None
    to_resolve: timedelta | None


@dataclass(frozen=True)
class Deadline:
    at: datetime | None
    context: str | None
    outcome: DeadlineOutcome


@dataclass(frozen=True)
class FollowUpItem:
    description: str
    owner_id: str
    due_on: date | None
    ticket_key: str | None
    ticket_url: str | None


@dataclass(frozen=True)
class EscalationItem:
    kind: EscalationKind
    label: str
    state: EscalationState
    requested_by: str
    requested_at: datetime
    ticket_key: str | None
    ticket_url: str | None
    external_status: str | None
    channel_id: str | None = None  # where an internal notice was posted, an incident-management channel


@dataclass(frozen=True)
class FeedbackItem:
    track: FeedbackTrack
    track_label: str
    area: str
    pm_user_id: str | None
    use_case: str
    ticket_key: str | None
    ticket_url: str | None
    state: EscalationState | None = None  # of the product-feedback escalation it was filed with


@dataclass(frozen=True)
class WorkaroundItem:
    kind: WorkaroundKind
    label: str
    description: str
    state: WorkaroundState
    owner_id: str
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    attempts: int


@dataclass(frozen=True)
class StepItem:
    """One of the playbook's triage steps and who completed it, when."""

    step: TriageStep
    title: str
    done: bool
    done_by: str | None
    done_at: datetime | None


@dataclass(frozen=True)
class IncidentSummary:
    incident_id: int
    key: str
    title: str
    client_name: str
    client_tier: ClientTier
    severity: Severity
    status: IncidentStatus
    workflow: str | None
    region: str | None
    scope: str | None
    reporter_id: str
    owner_id: str | None
    lead_id: str | None
    is_major: bool
    what_happened: WhatHappened
    milestones: Milestones
    durations: Durations
    deadline: Deadline
    root_cause: str | None
    resolution: str | None
    follow_ups: tuple[FollowUpItem, ...]
    learnings: tuple[str, ...]
    escalations: tuple[EscalationItem, ...]
    feedback: tuple[FeedbackItem, ...]
    workarounds: tuple[WorkaroundItem, ...]
    steps: tuple[StepItem, ...]
    timeline: tuple[AuditEntry, ...]
    generated_at: datetime
    names: Mapping[str, str] = field(default_factory=dict)

    @property
    def handoffs(self) -> tuple[EscalationItem, ...]:
        """The escalations to list beside `feedback`: each product-feedback one is listed there, once, as feedback."""
        return tuple(e for e in self.escalations if e.kind != EscalationKind.PRODUCT_FEEDBACK)


def build_summary(*, session: Session, incident_id: int, now: datetime) -> IncidentSummary:
    """The incident's one-page summary as of `now`; IncidentNotFound (a DomainError) when there is none."""
    incident = _incident(session, incident_id)
    milestones = milestones_of(incident)
    summary = IncidentSummary(
        incident_id=incident.id,
        key=incident.key,
        title=incident.title,
        client_name=incident.client.name,
        client_tier=incident.client.tier,
        severity=incident.severity,
        status=incident.status,
        workflow=incident.workflow,
        region=incident.region,
        scope=incident.scope,
        reporter_id=incident.reporter_id,
        owner_id=incident.owner_id,
        lead_id=incident.lead_id,
        is_major=incident.is_major,
        what_happened=what_happened(incident),
        milestones=milestones,
        durations=durations(milestones),
        deadline=Deadline(
            incident.deadline_at, incident.deadline_context, deadline_outcome(incident.deadline_at, milestones, now)
        ),
        root_cause=incident.root_cause,
        resolution=incident.resolution,
        follow_ups=_follow_ups(session, incident.id),
        learnings=tuple(
            session.scalars(select(Learning.text).where(Learning.incident_id == incident.id).order_by(Learning.id))
        ),
        escalations=_escalations(session, incident.id),
        feedback=_feedback(session, incident.id),
        workarounds=_workarounds(session, incident.id),
        steps=_steps(session, incident.id),
        timeline=_entries(session, incident.id),
        generated_at=now,
    )
    return replace(summary, names=names_for(session, summary_ids(summary), team_id=incident.team_id))


def build_audit_trail(*, session: Session, incident_id: int) -> AuditTrail:
    """Every event of the incident, oldest first, with correction links both ways."""
    incident = _incident(session, incident_id)
    entries = _entries(session, incident.id)
    return AuditTrail(
        incident_id=incident.id,
        key=incident.key,
        title=incident.title,
        client_name=incident.client.name,
        entries=entries,
        names=names_for(session, entry_ids(entries), team_id=incident.team_id),
    )


def milestones_of(incident: Incident) -> Milestones:
    return Milestones(
        opened_at=incident.opened_at,
        acknowledged_at=incident.acknowledged_at,
        mitigated_at=incident.mitigated_at,
        resolved_at=incident.resolved_at,
        closed_at=incident.closed_at,
    )


def incident_deadline_outcome(incident: Incident, now: datetime) -> DeadlineOutcome:
    """The incident's deadline as the summary judges it: the one rule every message about it uses."""
    return deadline_outcome(incident.deadline_at, milestones_of(incident), now)


def entry_ids(entries: Iterable[AuditEntry]) -> set[str]:
    """Whom and where the entries name: their actors and references."""
    return {e.actor_id for e in entries} | {r for e in entries for r in e.refs}


def summary_ids(s: IncidentSummary) -> set[str]:
    """Every Slack id the summary shows."""
    people = {s.reporter_id, s.owner_id, s.lead_id}
    people |= {f.owner_id for f in s.follow_ups} | {w.owner_id for w in s.workarounds}
    people |= {e.requested_by for e in s.escalations} | {e.channel_id for e in s.escalations}
    people |= {f.pm_user_id for f in s.feedback} | {p.done_by for p in s.steps}
    return {i for i in people if i} | entry_ids(s.timeline)


def deadline_outcome(deadline_at: datetime | None, milestones: Milestones, now: datetime) -> DeadlineOutcome:
    """Met when first mitigated or resolved at or before the deadline; missed when after it, or still open past it."""
    if deadline_at is None:
        return DeadlineOutcome.NONE
    relieved = first_relief(milestones)
    if relieved is not None:
        return DeadlineOutcome.MET if relieved <= deadline_at else DeadlineOutcome.MISSED
    return DeadlineOutcome.MISSED if now > deadline_at else DeadlineOutcome.PENDING


def first_relief(milestones: Milestones) -> datetime | None:
    """When the client was first unblocked: the earliest of mitigated and resolved."""
    reached = [m for m in (milestones.mitigated_at, milestones.resolved_at) if m is not None]
    return min(reached) if reached else None


def durations(milestones: Milestones) -> Durations:
    """Time to acknowledge, to mitigate (a resolution mitigates too: the earlier counts) and to resolve."""

    def since_opened(moment: datetime | None) -> timedelta | None:
        return moment - milestones.opened_at if moment is not None else None

    return Durations(
        to_acknowledge=since_opened(milestones.acknowledged_at),
        to_mitigate=since_opened(first_relief(milestones)),
        to_resolve=since_opened(milestones.resolved_at),
    )


def what_happened(incident: Incident) -> WhatHappened:
    known = environment_details(incident.environment)
    return WhatHappened(
        blocker=incident.blocker,
        file_size=known.get("File size"),
        browser=known.get("Browser"),
        os=known.get("OS"),
        started=known.get("Started"),
        frequency=known.get("Frequency"),
        already_tried=known.get("Already tried"),
    )


def audit_entries(events: Sequence[Event]) -> tuple[AuditEntry, ...]:
    """Number the events (oldest first, as given) and link each correction to what it corrects, both ways."""
    number_of = {event.id: index for index, event in enumerate(events, start=1)}
    corrected_by: dict[int, list[int]] = {}
    for event in events:
        if event.refers_to_id in number_of:
            corrected_by.setdefault(number_of[event.refers_to_id], []).append(number_of[event.id])
    return tuple(
        AuditEntry(
            number=number_of[event.id],
            event_id=event.id,
            at=event.at,
            actor_id=event.actor_id,
            kind=event.kind,
            summary=shown_summary(event.kind, event.summary, event.details or {}),
            details=dict(event.details or {}),
            corrects=number_of.get(event.refers_to_id) if event.refers_to_id is not None else None,
            corrected_by=tuple(corrected_by.get(number_of[event.id], ())),
            refs=event_refs(event.details or {}),
        )
        for event in events
    )


def _incident(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise IncidentNotFound(f"INC-{incident_id}")
    return incident


def _entries(session: Session, incident_id: int) -> tuple[AuditEntry, ...]:
    query = select(Event).where(Event.incident_id == incident_id).order_by(Event.at, Event.id)
    return audit_entries(list(session.scalars(query)))


def _follow_ups(session: Session, incident_id: int) -> tuple[FollowUpItem, ...]:
    rows = session.scalars(select(FollowUp).where(FollowUp.incident_id == incident_id).order_by(FollowUp.id))
    return tuple(FollowUpItem(f.description, f.owner_id, f.due_on, f.ticket_key, f.ticket_url) for f in rows)


def _escalations(session: Session, incident_id: int) -> tuple[EscalationItem, ...]:
    rows = session.scalars(select(Escalation).where(Escalation.incident_id == incident_id).order_by(Escalation.id))
    return tuple(
        EscalationItem(
            kind=e.kind,
            label=ESCALATION_TITLES[e.kind],
            state=e.state,
            requested_by=e.requested_by,
            requested_at=e.requested_at,
            ticket_key=e.external_ref,
            ticket_url=e.external_url,
            external_status=e.external_status,
            channel_id=_channel_of(e),
        )
        for e in rows
    )


def _channel_of(escalation: Escalation) -> str | None:
    """The channel an internal notice went to, or an incident-management channel (their `external_ref`)."""
    if escalation.kind not in (EscalationKind.INTERNAL, EscalationKind.INCIDENT_MANAGEMENT):
        return None
    return escalation.external_ref if kind_of(escalation.external_ref) == CHANNEL else None


def _feedback(session: Session, incident_id: int) -> tuple[FeedbackItem, ...]:
    query = (
        select(Feedback, Escalation.external_ref, Escalation.external_url, Escalation.state)
        .outerjoin(Escalation, Escalation.id == Feedback.escalation_id)
        .where(Feedback.incident_id == incident_id)
        .order_by(Feedback.id)
    )
    return tuple(
        FeedbackItem(f.track, TRACK_MEANINGS[f.track], f.area, f.pm_user_id, f.use_case, ref, url, state)
        for f, ref, url, state in session.execute(query)
    )


def _workarounds(session: Session, incident_id: int) -> tuple[WorkaroundItem, ...]:
    query = (
        select(Workaround, func.count(Attempt.id))
        .outerjoin(Attempt, Attempt.workaround_id == Workaround.id)
        .where(Workaround.incident_id == incident_id)
        .group_by(Workaround.id)
        .order_by(Workaround.id)
    )
    return tuple(
        WorkaroundItem(
            kind=w.kind,
            label=WORKAROUND_LABELS[w.kind],
            description=w.description,
            state=w.state,
            owner_id=w.owner_id,
            started_at=w.started_at,
            ended_at=w.stopped_at,
            end_reason=w.stop_reason,
            attempts=attempts,
        )
        for w, attempts in session.execute(query)
    )


def _steps(session: Session, incident_id: int) -> tuple[StepItem, ...]:
    rows = {
        r.step: r for r in session.scalars(select(TriageStepRecord).where(TriageStepRecord.incident_id == incident_id))
    }
    items = []
    for step in TriageStep:
        row = rows.get(step)
        if row is not None and row.state == StepState.DONE:
            items.append(StepItem(step, STEP_TITLES[step], True, row.done_by, row.done_at))
        else:
            items.append(StepItem(step, STEP_TITLES[step], False, None, None))
    return tuple(items)
