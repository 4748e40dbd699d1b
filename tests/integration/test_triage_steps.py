"""The four triage steps as a checklist: created once, completed by what is recorded, with who and when."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.db import unit_of_work
from bot.domain.incidents import DetailsReport, EnvironmentReport, update_details
from bot.domain.lifecycle import IncidentClosed
from bot.domain.triage import (
    StepKind,
    StepLogged,
    StepOutcome,
    StepView,
    checklist,
    ensure_steps,
    linked_incident_ids,
    log_step,
    refresh_gather,
    set_scope,
)
from bot.models import Incident, IncidentLink, IncidentStatus, Scope, StepState, TriageStep, TriageStepRecord
from tests.builders import events_of, open_test_incident
from tests.conftest import T0

NO_ENVIRONMENT = EnvironmentReport()
FULL_ENVIRONMENT = EnvironmentReport(
    file_size="250 MB", browser="Chrome 126", os="Windows 11", started="today 09:40", frequency="every time"
)
T1 = T0 + timedelta(minutes=10)
T2 = T0 + timedelta(minutes=25)


def _open_bare(factory: sessionmaker[Session], key: str = "view:bare") -> int:
    """An incident opened with no environment recorded at all."""
    return open_test_incident(factory, key, environment=NO_ENVIRONMENT)


def _steps(session: Session, incident_id: int) -> dict[TriageStep, TriageStepRecord]:
    rows = session.scalars(select(TriageStepRecord).where(TriageStepRecord.incident_id == incident_id))
    return {r.step: r for r in rows}


def _details(environment: EnvironmentReport) -> DetailsReport:
    return DetailsReport(workflow="document upload", region="eu-west", environment=environment)


def test_ensure_steps_creates_the_four_steps_pending_once(session_factory: sessionmaker[Session]) -> None:
    incident_id = _open_bare(session_factory)
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        first = ensure_steps(session=session, incident=incident)
        again = ensure_steps(session=session, incident=incident)
        assert list(first) == [TriageStep.GATHER, TriageStep.INVESTIGATE, TriageStep.ISOLATE, TriageStep.ESCALATE]
        assert {step: row.id for step, row in again.items()} == {step: row.id for step, row in first.items()}
    with unit_of_work(session_factory) as session:
        ensure_steps(session=session, incident=session.get_one(Incident, incident_id))
    with unit_of_work(session_factory) as session:
        rows = _steps(session, incident_id)
        assert set(rows) == set(TriageStep)
        assert {(r.state, r.done_by, r.done_at, r.note) for r in rows.values()} == {
            (StepState.PENDING, None, None, None)
        }
        assert session.scalar(select(func.count()).select_from(TriageStepRecord)) == 4


def test_immediate_action_is_done_only_once_size_browser_os_and_start_are_all_known(
    session_factory: sessionmaker[Session],
) -> None:
    incident_id = _open_bare(session_factory)
    partial = [
        EnvironmentReport(browser="Chrome 126", os="Windows 11", started="today 09:40"),  # no file size
        EnvironmentReport(file_size="250 MB", os="Windows 11", started="today 09:40"),  # no browser
        EnvironmentReport(file_size="250 MB", browser="Chrome 126", started="today 09:40"),  # no OS
        EnvironmentReport(file_size="250 MB", browser="Chrome 126", os="Windows 11", started="  "),  # no start
    ]
    for environment in partial:
        with unit_of_work(session_factory) as session:
            incident = session.get_one(Incident, incident_id)
            update_details(session=session, incident=incident, actor_id="UALICE", details=_details(environment), now=T1)
            assert refresh_gather(session=session, incident=incident, actor_id="UALICE", now=T1) is False
    with unit_of_work(session_factory) as session:
        assert events_of(session, incident_id, "step_done") == []
        assert all(r.state == StepState.PENDING for r in _steps(session, incident_id).values())

    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        changed = update_details(
            session=session, incident=incident, actor_id="UALICE", details=_details(FULL_ENVIRONMENT), now=T2
        )
        assert "Started" in changed
        assert refresh_gather(session=session, incident=incident, actor_id="UALICE", now=T2) is True
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        assert refresh_gather(session=session, incident=incident, actor_id="UBOB", now=T2 + timedelta(hours=1)) is False

    with unit_of_work(session_factory) as session:
        gather = _steps(session, incident_id)[TriageStep.GATHER]
        assert (gather.state, gather.done_by, gather.done_at, gather.note) == (
            StepState.DONE,
            "UALICE",
            T2,
            "environment recorded",
        )
        (done,) = events_of(session, incident_id, "step_done")
        assert (done.actor_id, done.at, done.summary) == ("UALICE", T2, "Immediate Action done: environment recorded")
        assert done.details == {"step": "gather", "note": "environment recorded"}
        others = [r.state for step, r in _steps(session, incident_id).items() if step != TriageStep.GATHER]
        assert others == [StepState.PENDING] * 3


def test_a_report_with_the_full_environment_completes_immediate_action_straight_away(
    session_factory: sessionmaker[Session],
) -> None:
    incident_id = open_test_incident(session_factory, "view:full")
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        assert refresh_gather(session=session, incident=incident, actor_id="bot", now=T0) is True


@pytest.mark.parametrize(
    ("kind", "outcome", "summary"),
    [
        (StepKind.HYPOTHESIS, StepOutcome.CONFIRMED, "Hypothesis (confirmed): proxy drops large bodies"),
        (StepKind.HYPOTHESIS, StepOutcome.RULED_OUT, "Hypothesis (ruled out): proxy drops large bodies"),
        (StepKind.STEP, StepOutcome.INCONCLUSIVE, "Troubleshooting step (inconclusive): proxy drops large bodies"),
        (StepKind.STEP, StepOutcome.CONFIRMED, "Troubleshooting step (confirmed): proxy drops large bodies"),
        (StepKind.REPRODUCTION, StepOutcome.RULED_OUT, "Reproduction attempt (ruled out): proxy drops large bodies"),
        (
            StepKind.REPRODUCTION,
            StepOutcome.INCONCLUSIVE,
            "Reproduction attempt (inconclusive): proxy drops large bodies",
        ),
    ],
)
def test_every_logged_step_is_recorded_with_its_kind_and_outcome(
    session_factory: sessionmaker[Session], kind: StepKind, outcome: StepOutcome, summary: str
) -> None:
    incident_id = _open_bare(session_factory)
    with unit_of_work(session_factory) as session:
        log_step(
            session=session,
            incident=session.get_one(Incident, incident_id),
            actor_id="UALICE",
            kind=kind,
            description="proxy drops large bodies",
            outcome=outcome,
            now=T1,
        )
    with unit_of_work(session_factory) as session:
        (event,) = events_of(session, incident_id, kind.value)
        assert (event.actor_id, event.at, event.summary) == ("UALICE", T1, summary)
        assert event.details == {
            "kind": kind.value,
            "outcome": outcome.value,
            "description": "proxy drops large bodies",
        }


def test_steps_and_hypotheses_never_complete_investigate(session_factory: sessionmaker[Session]) -> None:
    incident_id = open_test_incident(session_factory, "view:full")
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        for kind in (StepKind.STEP, StepKind.HYPOTHESIS):
            result = log_step(
                session=session,
                incident=incident,
                actor_id="UALICE",
                kind=kind,
                description="cleared the cache",
                outcome=StepOutcome.CONFIRMED,
                now=T1,
            )
            assert result == StepLogged(completed_investigate=False, missing_environment=[])
    with unit_of_work(session_factory) as session:
        assert events_of(session, incident_id, "step_done") == []
        assert TriageStep.INVESTIGATE not in _steps(session, incident_id)


def test_a_reproduction_leaves_investigate_pending_while_the_environment_is_incomplete(
    session_factory: sessionmaker[Session],
) -> None:
    incident_id = open_test_incident(
        session_factory, "view:partial", environment=EnvironmentReport(browser="Firefox 128", frequency="every time")
    )
    with unit_of_work(session_factory) as session:
        result = log_step(
            session=session,
            incident=session.get_one(Incident, incident_id),
            actor_id="UALICE",
            kind=StepKind.REPRODUCTION,
            description="reproduced with a 240 MB file",
            outcome=StepOutcome.CONFIRMED,
            now=T1,
        )
        assert result == StepLogged(
            completed_investigate=False, missing_environment=["file size", "operating system", "when it started"]
        )
    with unit_of_work(session_factory) as session:
        assert [e.kind for e in events_of(session, incident_id, "reproduction", "step_done")] == ["reproduction"]
        investigate = _steps(session, incident_id).get(TriageStep.INVESTIGATE)
        assert investigate is None or investigate.state == StepState.PENDING


def test_a_reproduction_with_no_environment_names_all_four_missing_labels(
    session_factory: sessionmaker[Session],
) -> None:
    incident_id = _open_bare(session_factory)
    with unit_of_work(session_factory) as session:
        result = log_step(
            session=session,
            incident=session.get_one(Incident, incident_id),
            actor_id="UALICE",
            kind=StepKind.REPRODUCTION,
            description="tried",
            outcome=StepOutcome.INCONCLUSIVE,
            now=T1,
        )
    assert result.missing_environment == ["file size", "browser", "operating system", "when it started"]
    assert result.completed_investigate is False


def test_a_reproduction_completes_investigate_once_the_environment_is_complete(
    session_factory: sessionmaker[Session],
) -> None:
    incident_id = open_test_incident(session_factory, "view:full")
    with unit_of_work(session_factory) as session:
        result = log_step(
            session=session,
            incident=session.get_one(Incident, incident_id),
            actor_id="UALICE",
            kind=StepKind.REPRODUCTION,
            description="reproduced with a 240 MB file",
            outcome=StepOutcome.CONFIRMED,
            now=T1,
        )
        assert result == StepLogged(completed_investigate=True, missing_environment=[])
    with unit_of_work(session_factory) as session:
        again = log_step(
            session=session,
            incident=session.get_one(Incident, incident_id),
            actor_id="UBOB",
            kind=StepKind.REPRODUCTION,
            description="reproduced again in Edge",
            outcome=StepOutcome.CONFIRMED,
            now=T2,
        )
        assert again == StepLogged(completed_investigate=False, missing_environment=[])
    with unit_of_work(session_factory) as session:
        investigate = _steps(session, incident_id)[TriageStep.INVESTIGATE]
        assert (investigate.state, investigate.done_by, investigate.done_at, investigate.note) == (
            StepState.DONE,
            "UALICE",
            T1,
            "reproduction confirmed",
        )
        assert [(e.kind, e.actor_id) for e in events_of(session, incident_id, "reproduction", "step_done")] == [
            ("reproduction", "UALICE"),
            ("step_done", "UALICE"),
            ("reproduction", "UBOB"),
        ]
        (done,) = events_of(session, incident_id, "step_done")
        assert done.summary == "Investigate done: reproduction confirmed"
        assert done.details == {"step": "investigate", "note": "reproduction confirmed"}


def test_filling_in_the_environment_lets_the_next_reproduction_complete_investigate(
    session_factory: sessionmaker[Session],
) -> None:
    incident_id = _open_bare(session_factory)
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        first = log_step(
            session=session,
            incident=incident,
            actor_id="UALICE",
            kind=StepKind.REPRODUCTION,
            description="reproduced",
            outcome=StepOutcome.CONFIRMED,
            now=T1,
        )
        assert first.completed_investigate is False
        update_details(
            session=session, incident=incident, actor_id="UALICE", details=_details(FULL_ENVIRONMENT), now=T1
        )
        second = log_step(
            session=session,
            incident=incident,
            actor_id="UALICE",
            kind=StepKind.REPRODUCTION,
            description="reproduced, environment recorded",
            outcome=StepOutcome.RULED_OUT,
            now=T2,
        )
        assert second == StepLogged(completed_investigate=True, missing_environment=[])
    with unit_of_work(session_factory) as session:
        investigate = _steps(session, incident_id)[TriageStep.INVESTIGATE]
        assert (investigate.state, investigate.done_at, investigate.note) == (
            StepState.DONE,
            T2,
            "reproduction ruled out",
        )


@pytest.mark.parametrize("status", [IncidentStatus.RESOLVED, IncidentStatus.CLOSED])
def test_no_steps_are_logged_on_a_finished_incident(
    session_factory: sessionmaker[Session], status: IncidentStatus
) -> None:
    incident_id = open_test_incident(session_factory, "view:full")
    with unit_of_work(session_factory) as session:
        session.get_one(Incident, incident_id).status = status
    with unit_of_work(session_factory) as session, pytest.raises(IncidentClosed, match="can't be worked on any more"):
        log_step(
            session=session,
            incident=session.get_one(Incident, incident_id),
            actor_id="UALICE",
            kind=StepKind.STEP,
            description="restarted",
            outcome=StepOutcome.INCONCLUSIVE,
            now=T1,
        )


def test_set_scope_completes_isolate_and_links_both_ways(session_factory: sessionmaker[Session]) -> None:
    subject = open_test_incident(session_factory, "view:subject")
    a = open_test_incident(session_factory, "view:a")
    b = open_test_incident(session_factory, "view:b")
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, subject)
        linked = set_scope(
            session=session,
            incident=incident,
            scope=Scope.REGION,
            actor_id="UALICE",
            now=T1,
            related_ids=[b, a, b, subject, 9999],
        )
        assert linked == [b, a]
        assert (incident.scope, incident.updated_at) == ("region", T1)

    with unit_of_work(session_factory) as session:
        assert linked_incident_ids(session=session, incident_id=subject) == sorted([a, b])
        assert linked_incident_ids(session=session, incident_id=a) == [subject]
        assert linked_incident_ids(session=session, incident_id=b) == [subject]
        assert session.scalar(select(func.count()).select_from(IncidentLink)) == 4
        link = session.scalars(select(IncidentLink).where(IncidentLink.incident_id == a)).one()
        assert (link.reason, link.created_by, link.created_at) == (
            f"same cause as INC-{subject} (isolation)",
            "UALICE",
            T1,
        )
        isolate = _steps(session, subject)[TriageStep.ISOLATE]
        assert (isolate.state, isolate.done_by, isolate.done_at, isolate.note) == (
            StepState.DONE,
            "UALICE",
            T1,
            "region",
        )
        (scoped,) = events_of(session, subject, "scope_set")
        assert scoped.summary == "Scope unknown → region, linked 2 incident(s)"
        assert scoped.details == {"from": None, "to": "region", "linked": [b, a]}
        (done,) = events_of(session, subject, "step_done")
        assert (done.summary, done.details) == ("Isolate done: region", {"step": "isolate", "note": "region"})


def test_links_are_made_exactly_once_whichever_side_asks_again(session_factory: sessionmaker[Session]) -> None:
    subject = open_test_incident(session_factory, "view:subject")
    other = open_test_incident(session_factory, "view:other")
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, subject)
        assert set_scope(
            session=session, incident=incident, scope=Scope.ACCOUNT, actor_id="UALICE", now=T1, related_ids=[other]
        ) == [other]
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, subject)
        assert (
            set_scope(
                session=session, incident=incident, scope=Scope.SYSTEMIC, actor_id="UBOB", now=T2, related_ids=[other]
            )
            == []
        )
    with unit_of_work(session_factory) as session:
        reverse = session.get_one(Incident, other)
        assert (
            set_scope(
                session=session, incident=reverse, scope=Scope.SYSTEMIC, actor_id="UBOB", now=T2, related_ids=[subject]
            )
            == []
        )
    with unit_of_work(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(IncidentLink)) == 2
        assert linked_incident_ids(session=session, incident_id=subject) == [other]
        assert linked_incident_ids(session=session, incident_id=other) == [subject]
        incident = session.get_one(Incident, subject)
        assert incident.scope == "systemic"
        assert [e.summary for e in events_of(session, subject, "scope_set")] == [
            "Scope unknown → account, linked 1 incident(s)",
            "Scope account → systemic",
        ]
        isolate = _steps(session, subject)[TriageStep.ISOLATE]
        assert (isolate.done_by, isolate.done_at, isolate.note) == ("UALICE", T1, "account")
        assert len(events_of(session, subject, "step_done")) == 1


def test_set_scope_with_nothing_related_links_nothing(session_factory: sessionmaker[Session]) -> None:
    subject = open_test_incident(session_factory, "view:subject")
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, subject)
        assert set_scope(session=session, incident=incident, scope=Scope.WORKFLOW, actor_id="UALICE", now=T1) == []
        assert (
            set_scope(
                session=session,
                incident=incident,
                scope=Scope.WORKFLOW,
                actor_id="UALICE",
                now=T1,
                related_ids=[subject, 424242],
            )
            == []
        )
    with unit_of_work(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(IncidentLink)) == 0
        assert linked_incident_ids(session=session, incident_id=subject) == []


def test_a_finished_incident_cannot_be_isolated(session_factory: sessionmaker[Session]) -> None:
    subject = open_test_incident(session_factory, "view:subject")
    with unit_of_work(session_factory) as session:
        session.get_one(Incident, subject).status = IncidentStatus.RESOLVED
    with unit_of_work(session_factory) as session, pytest.raises(IncidentClosed, match="can't be isolated any more"):
        set_scope(
            session=session, incident=session.get_one(Incident, subject), scope=Scope.ACCOUNT, actor_id="U1", now=T1
        )


def test_the_checklist_lists_the_steps_in_playbook_order_with_who_and_when(
    session_factory: sessionmaker[Session],
) -> None:
    incident_id = open_test_incident(session_factory, "view:full")
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        assert checklist(session=session, incident=incident) == [
            StepView(TriageStep.GATHER, "Immediate Action", False, None, None, None),
            StepView(TriageStep.INVESTIGATE, "Investigate", False, None, None, None),
            StepView(TriageStep.ISOLATE, "Isolate", False, None, None, None),
            StepView(TriageStep.ESCALATE, "Escalate", False, None, None, None),
        ]
        refresh_gather(session=session, incident=incident, actor_id="UREP", now=T0)
        set_scope(session=session, incident=incident, scope=Scope.ACCOUNT, actor_id="UBOB", now=T2)
    with unit_of_work(session_factory) as session:
        assert checklist(session=session, incident=session.get_one(Incident, incident_id)) == [
            StepView(TriageStep.GATHER, "Immediate Action", True, "UREP", T0, "environment recorded"),
            StepView(TriageStep.INVESTIGATE, "Investigate", False, None, None, None),
            StepView(TriageStep.ISOLATE, "Isolate", True, "UBOB", T2, "account"),
            StepView(TriageStep.ESCALATE, "Escalate", False, None, None, None),
        ]
