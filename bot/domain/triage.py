"""The playbook's four Triage & Investigation Steps as a checklist with state, who and when."""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.audit import record_event
from bot.domain.errors import FieldProblems
from bot.domain.glossary import TRIAGE_STEPS
from bot.domain.lifecycle import require_open
from bot.domain.workspaces import visible_in
from bot.models import Incident, IncidentLink, Scope, StepState, TriageStep, TriageStepRecord

STEP_TITLES = TRIAGE_STEPS
# "Record everything before troubleshooting begins": what must be known before Investigate can be done.
REQUIRED_ENVIRONMENT = {
    "file_size_text": "file size",
    "browser": "browser",
    "os": "operating system",
    "started_text": "when it started",
}


class StepKind(enum.StrEnum):
    """What a logged step is."""

    REPRODUCTION = "reproduction"
    HYPOTHESIS = "hypothesis"
    STEP = "step"


class StepOutcome(enum.StrEnum):
    CONFIRMED = "confirmed"
    RULED_OUT = "ruled_out"
    INCONCLUSIVE = "inconclusive"


OUTCOME_LABELS = {
    StepOutcome.CONFIRMED: "confirmed",
    StepOutcome.RULED_OUT: "ruled out",
    StepOutcome.INCONCLUSIVE: "inconclusive",
}
KIND_LABELS = {
    StepKind.REPRODUCTION: "Reproduction attempt",
    StepKind.HYPOTHESIS: "Hypothesis",
    StepKind.STEP: "Troubleshooting step",
}


@dataclass(frozen=True)
class LoggedStep:
    """A step, reproduction or hypothesis as the person logged it (kind and outcome are None until chosen)."""

    kind: StepKind | None
    description: str
    outcome: StepOutcome | None


def step_problems(step: LoggedStep) -> FieldProblems:
    """A logged step says what was done or supposed, what it is, and how it came out."""
    problems: FieldProblems = {}
    if not step.description:
        problems["description"] = "Say what was done or supposed."
    if step.kind is None:
        problems["kind"] = "Choose what it is."
    if step.outcome is None:
        problems["outcome"] = "Choose the outcome."
    return problems


@dataclass(frozen=True)
class ScopeDecision:
    """How far an incident reaches, and the incidents to link to it."""

    scope: Scope | None
    related_ids: list[int]


NOT_OFFERED = "Link only incidents from this list."


def scope_problems(decision: ScopeDecision, offered: Collection[int]) -> FieldProblems:
    """A scope must be chosen; related incidents must be among those `offered` (linking also checks the workspace)."""
    if decision.scope is None:
        return {"scope": "Choose how far it reaches."}
    if not set(decision.related_ids) <= set(offered):
        return {"related_ids": NOT_OFFERED}
    return {}


@dataclass(frozen=True)
class StepLogged:
    """What logging a step did to the checklist."""

    completed_investigate: bool
    missing_environment: list[str]


@dataclass(frozen=True)
class StepView:
    step: TriageStep
    title: str
    done: bool
    done_by: str | None
    done_at: datetime | None
    note: str | None


def ensure_steps(*, session: Session, incident: Incident) -> dict[TriageStep, TriageStepRecord]:
    """The incident's four step records, created pending when missing."""
    rows = {
        r.step: r for r in session.scalars(select(TriageStepRecord).where(TriageStepRecord.incident_id == incident.id))
    }
    for step in TriageStep:
        if step not in rows:
            rows[step] = TriageStepRecord(incident_id=incident.id, step=step, state=StepState.PENDING)
            session.add(rows[step])
    return rows


def checklist(*, session: Session, incident: Incident) -> list[StepView]:
    rows = {
        r.step: r for r in session.scalars(select(TriageStepRecord).where(TriageStepRecord.incident_id == incident.id))
    }
    views = []
    for step in TriageStep:
        row = rows.get(step)
        done = row is not None and row.state == StepState.DONE
        views.append(
            StepView(
                step,
                STEP_TITLES[step],
                done,
                row.done_by if row else None,
                row.done_at if row else None,
                row.note if row else None,
            )
        )
    return views


def missing_environment(incident: Incident) -> list[str]:
    environment = incident.environment
    return [
        label for attr, label in REQUIRED_ENVIRONMENT.items() if environment is None or not getattr(environment, attr)
    ]


def complete_step(
    *, session: Session, incident: Incident, step: TriageStep, actor_id: str, now: datetime, note: str | None
) -> bool:
    """Mark a step done (once); True when this call completed it."""
    row = ensure_steps(session=session, incident=incident)[step]
    if row.state == StepState.DONE:
        return False
    row.state, row.done_by, row.done_at, row.note = StepState.DONE, actor_id, now, note
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id=actor_id,
        kind="step_done",
        summary=f"{STEP_TITLES[step]} done" + (f": {note}" if note else ""),
        details={"step": step.value, "note": note},
    )
    return True


def refresh_gather(*, session: Session, incident: Incident, actor_id: str, now: datetime) -> bool:
    """Immediate Action is done once the environment is fully recorded."""
    if missing_environment(incident):
        return False
    return complete_step(
        session=session,
        incident=incident,
        step=TriageStep.GATHER,
        actor_id=actor_id,
        now=now,
        note="environment recorded",
    )


def log_step(
    *,
    session: Session,
    incident: Incident,
    actor_id: str,
    kind: StepKind,
    description: str,
    outcome: StepOutcome,
    now: datetime,
) -> StepLogged:
    """Record a step, hypothesis or reproduction attempt; a reproduction completes Investigate.

    The playbook says record everything before troubleshooting begins, so Investigate stays open while the
    environment is incomplete; the result names what is missing so the person can be asked for it.
    """
    require_open(incident, "worked on")
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id=actor_id,
        kind=kind.value,
        summary=f"{KIND_LABELS[kind]} ({OUTCOME_LABELS[outcome]}): {description}",
        details={"kind": kind.value, "outcome": outcome.value, "description": description},
    )
    if kind != StepKind.REPRODUCTION:
        return StepLogged(completed_investigate=False, missing_environment=[])
    missing = missing_environment(incident)
    if missing:
        return StepLogged(completed_investigate=False, missing_environment=missing)
    note = f"reproduction {OUTCOME_LABELS[outcome]}"
    done = complete_step(
        session=session, incident=incident, step=TriageStep.INVESTIGATE, actor_id=actor_id, now=now, note=note
    )
    return StepLogged(completed_investigate=done, missing_environment=[])


def mark_correlation_checked(*, session: Session, incident: Incident, summary: str, now: datetime) -> None:
    record_event(
        session=session, incident=incident, at=now, actor_id="bot", kind="correlation_checked", summary=summary
    )


def set_scope(
    *,
    session: Session,
    incident: Incident,
    scope: Scope,
    actor_id: str,
    now: datetime,
    related_ids: list[int] | None = None,
) -> list[int]:
    """Decide how far the incident reaches (Isolate) and link the related incidents; returns newly linked ids."""
    require_open(incident, "isolated")
    before = incident.scope
    incident.scope = scope.value
    incident.updated_at = now
    linked = link_incidents(
        session=session, incident=incident, related_ids=related_ids or [], actor_id=actor_id, now=now
    )
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id=actor_id,
        kind="scope_set",
        summary=f"Scope {before or 'unknown'} → {scope.value}"
        + (f", linked {len(linked)} incident(s)" if linked else ""),
        details={"from": before, "to": scope.value, "linked": linked},
    )
    complete_step(
        session=session, incident=incident, step=TriageStep.ISOLATE, actor_id=actor_id, now=now, note=scope.value
    )
    return linked


def link_incidents(
    *, session: Session, incident: Incident, related_ids: list[int], actor_id: str, now: datetime
) -> list[int]:
    """Link both ways; returns the ids that were not linked before.

    Only incidents of the same workspace are linked: another workspace's id is skipped like one that doesn't exist.
    """
    existing = set(session.scalars(select(IncidentLink.related_id).where(IncidentLink.incident_id == incident.id)))
    new: list[int] = []
    for related_id in dict.fromkeys(related_ids):
        if related_id == incident.id or related_id in existing:
            continue
        other = session.get(Incident, related_id)
        if other is not None and visible_in(other, incident.team_id):
            new.append(related_id)
    for related in new:
        reason = f"same cause as {incident.key} (isolation)"
        session.add(
            IncidentLink(
                incident_id=incident.id, related_id=related, reason=reason, created_by=actor_id, created_at=now
            )
        )
        session.add(
            IncidentLink(
                incident_id=related, related_id=incident.id, reason=reason, created_by=actor_id, created_at=now
            )
        )
    return new


def linked_incident_ids(*, session: Session, incident_id: int) -> list[int]:
    return list(
        session.scalars(
            select(IncidentLink.related_id)
            .where(IncidentLink.incident_id == incident_id)
            .order_by(IncidentLink.related_id)
        )
    )
