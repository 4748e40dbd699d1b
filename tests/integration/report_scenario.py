"""Fixture incidents for the period report, made through the domain functions with given times."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.db import unit_of_work
from bot.domain.escalations import mark_filed, record_feedback, request_escalation
from bot.domain.lifecycle import acknowledge, change_status
from bot.domain.names import remember_name
from bot.models import EscalationKind, FeedbackTrack, Incident, IncidentStatus, Learning, Severity
from tests.builders import open_test_incident

UPLOAD_BLOCKER = "Uploading the {size} MB exhibit bundle stops at {pct}% with 'Network error'."


def _open(factory: sessionmaker[Session], key: str, *, at: datetime, **changes: object) -> int:
    return open_test_incident(factory, key, now=at, **changes)


def _acknowledge(factory: sessionmaker[Session], incident_id: int, at: datetime) -> None:
    with unit_of_work(factory) as session:
        acknowledge(session=session, incident=session.get_one(Incident, incident_id), actor_id="UAGENT", now=at)


def _move(factory: sessionmaker[Session], incident_id: int, to: IncidentStatus, at: datetime) -> None:
    with unit_of_work(factory) as session:
        change_status(
            session=session, incident=session.get_one(Incident, incident_id), to=to, actor_id="UAGENT", now=at
        )


def _feedback(
    factory: sessionmaker[Session],
    incident_id: int,
    *,
    at: datetime,
    track: FeedbackTrack,
    area: str,
    use_case: str,
    ticket: str | None = None,
) -> None:
    """Product feedback through the escalation path; filed in Jira as `ticket` when one is given."""
    with unit_of_work(factory) as session:
        incident = session.get_one(Incident, incident_id)
        requested = request_escalation(
            session=session,
            incident=incident,
            kind=EscalationKind.PRODUCT_FEEDBACK,
            requested_by="UAGENT",
            now=at,
            configured=ticket is not None,
            submission=f"form-{incident_id}",
        )
        session.flush()
        if ticket is not None:
            url = f"https://jira.example.com/browse/{ticket}"
            mark_filed(
                session=session,
                incident=incident,
                escalation=requested.escalation,
                ref=ticket,
                url=url,
                where="Jira",
                now=at,
            )
        record_feedback(
            session=session,
            incident=incident,
            escalation=requested.escalation,
            track=track,
            area=area,
            pm_user_id="UPM",
            use_case=use_case,
            created_by="UAGENT",
            now=at,
        )


def _learning(factory: sessionmaker[Session], incident_id: int, text: str, at: datetime) -> None:
    with unit_of_work(factory) as session:
        session.add(Learning(incident_id=incident_id, text=text, created_by="UAGENT", created_at=at))


def build_scenario(factory: sessionmaker[Session], now: datetime) -> None:
    """Six incidents: five opened in the 30 days before `now`, one in the 30 days before those.

    INC-1 SEV1 upload, acked 5 min, mitigated 1 h (deadline 2 h: met), resolved 3 h, feedback PROD-7, a learning
    INC-2 SEV2 upload (another spelling), acked 15 min, resolved 5 h: deadline missed
    INC-3 SEV3 e-signature, acked 60 min, still open past its deadline: missed; feedback not filed
    INC-4 SEV2 search, opened an hour ago, deadline ahead: pending
    INC-5 SEV4 upload, no deadline, acked 30 min, resolved 10 h
    INC-6 SEV1 upload in the period before, never resolved: missed then; feedback and a learning then
    """
    with unit_of_work(factory) as session:  # what Slack calls the PM, as the bot learned it
        remember_name(session, team_id=None, slack_id="UPM", name="Priya Shah", now=now)
    one = now - timedelta(days=10)
    first = _open(factory, "r1", at=one, blocker=UPLOAD_BLOCKER.format(size=250, pct=99))
    _acknowledge(factory, first, one + timedelta(minutes=5))
    _feedback(
        factory,
        first,
        at=one + timedelta(minutes=30),
        track=FeedbackTrack.STABILITY,
        area="Uploads",
        use_case="Files <!channel> 2 GB exhibit bundles before court deadlines & can't split them.",
        ticket="PROD-7",
    )
    _move(factory, first, IncidentStatus.MITIGATED, one + timedelta(hours=1))
    _move(factory, first, IncidentStatus.RESOLVED, one + timedelta(hours=3))
    _learning(
        factory,
        first,
        "Ask for the file size first: uploads over 200 MB hit the proxy limit.",
        one + timedelta(hours=3),
    )

    two = now - timedelta(days=9)
    second = _open(
        factory,
        "r2",
        at=two,
        client_name="Baxter Legal",
        severity=Severity.SEV2,
        workflow="Document Upload",
        blocker=UPLOAD_BLOCKER.format(size=80, pct=98),
    )
    _acknowledge(factory, second, two + timedelta(minutes=15))
    _move(factory, second, IncidentStatus.RESOLVED, two + timedelta(hours=5))

    three = now - timedelta(days=3)
    third = _open(
        factory,
        "r3",
        at=three,
        client_name="Baxter Legal",
        severity=Severity.SEV3,
        workflow="e-signature",
        region="us-east",
        blocker="Signing the contract shows 'Signature could not be applied'.",
    )
    _acknowledge(factory, third, three + timedelta(minutes=60))
    _feedback(
        factory,
        third,
        at=three + timedelta(hours=2),
        track=FeedbackTrack.MESSAGING,
        area="E-signature",
        use_case="The error does not say which signer is missing.",
    )

    _open(
        factory,
        "r4",
        at=now - timedelta(hours=1),
        severity=Severity.SEV2,
        workflow="search",
        region=None,
        blocker="Search returns nothing for matters created today.",
    )

    five = now - timedelta(days=2)
    fifth = _open(
        factory,
        "r5",
        at=five,
        severity=Severity.SEV4,
        deadline_at=None,
        deadline_context=None,
        blocker=UPLOAD_BLOCKER.format(size=1500, pct=97),
    )
    _acknowledge(factory, fifth, five + timedelta(minutes=30))
    _move(factory, fifth, IncidentStatus.RESOLVED, five + timedelta(hours=10))

    six = now - timedelta(days=40)
    sixth = _open(factory, "r6", at=six, blocker=UPLOAD_BLOCKER.format(size=120, pct=100))
    _feedback(
        factory,
        sixth,
        at=six + timedelta(hours=1),
        track=FeedbackTrack.STABILITY,
        area="uploads",
        use_case="Large uploads.",
        ticket="PROD-3",
    )
    _learning(factory, sixth, "Older learning, outside the period.", six + timedelta(hours=2))
