"""The status lifecycle, severity, acknowledgement and ownership, on transient incidents (no database needed).

`record_event` only adds to the session, so an unbound `Session` is enough: nothing is ever flushed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from bot.domain.errors import DomainError
from bot.domain.lifecycle import (
    AlreadyAcknowledged,
    IllegalTransition,
    IncidentClosed,
    acknowledge,
    change_severity,
    change_status,
    take_ownership,
)
from bot.models import Event, Incident, IncidentStatus, Severity
from tests.builders import an_incident
from tests.conftest import T0

S = IncidentStatus
# The playbook's lifecycle, written out independently of the code under test.
EXPECTED_ALLOWED: dict[IncidentStatus, tuple[IncidentStatus, ...]] = {
    S.NEW: (S.INVESTIGATING, S.ESCALATED, S.MITIGATED, S.RESOLVED),
    S.INVESTIGATING: (S.ESCALATED, S.MITIGATED, S.RESOLVED),
    S.ESCALATED: (S.INVESTIGATING, S.MITIGATED, S.RESOLVED),
    S.MITIGATED: (S.INVESTIGATING, S.ESCALATED, S.RESOLVED),
    S.RESOLVED: (S.INVESTIGATING, S.CLOSED),
    S.CLOSED: (),
}
ALLOWED_PAIRS = [(before, after) for before, targets in EXPECTED_ALLOWED.items() for after in targets]
DISALLOWED_PAIRS = [
    (before, after)
    for before in IncidentStatus
    for after in IncidentStatus
    if after != before and after not in EXPECTED_ALLOWED[before]
]
LATER = T0 + timedelta(minutes=12)


@pytest.fixture
def session() -> Iterator[Session]:
    with Session() as session:
        yield session


def _kinds(incident: Incident) -> list[str]:
    return [e.kind for e in incident.events]


def _only_event(incident: Incident) -> Event:
    assert len(incident.events) == 1, _kinds(incident)
    return incident.events[0]


def test_the_table_covers_every_pair_of_distinct_statuses() -> None:
    assert len(ALLOWED_PAIRS) + len(DISALLOWED_PAIRS) == 6 * 5
    assert len(ALLOWED_PAIRS) == 15


@pytest.mark.parametrize(("before", "after"), ALLOWED_PAIRS, ids=lambda s: s.value)
def test_every_allowed_transition_moves_and_records_who_when_from_and_to(
    session: Session, before: IncidentStatus, after: IncidentStatus
) -> None:
    incident = an_incident(status=before)

    changed = change_status(
        session=session, incident=incident, to=after, actor_id="UALICE", now=LATER, reason="customer confirmed"
    )

    assert changed is True
    assert incident.status == after
    assert incident.updated_at == LATER
    event = _only_event(incident)
    assert event in session.new
    assert (event.kind, event.actor_id, event.at) == ("status_changed", "UALICE", LATER)
    assert event.details == {"from": before.value, "to": after.value, "reason": "customer confirmed"}
    assert event.summary == f"Status {before.value} → {after.value}: customer confirmed"


@pytest.mark.parametrize(("before", "after"), DISALLOWED_PAIRS, ids=lambda s: s.value)
def test_every_disallowed_transition_is_refused_naming_the_allowed_statuses(
    session: Session, before: IncidentStatus, after: IncidentStatus
) -> None:
    incident = an_incident(status=before)
    allowed = ", ".join(s.value for s in EXPECTED_ALLOWED[before]) or "none (it is closed)"

    with pytest.raises(IllegalTransition) as raised:
        change_status(session=session, incident=incident, to=after, actor_id="UALICE", now=LATER)

    assert str(raised.value) == f"INC-7 is {before.value}; it can't go to {after.value}. Allowed: {allowed}."
    assert isinstance(raised.value, DomainError)
    assert (incident.status, incident.updated_at) == (before, T0)
    assert incident.events == []
    assert len(session.new) == 0


@pytest.mark.parametrize("status", list(IncidentStatus), ids=lambda s: s.value)
def test_moving_to_the_current_status_is_a_no_op(session: Session, status: IncidentStatus) -> None:
    incident = an_incident(status=status)

    assert change_status(session=session, incident=incident, to=status, actor_id="UALICE", now=LATER) is False
    assert (incident.status, incident.updated_at, incident.events) == (status, T0, [])


def test_a_closed_incident_can_go_nowhere(session: Session) -> None:
    incident = an_incident(status=S.CLOSED)
    for to in (S.NEW, S.INVESTIGATING, S.ESCALATED, S.MITIGATED, S.RESOLVED):
        with pytest.raises(IllegalTransition, match=r"INC-7 is closed; .* Allowed: none \(it is closed\)\.$"):
            change_status(session=session, incident=incident, to=to, actor_id="UALICE", now=LATER)
    assert incident.events == []


def test_a_transition_without_a_reason_says_so_plainly(session: Session) -> None:
    incident = an_incident(status=S.INVESTIGATING)

    change_status(session=session, incident=incident, to=S.ESCALATED, actor_id="UALICE", now=LATER)

    event = _only_event(incident)
    assert event.summary == "Status investigating → escalated"
    assert event.details == {"from": "investigating", "to": "escalated", "reason": None}


def test_mitigated_at_is_stamped_the_first_time_only(session: Session) -> None:
    incident = an_incident(status=S.INVESTIGATING)
    first, second = T0 + timedelta(minutes=20), T0 + timedelta(minutes=50)

    change_status(session=session, incident=incident, to=S.MITIGATED, actor_id="UALICE", now=first)
    change_status(session=session, incident=incident, to=S.INVESTIGATING, actor_id="UALICE", now=first)
    change_status(session=session, incident=incident, to=S.MITIGATED, actor_id="UALICE", now=second)

    assert incident.mitigated_at == first
    assert (incident.resolved_at, incident.closed_at) == (None, None)
    assert incident.updated_at == second
    assert [(e.details["from"], e.details["to"]) for e in incident.events] == [
        ("investigating", "mitigated"),
        ("mitigated", "investigating"),
        ("investigating", "mitigated"),
    ]


def test_resolving_stamps_resolved_at_and_closing_stamps_closed_at(session: Session) -> None:
    incident = an_incident(status=S.MITIGATED, mitigated_at=T0 + timedelta(minutes=5))
    resolved, closed = T0 + timedelta(hours=1), T0 + timedelta(hours=3)

    change_status(session=session, incident=incident, to=S.RESOLVED, actor_id="UALICE", now=resolved)
    assert (incident.resolved_at, incident.closed_at) == (resolved, None)

    change_status(session=session, incident=incident, to=S.CLOSED, actor_id="UBOB", now=closed)
    assert (incident.mitigated_at, incident.resolved_at, incident.closed_at) == (
        T0 + timedelta(minutes=5),
        resolved,
        closed,
    )
    assert incident.is_open is False


def test_reopening_a_resolved_incident_clears_resolved_at_and_resolving_again_restamps_it(session: Session) -> None:
    incident = an_incident(status=S.INVESTIGATING)
    first, reopened, second = (T0 + timedelta(hours=h) for h in (1, 2, 4))

    change_status(session=session, incident=incident, to=S.RESOLVED, actor_id="UALICE", now=first)
    change_status(
        session=session, incident=incident, to=S.INVESTIGATING, actor_id="UALICE", now=reopened, reason="it is back"
    )
    assert (incident.status, incident.resolved_at, incident.is_open) == (S.INVESTIGATING, None, True)
    assert incident.events[-1].summary == "Status resolved → investigating: it is back"

    change_status(session=session, incident=incident, to=S.RESOLVED, actor_id="UALICE", now=second)
    assert incident.resolved_at == second


def test_changing_severity_records_from_to_and_reason(session: Session) -> None:
    incident = an_incident(severity=Severity.SEV3, status=S.INVESTIGATING)

    changed = change_severity(
        session=session, incident=incident, to=Severity.SEV1, actor_id="UALICE", now=LATER, reason="deadline at risk"
    )

    assert changed is True
    assert (incident.severity, incident.updated_at) == (Severity.SEV1, LATER)
    event = _only_event(incident)
    assert (event.kind, event.actor_id, event.at) == ("severity_changed", "UALICE", LATER)
    assert event.summary == "Severity SEV3 → SEV1: deadline at risk"
    assert event.details == {"from": "SEV3", "to": "SEV1", "reason": "deadline at risk"}


def test_changing_severity_without_reason_and_to_the_same_severity(session: Session) -> None:
    incident = an_incident(severity=Severity.SEV2)

    assert change_severity(session=session, incident=incident, to=Severity.SEV2, actor_id="U1", now=LATER) is False
    assert (incident.updated_at, incident.events) == (T0, [])

    assert change_severity(session=session, incident=incident, to=Severity.SEV4, actor_id="U1", now=LATER) is True
    event = _only_event(incident)
    assert event.summary == "Severity SEV2 → SEV4"
    assert event.details == {"from": "SEV2", "to": "SEV4", "reason": None}


@pytest.mark.parametrize("status", [S.RESOLVED, S.CLOSED], ids=lambda s: s.value)
def test_a_finished_incident_cannot_be_re_rated(session: Session, status: IncidentStatus) -> None:
    incident = an_incident(status=status, severity=Severity.SEV2)

    with pytest.raises(IncidentClosed) as raised:
        change_severity(session=session, incident=incident, to=Severity.SEV1, actor_id="U1", now=LATER)

    assert str(raised.value) == f"INC-7 is {status.value}, so it can't be re-rated any more."
    assert (incident.severity, incident.events) == (Severity.SEV2, [])


def test_acknowledging_takes_ownership_and_starts_investigating(session: Session) -> None:
    incident = an_incident(status=S.NEW)
    at = T0 + timedelta(minutes=4, seconds=20)

    acknowledge(session=session, incident=incident, actor_id="UALICE", now=at)

    assert (incident.owner_id, incident.acknowledged_at, incident.status, incident.updated_at) == (
        "UALICE",
        at,
        S.INVESTIGATING,
        at,
    )
    acked, moved = incident.events
    assert (acked.kind, acked.actor_id, acked.at) == ("acknowledged", "UALICE", at)
    assert acked.summary == "Acknowledged after 4 min and took ownership"
    assert acked.details == {"seconds_to_acknowledge": 260}
    assert (moved.kind, moved.actor_id, moved.at) == ("status_changed", "UALICE", at)
    assert moved.details == {"from": "new", "to": "investigating", "reason": None}


def test_an_acknowledgement_within_the_first_minute_reads_under_a_minute_not_0_min(session: Session) -> None:
    incident = an_incident(status=S.NEW)
    acknowledge(session=session, incident=incident, actor_id="UALICE", now=T0 + timedelta(seconds=25))
    assert incident.events[0].summary == "Acknowledged in under a minute and took ownership"


@pytest.mark.parametrize("status", [S.ESCALATED, S.MITIGATED], ids=lambda s: s.value)
def test_acknowledging_an_incident_that_has_moved_on_keeps_its_status(session: Session, status: IncidentStatus) -> None:
    incident = an_incident(status=status)

    acknowledge(session=session, incident=incident, actor_id="UALICE", now=LATER)

    assert (incident.status, incident.owner_id, incident.acknowledged_at) == (status, "UALICE", LATER)
    assert _kinds(incident) == ["acknowledged"]


def test_a_second_acknowledgement_is_refused_and_changes_nothing(session: Session) -> None:
    incident = an_incident()
    acknowledge(session=session, incident=incident, actor_id="UALICE", now=LATER)

    with pytest.raises(AlreadyAcknowledged) as raised:
        acknowledge(session=session, incident=incident, actor_id="UBOB", now=LATER + timedelta(minutes=1))

    assert str(raised.value) == ("INC-7 was already acknowledged by <@UALICE>. Use *Take ownership* to take it over.")
    assert (incident.owner_id, incident.acknowledged_at, incident.updated_at) == ("UALICE", LATER, LATER)
    assert _kinds(incident) == ["acknowledged", "status_changed"]


@pytest.mark.parametrize("status", [S.RESOLVED, S.CLOSED], ids=lambda s: s.value)
def test_a_finished_incident_cannot_be_acknowledged(session: Session, status: IncidentStatus) -> None:
    incident = an_incident(status=status)

    with pytest.raises(IncidentClosed) as raised:
        acknowledge(session=session, incident=incident, actor_id="UALICE", now=LATER)

    assert str(raised.value) == f"INC-7 is {status.value}, so it can't be acknowledged any more."
    assert (incident.owner_id, incident.acknowledged_at, incident.events) == (None, None, [])


def test_taking_ownership_before_anyone_acknowledged_is_an_acknowledgement(session: Session) -> None:
    incident = an_incident()

    assert take_ownership(session=session, incident=incident, actor_id="UBOB", now=LATER) is True

    assert (incident.owner_id, incident.acknowledged_at, incident.status) == ("UBOB", LATER, S.INVESTIGATING)
    assert _kinds(incident) == ["acknowledged", "status_changed"]


def test_taking_over_from_the_owner_records_from_and_to(session: Session) -> None:
    incident = an_incident()
    acknowledge(session=session, incident=incident, actor_id="UALICE", now=LATER)
    later = LATER + timedelta(minutes=30)

    assert take_ownership(session=session, incident=incident, actor_id="UBOB", now=later) is True

    assert (incident.owner_id, incident.acknowledged_at, incident.updated_at) == ("UBOB", LATER, later)
    event = incident.events[-1]
    assert (event.kind, event.actor_id, event.at, event.summary) == (
        "owner_changed",
        "UBOB",
        later,
        "Took over ownership from <@UALICE>",
    )
    assert event.details == {"from": "UALICE", "to": "UBOB", "refs": ["UALICE"]}
    assert _kinds(incident) == ["acknowledged", "status_changed", "owner_changed"]


def test_the_owner_taking_ownership_again_changes_nothing(session: Session) -> None:
    incident = an_incident()
    acknowledge(session=session, incident=incident, actor_id="UALICE", now=LATER)

    assert (
        take_ownership(session=session, incident=incident, actor_id="UALICE", now=LATER + timedelta(hours=1)) is False
    )

    assert (incident.owner_id, incident.updated_at) == ("UALICE", LATER)
    assert _kinds(incident) == ["acknowledged", "status_changed"]


@pytest.mark.parametrize("status", [S.RESOLVED, S.CLOSED], ids=lambda s: s.value)
def test_a_finished_incident_cannot_be_taken_over(session: Session, status: IncidentStatus) -> None:
    incident = an_incident(status=status, owner_id="UALICE", acknowledged_at=T0 + timedelta(minutes=1))

    with pytest.raises(IncidentClosed, match=rf"^INC-7 is {status.value}, so it can't be taken over any more\.$"):
        take_ownership(session=session, incident=incident, actor_id="UBOB", now=LATER)

    assert (incident.owner_id, incident.events) == ("UALICE", [])
