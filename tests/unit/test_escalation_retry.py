"""The rule for filing a failed escalation again, on transient objects (an unbound Session: nothing is flushed).

Only a Jira ticket that failed for good may be filed again; each retry counts its attempt, is in the audit trail
with who asked and what had failed, and keeps the escalation (so its dedupe label, so a ticket Jira did make).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from bot.domain.errors import DomainError
from bot.domain.escalations import NothingToRetry, retry_attempt, retry_escalation
from bot.domain.lifecycle import IncidentClosed
from bot.models import Escalation, EscalationKind, EscalationState, IncidentStatus
from bot.services.escalation.tickets import ticket_key
from tests.builders import an_incident
from tests.conftest import T0

LATER = T0 + timedelta(minutes=30)


@pytest.fixture
def session() -> Iterator[Session]:
    with Session() as session:
        yield session


def failed(kind: EscalationKind = EscalationKind.ENGINEERING, **changes: Any) -> Escalation:
    fields: dict[str, Any] = {
        "id": 3,
        "incident_id": 7,
        "kind": kind,
        "state": EscalationState.FAILED,
        "requested_by": "UREP",
        "requested_at": T0,
        "last_error": "Jira user has no permission for project ENG",
        "details": {"project": "ENG"},
        "idempotency_key": f"INC-7:{kind.value}",
    }
    return Escalation(**{**fields, **changes})


def test_a_failed_handoff_is_pending_again_its_attempt_counted_and_the_retry_audited(session: Session) -> None:
    incident, escalation = an_incident(), failed()

    attempt = retry_escalation(session=session, incident=incident, escalation=escalation, requested_by="UAG", now=LATER)

    assert attempt == 2 == retry_attempt(escalation)
    assert (escalation.state, escalation.last_error) == (EscalationState.PENDING, None)
    assert escalation.details == {"project": "ENG", "attempt": 2}, "what it was asked with is kept"
    [event] = incident.events
    assert (event.kind, event.actor_id, event.at) == ("escalation_retried", "UAG", LATER)
    assert event.summary == (
        "Engineering handoff (Jira) filed again (attempt 2) after: Jira user has no permission for project ENG"
    )
    assert event.details == {
        "kind": "engineering",
        "attempt": 2,
        "previous_error": "Jira user has no permission for project ENG",
    }


def test_each_retry_after_another_failure_is_the_next_attempt(session: Session) -> None:
    incident, escalation = an_incident(), failed()
    retry_escalation(session=session, incident=incident, escalation=escalation, requested_by="UAG", now=LATER)
    escalation.state, escalation.last_error = EscalationState.FAILED, "Jira rejected the credentials"

    assert (
        retry_escalation(session=session, incident=incident, escalation=escalation, requested_by="UB", now=LATER) == 3
    )
    assert [e.summary.split(" after: ")[1] for e in incident.events] == [
        "Jira user has no permission for project ENG",
        "Jira rejected the credentials",
    ]


@pytest.mark.parametrize(
    ("state", "why"),
    [
        (EscalationState.PENDING, "is pending: there is nothing to retry."),
        (EscalationState.FILED, "is filed (ENG-12): there is nothing to retry."),
        (EscalationState.NOT_CONFIGURED, "is not configured: Jira was not configured when it was asked for"),
    ],
)
def test_only_a_failed_one_is_filed_again(session: Session, state: EscalationState, why: str) -> None:
    incident = an_incident()
    escalation = failed(state=state, external_ref="ENG-12" if state == EscalationState.FILED else None)

    with pytest.raises(NothingToRetry) as refused:
        retry_escalation(session=session, incident=incident, escalation=escalation, requested_by="UAG", now=LATER)
    assert str(refused.value).startswith(f"INC-7's engineering handoff (Jira) {why}")
    assert escalation.state == state and not incident.events


@pytest.mark.parametrize("kind", [EscalationKind.INTERNAL, EscalationKind.INCIDENT_MANAGEMENT])
def test_only_jira_tickets_are_filed_again(session: Session, kind: EscalationKind) -> None:
    incident, escalation = an_incident(), failed(kind)

    with pytest.raises(NothingToRetry, match="only Jira tickets are filed again"):
        retry_escalation(session=session, incident=incident, escalation=escalation, requested_by="UAG", now=LATER)
    assert escalation.state == EscalationState.FAILED


def test_a_handoff_of_a_resolved_incident_is_not_filed_again_but_its_product_feedback_is(session: Session) -> None:
    resolved = an_incident(status=IncidentStatus.RESOLVED)
    with pytest.raises(IncidentClosed):
        retry_escalation(session=session, incident=resolved, escalation=failed(), requested_by="UAG", now=LATER)

    feedback = failed(EscalationKind.PRODUCT_FEEDBACK, idempotency_key="INC-7:product_feedback:V1")
    assert retry_escalation(session=session, incident=resolved, escalation=feedback, requested_by="UA", now=LATER) == 2


def test_another_incidents_escalation_is_refused(session: Session) -> None:
    with pytest.raises(DomainError, match="not one of INC-7's"):
        retry_escalation(
            session=session, incident=an_incident(), escalation=failed(incident_id=8), requested_by="UA", now=LATER
        )


def test_each_filing_is_its_own_outbox_message_under_one_escalation() -> None:
    """The first filing keeps the key it always had; each retry has its own, so it is queued and delivered anew."""
    escalation = failed()
    assert ticket_key(escalation) == "INC-7:engineering:ticket"
    escalation.details = {"attempt": 2}
    assert ticket_key(escalation) == "INC-7:engineering:ticket:attempt-2"
    escalation.details = {"attempt": "2"}  # not written by the bot: counted as the first
    assert ticket_key(escalation) == "INC-7:engineering:ticket"
