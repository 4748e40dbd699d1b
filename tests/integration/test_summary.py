"""The one-page summary and the audit trail built from real records on PostgreSQL, their golden exports and the CLI.

Run with UPDATE_GOLDEN=1 to rewrite tests/golden/summary/ after an intended change, then review the diff.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import html5lib
import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import ManualClock
from bot.db import unit_of_work
from bot.domain.audit import record_event
from bot.domain.errors import IncidentNotFound
from bot.domain.escalations import mark_filed, record_feedback, request_escalation
from bot.domain.lifecycle import acknowledge, change_status
from bot.domain.names import remember_name
from bot.domain.summary import DeadlineOutcome, IncidentSummary, build_audit_trail, build_summary
from bot.domain.triage import StepKind, StepOutcome, log_step, refresh_gather
from bot.domain.workarounds import answer_checkin, start_workaround
from bot.exports import audit_html, audit_json, audit_markdown, summary_html, summary_json, summary_markdown
from bot.models import (
    AttemptOutcome,
    Base,
    EscalationKind,
    FeedbackTrack,
    FollowUp,
    Incident,
    IncidentStatus,
    Learning,
    WorkaroundKind,
)
from tests.builders import events_of, open_test_incident
from tests.conftest import T0

Factory = sessionmaker[Session]
GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "summary"
BIN = Path(sys.executable).parent / "triage-bot"
ZONE = ZoneInfo("Europe/Berlin")
OWNER = "UOWNER"
# What Slack calls the people of the worked incident, as the bot learned it (bot.services.names).
PEOPLE = {
    "UREP": "Rae Chen",
    "UOWNER": "Sam Rivera",
    "UONCALL": "Olu Adeyemi",
    "UOPS": "Ola Jensen",
    "UPM": "Priya Shah",
    "CSUPPORT": "#support",
}


@pytest.fixture
def fresh_db(clean_db: Engine) -> Iterator[Engine]:
    """The database emptied (and its ids restarted) first too, so the golden incident is INC-1 in any test order."""
    tables = ", ".join(f'"{t.name}"' for t in reversed(Base.metadata.sorted_tables))
    with clean_db.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield clean_db


def assert_golden(name: str, produced: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(produced, encoding="utf-8")
    assert path.exists(), f"{path} is missing; run the tests with UPDATE_GOLDEN=1 to write it"
    assert produced == path.read_text(encoding="utf-8"), f"{name} changed; if intended, rerun with UPDATE_GOLDEN=1"


def assert_well_formed(document: str) -> None:
    html5lib.HTMLParser(strict=True).parse(document)


def worked_incident(factory: Factory, clock: ManualClock) -> int:
    """INC-1 worked through the playbook: acknowledged, reproduced, a corrected hypothesis, a Jira handoff,
    product feedback, a retry cycle that worked on its second attempt, mitigated before the deadline, resolved."""
    incident_id = open_test_incident(factory, "summary-golden", now=clock.now())
    with unit_of_work(factory) as session:
        for slack_id, name in PEOPLE.items():
            remember_name(session, team_id=None, slack_id=slack_id, name=name, now=clock.now())
        incident = session.get_one(Incident, incident_id)
        clock.advance(timedelta(minutes=4))
        acknowledge(session=session, incident=incident, actor_id=OWNER, now=clock.now())
        refresh_gather(session=session, incident=incident, actor_id=OWNER, now=clock.now())
        clock.advance(timedelta(minutes=6))
        log_step(
            session=session,
            incident=incident,
            actor_id=OWNER,
            kind=StepKind.REPRODUCTION,
            description="250 MB PDF bundle in Chrome 126 on Windows 11 stops at 99%",
            outcome=StepOutcome.CONFIRMED,
            now=clock.now(),
        )
        clock.advance(timedelta(minutes=4))
        log_step(
            session=session,
            incident=incident,
            actor_id=OWNER,
            kind=StepKind.HYPOTHESIS,
            description="The CDN serves a stale upload endpoint",
            outcome=StepOutcome.RULED_OUT,
            now=clock.now(),
        )
        session.flush()
        [hypothesis] = events_of(session, incident_id, "hypothesis")
        clock.advance(timedelta(minutes=2))
        record_event(
            session=session,
            incident=incident,
            at=clock.now(),
            actor_id=OWNER,
            kind="correction",
            summary="Correction: the hypothesis was about the upload proxy, not the CDN",
            refers_to=hypothesis,
        )
        clock.advance(timedelta(minutes=2))
        handoff = request_escalation(
            session=session,
            incident=incident,
            kind=EscalationKind.ENGINEERING,
            requested_by=OWNER,
            now=clock.now(),
            configured=True,
        ).escalation
        clock.advance(timedelta(minutes=1))
        mark_filed(
            session=session,
            incident=incident,
            escalation=handoff,
            ref="ENG-42",
            url="https://jira.example.com/browse/ENG-42",
            where="Jira",
            now=clock.now(),
        )
        clock.advance(timedelta(minutes=1))
        workaround = start_workaround(
            session=session,
            incident=incident,
            kind=WorkaroundKind.RETRY_CYCLE,
            description="Re-upload the bundle every 10 minutes",
            client_expectation="It may take a couple of tries",
            owner_id=OWNER,
            time_box=timedelta(minutes=60),
            interval=timedelta(minutes=10),
            now=clock.now(),
        )
        clock.advance(timedelta(minutes=10))
        answer_checkin(
            session=session,
            incident=incident,
            workaround_id=workaround.id,
            number=1,
            outcome=AttemptOutcome.STILL_FAILING,
            actor_id=OWNER,
            error_text="Network error at 99%",
            now=clock.now(),
        )
        clock.advance(timedelta(minutes=10))
        answer_checkin(
            session=session,
            incident=incident,
            workaround_id=workaround.id,
            number=2,
            outcome=AttemptOutcome.WORKED,
            actor_id=OWNER,
            error_text=None,
            now=clock.now(),
        )
        clock.advance(timedelta(minutes=1))
        change_status(
            session=session,
            incident=incident,
            to=IncidentStatus.MITIGATED,
            actor_id=OWNER,
            now=clock.now(),
            reason="the bundle went through on the second retry",
        )
        clock.advance(timedelta(minutes=9))
        feedback = request_escalation(
            session=session,
            incident=incident,
            kind=EscalationKind.PRODUCT_FEEDBACK,
            requested_by=OWNER,
            now=clock.now(),
            configured=False,
            submission="feedback-1",
        ).escalation
        record_feedback(
            session=session,
            incident=incident,
            escalation=feedback,
            track=FeedbackTrack.MESSAGING,
            area="uploads",
            pm_user_id="UPM",
            use_case="'Network error' at 99% sent the client to retry blindly before a court filing",
            created_by=OWNER,
            now=clock.now(),
        )
        clock.advance(timedelta(minutes=45))
        resolve(session, incident, clock)
    return incident_id


def resolve(session: Session, incident: Incident, clock: ManualClock) -> None:
    """Root cause and resolution on the incident, then follow-ups and learnings stored as rows of their own."""
    now = clock.now()
    incident.root_cause = "The upload proxy cut requests off after 60 s; large bundles need about 90 s at 99%."
    incident.resolution = "Raised the proxy timeout to 10 minutes for the upload service."
    change_status(session=session, incident=incident, to=IncidentStatus.RESOLVED, actor_id=OWNER, now=now)
    session.add_all(
        [
            FollowUp(
                incident_id=incident.id,
                description="Alert when the upload proxy times out",
                owner_id="UOPS",
                due_on=date(2026, 12, 4),
                created_by=OWNER,
                created_at=now,
                wants_ticket=True,
                ticket_key="ENG-57",
                ticket_url="https://jira.example.com/browse/ENG-57",
            ),
            FollowUp(
                incident_id=incident.id,
                description="Show upload progress past 99% instead of 'Network error'",
                owner_id="UPM",
                created_by=OWNER,
                created_at=now,
            ),
            Learning(
                incident_id=incident.id, text="Check proxy timeouts before the CDN.", created_by=OWNER, created_at=now
            ),
            Learning(
                incident_id=incident.id, text="A retry cycle kept the filing on time.", created_by=OWNER, created_at=now
            ),
        ]
    )


def summary_of(factory: Factory, incident_id: int, clock: ManualClock) -> IncidentSummary:
    with unit_of_work(factory) as session:
        return build_summary(session=session, incident_id=incident_id, now=clock.now())


# --- golden files -----------------------------------------------------------------------------------------


def test_the_summary_of_a_worked_incident_matches_its_golden_files(
    fresh_db: Engine, session_factory: Factory, clock: ManualClock
) -> None:
    incident_id = worked_incident(session_factory, clock)
    summary = summary_of(session_factory, incident_id, clock)
    assert summary.key == "INC-1"
    html = summary_html(summary, zone=ZONE)
    assert_well_formed(html)
    document = summary_json(summary)
    assert json.loads(document)["incident"]["key"] == "INC-1"
    assert_golden("INC-1.md", summary_markdown(summary, zone=ZONE))
    assert_golden("INC-1.html", html)
    assert_golden("INC-1.json", document)


def test_the_audit_trail_of_a_worked_incident_matches_its_golden_files(
    fresh_db: Engine, session_factory: Factory, clock: ManualClock
) -> None:
    incident_id = worked_incident(session_factory, clock)
    with unit_of_work(session_factory) as session:
        trail = build_audit_trail(session=session, incident_id=incident_id)
    html = audit_html(trail, zone=ZONE)
    assert_well_formed(html)
    assert len(json.loads(audit_json(trail))["entries"]) == len(trail.entries)
    assert_golden("INC-1-audit.md", audit_markdown(trail, zone=ZONE))
    assert_golden("INC-1-audit.html", html)
    assert_golden("INC-1-audit.json", audit_json(trail))


# --- what the summary says ---------------------------------------------------------------------------------


def test_the_summary_gathers_every_record_of_the_incident(
    fresh_db: Engine, session_factory: Factory, clock: ManualClock
) -> None:
    incident_id = worked_incident(session_factory, clock)
    summary = summary_of(session_factory, incident_id, clock)
    assert (summary.client_name, summary.client_tier.value, summary.severity.value) == (
        "Hartley & Moss LLP",
        "premium",
        "SEV1",
    )
    assert summary.status == IncidentStatus.RESOLVED and summary.owner_id == OWNER
    assert summary.what_happened.file_size == "250 MB" and summary.what_happened.frequency == "every time"
    assert summary.deadline.outcome == DeadlineOutcome.MET
    assert [(e.kind, e.state.value, e.ticket_key) for e in summary.escalations] == [
        (EscalationKind.ENGINEERING, "filed", "ENG-42"),
        (EscalationKind.PRODUCT_FEEDBACK, "not_configured", None),
    ]
    assert [(f.track, f.area) for f in summary.feedback] == [(FeedbackTrack.MESSAGING, "uploads")]
    assert [(w.label, w.state.value, w.attempts) for w in summary.workarounds] == [("Retry cycle", "worked", 2)]
    assert [f.ticket_key for f in summary.follow_ups] == ["ENG-57", None]
    assert summary.learnings == ("Check proxy timeouts before the CDN.", "A retry cycle kept the filing on time.")
    assert [s.done for s in summary.steps] == [True, True, False, True]
    assert [e.number for e in summary.timeline] == list(range(1, len(summary.timeline) + 1))
    times = [e.at for e in summary.timeline]
    assert times == sorted(times) and summary.timeline[0].kind == "opened"


def test_durations_run_from_opening_to_each_milestone(
    fresh_db: Engine, session_factory: Factory, clock: ManualClock
) -> None:
    incident_id = worked_incident(session_factory, clock)
    durations = summary_of(session_factory, incident_id, clock).durations
    assert durations.to_acknowledge == timedelta(minutes=4)
    assert durations.to_mitigate == timedelta(minutes=41)
    assert durations.to_resolve == timedelta(minutes=95)


def test_durations_not_reached_are_none_and_a_resolution_counts_as_mitigation(
    fresh_db: Engine, session_factory: Factory, clock: ManualClock
) -> None:
    open_id = open_test_incident(session_factory, "still-open", now=T0)
    resolved_id = open_test_incident(session_factory, "resolved-directly", now=T0)
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, resolved_id)
        change_status(
            session=session,
            incident=incident,
            to=IncidentStatus.RESOLVED,
            actor_id=OWNER,
            now=T0 + timedelta(minutes=30),
        )
    clock.advance(timedelta(hours=1))
    still_open = summary_of(session_factory, open_id, clock).durations
    assert (still_open.to_acknowledge, still_open.to_mitigate, still_open.to_resolve) == (None, None, None)
    direct = summary_of(session_factory, resolved_id, clock).durations
    assert direct.to_acknowledge is None
    assert direct.to_mitigate == direct.to_resolve == timedelta(minutes=30)


DEADLINE = T0 + timedelta(hours=2)


@pytest.mark.parametrize(
    ("mitigated_after", "resolved_after", "now_after", "outcome"),
    [
        (timedelta(hours=1), None, timedelta(hours=3), DeadlineOutcome.MET),
        (timedelta(hours=2), None, timedelta(hours=3), DeadlineOutcome.MET),
        (timedelta(hours=2, minutes=1), None, timedelta(hours=3), DeadlineOutcome.MISSED),
        (None, timedelta(minutes=90), timedelta(hours=3), DeadlineOutcome.MET),
        (None, timedelta(hours=4), timedelta(hours=5), DeadlineOutcome.MISSED),
        (timedelta(minutes=30), timedelta(hours=4), timedelta(hours=5), DeadlineOutcome.MET),
        (None, None, timedelta(hours=1), DeadlineOutcome.PENDING),
        (None, None, timedelta(hours=2), DeadlineOutcome.PENDING),
        (None, None, timedelta(hours=2, seconds=1), DeadlineOutcome.MISSED),
    ],
    ids=[
        "mitigated-before",
        "mitigated-at-the-deadline",
        "mitigated-after",
        "resolved-before",
        "resolved-after",
        "mitigated-before-resolved-after",
        "open-before",
        "open-at-the-deadline",
        "open-past-it",
    ],
)
def test_deadline_outcome(
    fresh_db: Engine,
    session_factory: Factory,
    clock: ManualClock,
    mitigated_after: timedelta | None,
    resolved_after: timedelta | None,
    now_after: timedelta,
    outcome: DeadlineOutcome,
) -> None:
    incident_id = open_test_incident(session_factory, "deadline", now=T0, deadline_at=DEADLINE)
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        for status, after in ((IncidentStatus.MITIGATED, mitigated_after), (IncidentStatus.RESOLVED, resolved_after)):
            if after is not None:
                change_status(session=session, incident=incident, to=status, actor_id=OWNER, now=T0 + after)
    clock.set(T0 + now_after)
    summary = summary_of(session_factory, incident_id, clock)
    assert summary.deadline.at == DEADLINE
    assert summary.deadline.outcome == outcome


def test_no_deadline_has_no_outcome(fresh_db: Engine, session_factory: Factory, clock: ManualClock) -> None:
    incident_id = open_test_incident(session_factory, "no-deadline", now=T0, deadline_at=None, deadline_context=None)
    clock.advance(timedelta(days=3))
    assert summary_of(session_factory, incident_id, clock).deadline.outcome == DeadlineOutcome.NONE


def test_corrections_are_linked_both_ways(fresh_db: Engine, session_factory: Factory, clock: ManualClock) -> None:
    incident_id = open_test_incident(session_factory, "corrections", now=T0)
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        [opened] = events_of(session, incident_id, "opened")
        for minute, summary in (
            (5, "Correction: the client is Hartley & Moss"),
            (9, "Correction: the deadline is 11:00"),
        ):
            record_event(
                session=session,
                incident=incident,
                at=T0 + timedelta(minutes=minute),
                actor_id=OWNER,
                kind="correction",
                summary=summary,
                refers_to=opened,
            )
    with unit_of_work(session_factory) as session:
        trail = build_audit_trail(session=session, incident_id=incident_id)
    by_kind = {e.kind: e for e in trail.entries if e.kind != "correction"}
    corrections = [e for e in trail.entries if e.kind == "correction"]
    assert by_kind["opened"].corrected_by == tuple(c.number for c in corrections)
    assert [c.corrects for c in corrections] == [by_kind["opened"].number] * 2
    assert all(e.corrects is None for e in by_kind.values())
    markdown = audit_markdown(trail, zone=ZONE)
    assert f"_(corrected by #{corrections[0].number}, #{corrections[1].number})_" in markdown


def test_an_unknown_incident_is_a_domain_error(fresh_db: Engine, session_factory: Factory, clock: ManualClock) -> None:
    with unit_of_work(session_factory) as session, pytest.raises(IncidentNotFound) as summary:
        build_summary(session=session, incident_id=999, now=clock.now())
    with unit_of_work(session_factory) as session, pytest.raises(IncidentNotFound) as audit:
        build_audit_trail(session=session, incident_id=999)
    assert summary.value.reference == audit.value.reference == "INC-999"


def count_queries(engine: Engine, factory: Factory, incident_id: int, clock: ManualClock) -> int:
    statements: list[str] = []

    def remember(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", remember)
    try:
        with factory() as session:
            build_summary(session=session, incident_id=incident_id, now=clock.now())
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    return len(statements)


def test_a_summary_takes_the_same_few_queries_however_much_happened(
    fresh_db: Engine, session_factory: Factory, clock: ManualClock
) -> None:
    quiet = open_test_incident(session_factory, "quiet", now=T0)
    busy = open_test_incident(session_factory, "busy", now=T0)
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, busy)
        for n in range(3):
            workaround = start_workaround(
                session=session,
                incident=incident,
                kind=WorkaroundKind.RETRY_CYCLE,
                description=f"Retry {n}",
                client_expectation="Retries",
                owner_id=OWNER,
                time_box=timedelta(hours=1),
                interval=timedelta(minutes=5),
                now=T0,
            )
            for number in (1, 2):
                answer_checkin(
                    session=session,
                    incident=incident,
                    workaround_id=workaround.id,
                    number=number,
                    outcome=AttemptOutcome.STILL_FAILING,
                    actor_id=OWNER,
                    error_text=None,
                    now=T0 + timedelta(minutes=number),
                )
        for n in range(200):
            record_event(session=session, incident=incident, at=T0, actor_id=OWNER, kind="note", summary=f"note {n}")
    queries = count_queries(fresh_db, session_factory, quiet, clock)
    assert queries <= 9  # one of them reads the names of everyone the summary shows
    assert count_queries(fresh_db, session_factory, busy, clock) == queries
    assert [w.attempts for w in summary_of(session_factory, busy, clock).workarounds] == [2, 2, 2]


# --- triage-bot export -------------------------------------------------------------------------------------


def run_export(database_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "JIRA_", "DISPLAY_"))}
    env.update(DATABASE_URL=database_url, DISPLAY_TIMEZONE="Europe/Berlin")
    return subprocess.run(
        [str(BIN), "export", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_export_writes_the_summary_to_stdout_and_the_audit_trail_to_a_file(
    fresh_db: Engine, session_factory: Factory, clock: ManualClock, database_url: str, tmp_path: Path
) -> None:
    worked_incident(session_factory, clock)
    markdown = run_export(database_url, tmp_path, "INC-1", "--format", "md")
    assert markdown.returncode == 0, markdown.stderr
    assert markdown.stdout.startswith("# INC-1 · Exhibit upload fails at 99%\n")
    assert "| **Deadline** | 2026-11-30 12:00 CET — court filing · **met** |" in markdown.stdout

    target = tmp_path / "inc-1-audit.html"
    audit = run_export(database_url, tmp_path, "inc-1", "--audit", "--format", "html", "--output", str(target))
    assert audit.returncode == 0, audit.stderr
    assert audit.stdout == ""
    assert f"Wrote the audit trail of INC-1 to {target}" in audit.stderr
    assert_well_formed(target.read_text(encoding="utf-8"))
    assert target.read_text(encoding="utf-8") == (GOLDEN / "INC-1-audit.html").read_text(encoding="utf-8")

    as_json = run_export(database_url, tmp_path, "1", "--format", "JSON")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["deadline"]["outcome"] == "met"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("INC-999",), "There is no incident INC-999."),
        (("INC-twelve",), "'INC-twelve' is not an incident key such as INC-12."),
        (("INC-1", "--format", "pdf"), "Unknown format 'pdf': use md, html, json."),
    ],
    ids=["unknown-incident", "bad-key", "bad-format"],
)
def test_export_stops_with_one_clear_line(
    fresh_db: Engine, database_url: str, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = run_export(database_url, tmp_path, *args)
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert message in line
