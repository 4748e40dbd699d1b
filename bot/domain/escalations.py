"""The playbook's Escalation Strategy: internal notice, engineering handoff, product feedback, incident management."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import insert_once
from bot.domain.audit import record_event
from bot.domain.errors import DomainError, FieldProblems
from bot.domain.glossary import ESCALATION_PATHS, INCIDENT_LEAD, INCIDENT_MANAGEMENT, path_title, track_with_meaning
from bot.domain.lifecycle import ALLOWED_TRANSITIONS, change_status, require_open
from bot.domain.names import channel_token, person_token
from bot.domain.triage import complete_step
from bot.models import (
    Escalation,
    EscalationKind,
    EscalationState,
    Feedback,
    FeedbackTrack,
    Incident,
    IncidentStatus,
    TriageStep,
)

KIND_LABELS = ESCALATION_PATHS
# The same labels starting a sentence ("Engineering handoff (Jira) filed …"), capitals inside kept.
KIND_TITLES = {kind: path_title(kind) for kind in EscalationKind}
TRACK_MEANINGS = {track: track_with_meaning(track) for track in FeedbackTrack}
# Paths that put the incident in engineering's hands move it to "escalated".
ESCALATING = {EscalationKind.ENGINEERING, EscalationKind.INCIDENT_MANAGEMENT}


class AlreadyEscalated(DomainError):
    def __init__(self, escalation: Escalation, incident: Incident) -> None:
        self.escalation = escalation
        where = f" ({escalation.external_ref})" if escalation.external_ref else ""
        state = escalation.state.value.replace("_", " ")
        super().__init__(f"{incident.key} already has an {KIND_LABELS[escalation.kind]}{where}, {state}.")


@dataclass(frozen=True)
class Requested:
    escalation: Escalation
    created: bool


def escalation_key(incident: Incident, kind: EscalationKind, submission: str | None = None) -> str:
    """One escalation per path per incident; product feedback once per submitted form."""
    return f"{incident.key}:{kind.value}" + (f":{submission}" if kind == EscalationKind.PRODUCT_FEEDBACK else "")


def request_escalation(
    *,
    session: Session,
    incident: Incident,
    kind: EscalationKind,
    requested_by: str,
    now: datetime,
    configured: bool,
    details: dict[str, Any] | None = None,
    submission: str | None = None,
) -> Requested:
    """Record the escalation (pending, or not configured); a repeat of the same request returns the first one.

    Product feedback may also be filed once the incident is resolved: that is when the playbook asks for it.
    """
    if kind != EscalationKind.PRODUCT_FEEDBACK:
        require_open(incident, "escalated")
    key = escalation_key(incident, kind, submission)
    escalation = Escalation(
        incident_id=incident.id,
        kind=kind,
        state=EscalationState.PENDING if configured else EscalationState.NOT_CONFIGURED,
        requested_by=requested_by,
        requested_at=now,
        details=details or {},
        idempotency_key=key,
    )
    escalation, created = insert_once(session, escalation, match=Escalation.idempotency_key == key)
    if created:
        _record_request(session, incident, escalation, now)
    return Requested(escalation, created=created)


def _record_request(session: Session, incident: Incident, escalation: Escalation, now: datetime) -> None:
    state = "requested" if escalation.state == EscalationState.PENDING else "recorded (not configured, not filed)"
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id=escalation.requested_by,
        kind="escalation_requested",
        summary=f"Escalation {state}: {KIND_LABELS[escalation.kind]}",
        details={"kind": escalation.kind.value, "state": escalation.state.value, **escalation.details},
    )
    complete_step(
        session=session,
        incident=incident,
        step=TriageStep.ESCALATE,
        actor_id=escalation.requested_by,
        now=now,
        note=KIND_LABELS[escalation.kind],
    )
    if escalation.kind in ESCALATING and IncidentStatus.ESCALATED in ALLOWED_TRANSITIONS[incident.status]:
        change_status(
            session=session,
            incident=incident,
            to=IncidentStatus.ESCALATED,
            actor_id=escalation.requested_by,
            now=now,
            reason=KIND_LABELS[escalation.kind],
        )


def mark_filed(
    *,
    session: Session,
    incident: Incident,
    escalation: Escalation,
    ref: str,
    url: str | None,
    where: str,
    now: datetime,
    channel_id: str | None = None,
) -> None:
    """The outside system has it: record where, with its reference (a ticket key). Filed in a Slack channel
    (`channel_id`), the summary names the channel; the message's timestamp stays in the details."""
    escalation.state, escalation.filed_at = EscalationState.FILED, now
    escalation.external_ref, escalation.external_url, escalation.last_error = ref, url, None
    if channel_id:
        where, shown = channel_token(channel_id), ""
    else:
        shown = f": {ref}"
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id="bot",
        kind="escalation_filed",
        summary=f"{KIND_TITLES[escalation.kind]} filed in {where}{shown}",
        details={"kind": escalation.kind.value, "ref": ref, "url": url, "where": where},
        refs=[channel_id] if channel_id else [],
    )


def mark_failed(*, session: Session, incident: Incident, escalation: Escalation, error: str, now: datetime) -> None:
    escalation.state, escalation.last_error = EscalationState.FAILED, error
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id="bot",
        kind="escalation_failed",
        summary=f"{KIND_TITLES[escalation.kind]} failed: {error}",
        details={"kind": escalation.kind.value, "error": error},
    )


# The escalations a person may file again once they failed for good: the Jira tickets. Filing again reuses the
# escalation's dedupe label, so a ticket Jira did create the first time is found and kept, never filed twice.
RETRYABLE = {EscalationKind.ENGINEERING, EscalationKind.PRODUCT_FEEDBACK}


class NothingToRetry(DomainError):
    """Only a failed Jira escalation can be filed again; the message says how this one stands."""

    def __init__(self, escalation: Escalation, incident: Incident) -> None:
        state = escalation.state.value.replace("_", " ")
        where = f" ({escalation.external_ref})" if escalation.external_ref else ""
        if escalation.kind not in RETRYABLE:
            why = "only Jira tickets are filed again"
        elif escalation.state == EscalationState.NOT_CONFIGURED:
            why = "Jira was not configured when it was asked for; choose Escalate again once it is"
        else:
            why = "there is nothing to retry"
        super().__init__(f"{incident.key}'s {KIND_LABELS[escalation.kind]} is {state}{where}: {why}.")


def retry_attempt(escalation: Escalation) -> int:
    """Which filing this is: 1 for the first, 2 after one retry, …"""
    attempt = escalation.details.get("attempt", 1)
    return attempt if isinstance(attempt, int) and not isinstance(attempt, bool) and attempt > 0 else 1


def ensure_retryable(*, incident: Incident, escalation: Escalation) -> None:
    """Refuses (a DomainError saying why) unless this escalation of this incident may be filed again now."""
    if escalation.incident_id != incident.id:
        raise DomainError(f"That escalation is not one of {incident.key}'s.")
    if escalation.kind not in RETRYABLE or escalation.state != EscalationState.FAILED:
        raise NothingToRetry(escalation, incident)
    if escalation.kind != EscalationKind.PRODUCT_FEEDBACK:
        require_open(incident, "escalated")


def retry_escalation(
    *, session: Session, incident: Incident, escalation: Escalation, requested_by: str, now: datetime
) -> int:
    """File a failed Jira escalation again: pending once more, its attempt counted and the retry in the audit trail.

    Returns the attempt's number. NothingToRetry unless it failed; an engineering handoff needs the incident open
    (product feedback may follow the resolution, as when it was first asked for).
    """
    ensure_retryable(incident=incident, escalation=escalation)
    attempt = retry_attempt(escalation) + 1
    error = escalation.last_error or "failed"
    escalation.state, escalation.last_error = EscalationState.PENDING, None
    escalation.details = {**escalation.details, "attempt": attempt}
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id=requested_by,
        kind="escalation_retried",
        summary=f"{KIND_TITLES[escalation.kind]} filed again (attempt {attempt}) after: {error}",
        details={"kind": escalation.kind.value, "attempt": attempt, "previous_error": error},
    )
    return attempt


def record_external_status(
    *, session: Session, incident: Incident, escalation: Escalation, status: str, now: datetime
) -> bool:
    """True when the outside system's status changed since we last looked."""
    if escalation.external_status == status:
        return False
    before, escalation.external_status = escalation.external_status, status
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id="bot",
        kind="external_status",
        summary=f"{escalation.external_ref} is now {status}" + (f" (was {before})" if before else ""),
        details={"ref": escalation.external_ref, "from": before, "to": status},
    )
    return True


def escalations_of(*, session: Session, incident_id: int) -> list[Escalation]:
    return list(
        session.scalars(select(Escalation).where(Escalation.incident_id == incident_id).order_by(Escalation.id))
    )


def find_escalation(*, session: Session, incident_id: int, kind: EscalationKind) -> Escalation | None:
    return session.scalar(
        select(Escalation)
        .where(Escalation.incident_id == incident_id, Escalation.kind == kind)
        .order_by(Escalation.id)
        .limit(1)
    )


OTHER_AREA = "other"  # the product area to choose when none of the configured ones fits


@dataclass(frozen=True)
class FeedbackForm:
    """Product feedback as the person filed it: its track, the product area, and what the client was trying to do."""

    track: FeedbackTrack | None
    area: str | None
    use_case: str


def path_problems(path: EscalationKind | None) -> FieldProblems:
    """Escalating starts with choosing one of the paths."""
    return {} if path is not None else {"path": "Choose a path."}


def feedback_problems(form: FeedbackForm, areas: Collection[str]) -> FieldProblems:
    """Feedback needs a track, one of the configured product `areas` (or "other") and the client's use case."""
    problems: FieldProblems = {}
    if form.track is None:
        problems["track"] = "Choose Stability, Messaging or Monitoring."
    if not form.area:
        problems["area"] = "Choose the product area."
    elif form.area not in (*areas, OTHER_AREA):
        problems["area"] = "Choose a product area from the list."
    if not form.use_case:
        problems["use_case"] = "Describe what the client was trying to do."
    return problems


def declare_problems(lead_id: str | None) -> FieldProblems:
    """Incident management has an incident lead from the start."""
    return {} if lead_id is not None else {"lead": "Choose the incident lead."}


def record_feedback(
    *,
    session: Session,
    incident: Incident,
    escalation: Escalation,
    track: FeedbackTrack,
    area: str,
    pm_user_id: str | None,
    use_case: str,
    created_by: str,
    now: datetime,
) -> Feedback:
    feedback = Feedback(
        incident_id=incident.id,
        escalation_id=escalation.id,
        track=track,
        area=area,
        pm_user_id=pm_user_id,
        use_case=use_case,
        created_by=created_by,
        created_at=now,
    )
    session.add(feedback)
    return feedback


def declare_major(
    *, session: Session, incident: Incident, declared_by: str, lead_id: str, channel_id: str, now: datetime
) -> None:
    """Systemic problems get the broader process: a dedicated channel and an incident lead."""
    incident.is_major, incident.lead_id, incident.major_channel_id = True, lead_id, channel_id
    incident.updated_at = now
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id=declared_by,
        kind="major_declared",
        summary=(
            f"Started {INCIDENT_MANAGEMENT} in {channel_token(channel_id)}, {INCIDENT_LEAD} {person_token(lead_id)}"
        ),
        details={"lead_id": lead_id, "channel_id": channel_id},
        refs=[channel_id, lead_id],
    )


def channel_name(incident: Incident, attempt: int = 1) -> str:
    """`inc-7-exhibit-upload-fails`, then `…-2`, `…-3` when the name is taken (Slack: ≤ 80 chars, a-z 0-9 - _)."""
    slug = re.sub(r"[^a-z0-9]+", "-", incident.title.lower()).strip("-")[:50].strip("-")
    base = f"inc-{incident.id}" + (f"-{slug}" if slug else "")
    return base if attempt == 1 else f"{base[:75]}-{attempt}"
