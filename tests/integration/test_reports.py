"""The key-learnings & patterns report over fixture incidents, on PostgreSQL and on SQLite, and its goldens."""

from __future__ import annotations

import json
import os
import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from bot.db import make_engine, make_session_factory, unit_of_work
from bot.domain.errors import DomainError
from bot.domain.isolation import text_similarity
from bot.domain.reports import (
    Deadlines,
    PeriodReport,
    Tally,
    TimeStats,
    blocker_signature,
    build_report,
    parse_days,
)
from bot.exports.report_formats import report_json, report_markdown, report_text
from bot.migrate import upgrade
from bot.models import Client, ClientTier, FeedbackTrack, Incident, Severity
from tests.conftest import T0
from tests.integration.report_scenario import UPLOAD_BLOCKER, build_scenario

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "report"


@pytest.fixture
def scenario(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    build_scenario(session_factory, T0)
    return session_factory


def report_of(factory: sessionmaker[Session], *, days: int = 30, now: datetime = T0) -> PeriodReport:
    with unit_of_work(factory) as session:
        return build_report(session, days=days, now=now)


@pytest.fixture
def sqlite_factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


def test_counts_by_severity_client_workflow_and_region_against_the_period_before(
    scenario: sessionmaker[Session],
) -> None:
    report = report_of(scenario)

    assert (report.incidents, report.previous_incidents) == (5, 1)
    assert report.by_severity == (
        Tally("SEV1", 1, 1),
        Tally("SEV2", 2, 0),
        Tally("SEV3", 1, 0),
        Tally("SEV4", 1, 0),
    )
    assert report.by_client == (Tally("Hartley & Moss LLP", 3, 1), Tally("Baxter Legal", 2, 0))
    assert report.by_workflow == (
        Tally("Document Upload", 3, 1),  # "document upload" and "Document Upload" are one workflow
        Tally("e-signature", 1, 0),
        Tally("search", 1, 0),
    )
    assert report.by_region == (Tally("eu-west", 3, 1), Tally("not given", 1, 0), Tally("us-east", 1, 0))


def test_mean_and_p90_times_to_acknowledge_and_resolve(scenario: sessionmaker[Session]) -> None:
    times = report_of(scenario).times

    # acknowledged after 5, 15, 30 and 60 min; p90 interpolates like percentile_cont: 30 + 0.7 * 30 = 51 min
    assert times.acknowledge == TimeStats(4, timedelta(minutes=27, seconds=30), timedelta(minutes=51))
    # resolved after 3, 5 and 10 h; p90 = 5 + 0.8 * 5 = 9 h
    assert times.resolve == TimeStats(3, timedelta(hours=6), timedelta(hours=9))
    assert times.previous_acknowledge == TimeStats() and times.previous_resolve == TimeStats()
    assert dict(times.resolve_by_severity) == {
        Severity.SEV1: TimeStats(1, timedelta(hours=3), timedelta(hours=3)),
        Severity.SEV2: TimeStats(1, timedelta(hours=5), timedelta(hours=5)),
        Severity.SEV3: TimeStats(),
        Severity.SEV4: TimeStats(1, timedelta(hours=10), timedelta(hours=10)),
    }


def test_deadlines_met_missed_pending_and_without(scenario: sessionmaker[Session]) -> None:
    report = report_of(scenario)

    assert report.deadlines == Deadlines(met=1, missed=2, pending=1, without=1)
    assert report.deadlines.met_share == pytest.approx(1 / 3)
    assert report.previous_deadlines == Deadlines(met=0, missed=1, pending=0, without=0)


def test_a_deadline_still_ahead_becomes_missed_once_it_passes_unresolved(scenario: sessionmaker[Session]) -> None:
    later = report_of(scenario, now=T0 + timedelta(hours=2))

    assert later.deadlines == Deadlines(met=1, missed=3, pending=0, without=1)


def test_recurring_themes_group_a_workflow_s_similar_blockers(scenario: sessionmaker[Session]) -> None:
    report = report_of(scenario)

    assert len(report.themes) == 1
    theme = report.themes[0]
    assert theme.workflow == "Document Upload"  # one spelling of the workflow, the same on every database
    assert theme.keys == ("INC-1", "INC-2", "INC-5") and theme.count == 3
    assert theme.blocker == UPLOAD_BLOCKER.format(size=250, pct=99)
    assert report.more_themes == 0


def test_incidents_per_week_cover_every_week_of_the_period(scenario: sessionmaker[Session]) -> None:
    weeks = report_of(scenario).weeks

    assert [w.label for w in weeks] == ["2026-W44", "2026-W45", "2026-W46", "2026-W47", "2026-W48", "2026-W49"]
    assert sum(w.total for w in weeks) == 5
    by_week = {w.label: {s.value: c for s, c in w.by_severity if c} for w in weeks}
    assert by_week["2026-W47"] == {"SEV1": 1, "SEV2": 1}  # opened Fri 20 and Sat 21 Nov
    assert by_week["2026-W48"] == {"SEV3": 1, "SEV4": 1}
    assert by_week["2026-W49"] == {"SEV2": 1}


def test_feedback_by_track_and_area_with_trend_and_tickets(scenario: sessionmaker[Session]) -> None:
    report = report_of(scenario)

    assert (report.feedback, report.previous_feedback) == (2, 1)
    assert report.feedback_by_track == (
        Tally("Stability", 1, 1),
        Tally("Messaging", 1, 0),
        Tally("Monitoring", 0, 0),
    )
    assert report.feedback_by_area == (Tally("Uploads", 1, 1), Tally("E-signature", 1, 0))
    stability = report.feedback_for(FeedbackTrack.STABILITY)
    assert [(i.incident_key, i.ticket_key, i.ticket_url, i.ticket_state) for i in stability] == [
        ("INC-1", "PROD-7", "https://jira.example.com/browse/PROD-7", "filed")
    ]
    messaging = report.feedback_for(FeedbackTrack.MESSAGING)
    assert [(i.incident_key, i.area, i.ticket_key, i.ticket_state) for i in messaging] == [
        ("INC-3", "E-signature", None, "not_configured")
    ]


def test_key_learnings_recorded_in_the_period_with_their_incident(scenario: sessionmaker[Session]) -> None:
    learnings = report_of(scenario).learnings

    assert [(item.incident_key, item.text) for item in learnings] == [
        ("INC-1", "Ask for the file size first: uploads over 200 MB hit the proxy limit.")
    ]


def test_an_empty_period_is_a_report_that_says_so(session_factory: sessionmaker[Session]) -> None:
    report = report_of(session_factory)

    assert report.is_empty
    assert (report.incidents, report.feedback, report.themes, report.learnings) == (0, 0, (), ())
    assert report.deadlines == Deadlines() and report.times.acknowledge == TimeStats()
    assert len(report.weeks) == 6 and all(w.total == 0 for w in report.weeks)
    assert "No incidents opened in the last 30 days" in report_text(report)
    assert json.loads(report_json(report))["empty"] is True


def test_a_quiet_period_after_a_busy_one_is_empty_and_keeps_the_trend(scenario: sessionmaker[Session]) -> None:
    report = report_of(scenario, now=T0 - timedelta(days=25), days=10)

    assert report.is_empty
    assert (report.incidents, report.previous_incidents) == (0, 1)
    assert (report.feedback, report.previous_feedback) == (0, 1)
    assert report.by_severity[0] == Tally("SEV1", 0, 1)


@pytest.mark.parametrize("days", [0, -3, 366, 10_000])
def test_days_outside_one_to_365_are_refused_clearly(session_factory: sessionmaker[Session], days: int) -> None:
    with pytest.raises(DomainError, match="1 to 365 days"):
        report_of(session_factory, days=days)


@pytest.mark.parametrize(
    ("text", "days"), [("", 30), (None, 30), ("30d", 30), ("7", 7), (" 2w ", 14), ("365 days", 365)]
)
def test_report_periods_as_typed_in_slack(text: str | None, days: int) -> None:
    assert parse_days(text) == days


@pytest.mark.parametrize("text", ["0d", "366d", "a month", "-5d", "30x"])
def test_report_periods_that_are_not_one_are_refused(text: str) -> None:
    with pytest.raises(DomainError, match="1 to 365 days"):
        parse_days(text)


def test_the_report_takes_a_fixed_number_of_aggregate_queries(scenario: sessionmaker[Session], engine: Engine) -> None:
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        report_of(scenario)
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert len(statements) <= 14
    assert not any("incidents.title" in s for s in statements)  # never whole incident rows


def test_sqlite_gives_the_same_report_as_postgresql(
    scenario: sessionmaker[Session], sqlite_factory: sessionmaker[Session]
) -> None:
    build_scenario(sqlite_factory, T0)

    on_sqlite = report_of(sqlite_factory)

    assert on_sqlite == report_of(scenario)
    assert on_sqlite.times.acknowledge.p90 == timedelta(minutes=51)


def test_sqlite_empty_period(sqlite_factory: sessionmaker[Session]) -> None:
    assert report_of(sqlite_factory, days=1).is_empty


def _golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1 to write it"
    assert actual == path.read_text(encoding="utf-8"), f"{name} differs from its golden (UPDATE_GOLDEN=1 rewrites)"


def test_text_report_golden(scenario: sessionmaker[Session]) -> None:
    _golden("report.txt", report_text(report_of(scenario)))


def test_markdown_report_golden(scenario: sessionmaker[Session]) -> None:
    markdown = report_markdown(report_of(scenario))

    _golden("report.md", markdown)
    assert "<!channel>" not in markdown  # typed text is inert


def test_json_report_golden_and_parsed_back(scenario: sessionmaker[Session]) -> None:
    text = report_json(report_of(scenario))

    _golden("report.json", text)
    document = json.loads(text)
    assert document["format"] == "triage-bot/period-report" and document["version"] == 1
    assert document["incidents"]["count"] == 5
    assert document["response_times_seconds"]["acknowledge"] == {"incidents": 4, "mean": 1650, "p90": 3060}
    assert document["feedback"]["items"]["stability"][0]["ticket_url"] == "https://jira.example.com/browse/PROD-7"


WORDS = [
    "upload",
    "fails",
    "stops",
    "exhibit",
    "bundle",
    "signature",
    "login",
    "loops",
    "export",
    "times",
    "out",
    "the",
]


def _many_incidents(factory: sessionmaker[Session], count: int) -> None:
    """`count` incidents over the last 30 days with short blockers drawn from a few words (many alike, some not)."""
    rng = random.Random(11)
    with unit_of_work(factory) as session:
        client = Client(name="Acme LLP", name_key="acme llp", tier=ClientTier.STANDARD, created_at=T0)
        session.add(client)
        for number in range(count):
            opened = T0 - timedelta(minutes=rng.randint(1, 30 * 24 * 60 - 1))
            words = rng.sample(WORDS, rng.randint(2, 5))
            session.add(
                Incident(
                    title=f"Incident {number}",
                    client=client,
                    severity=rng.choice(list(Severity)),
                    workflow=rng.choice(["document upload", "Document upload", "e-signature", None]),
                    blocker=f"{' '.join(words)} {rng.randint(1, 999)}",
                    channel_id="CSUPPORT",
                    reporter_id="UREP",
                    opened_at=opened,
                    updated_at=opened,
                )
            )


def _pairwise_themes(factory: sessionmaker[Session]) -> list[tuple[str, ...]]:
    """The themes' keys as the plain definition gives them: per workflow, most frequent signature first, each
    joining the first earlier founder with pg_trgm similarity >= 0.3."""
    with unit_of_work(factory) as session:
        rows = session.execute(select(Incident.id, Incident.workflow, Incident.blocker)).all()
    groups: dict[tuple[str | None, str], list[int]] = defaultdict(list)
    for incident_id, workflow, blocker in rows:
        groups[(workflow.lower() if workflow else None, blocker_signature(blocker))].append(incident_id)
    themes: list[list[int]] = []
    for workflow in sorted({w for w, _ in groups}, key=lambda w: (w is None, w or "")):
        signatures = sorted(
            ((s, ids) for (w, s), ids in groups.items() if w == workflow), key=lambda g: (-len(g[1]), g[0])
        )
        founders: list[tuple[str, list[int]]] = []
        for signature, ids in signatures:
            match = next((m for f, m in founders if text_similarity(signature, f) >= 0.3), None)
            if match is None:
                founders.append((signature, list(ids)))
            else:
                match.extend(ids)
        themes += [sorted(ids) for _, ids in founders if len(ids) >= 2]
    return sorted((tuple(f"INC-{i}" for i in ids[:50]) for ids in themes), key=lambda keys: (-len(keys), keys))


def test_themes_are_those_of_comparing_every_blocker_pairwise_on_both_databases(
    session_factory: sessionmaker[Session], sqlite_factory: sessionmaker[Session]
) -> None:
    _many_incidents(session_factory, 400)
    _many_incidents(sqlite_factory, 400)

    on_postgres, on_sqlite = report_of(session_factory), report_of(sqlite_factory)

    assert on_postgres.themes == on_sqlite.themes
    found = sorted((t.keys for t in on_postgres.themes), key=lambda keys: (-len(keys), keys))
    assert found == _pairwise_themes(session_factory)
    assert len(found) > 5 and all(t.count >= 2 for t in on_postgres.themes)
