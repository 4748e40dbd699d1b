"""Time to build the key-learnings & patterns report (`build_report`) over a year of incidents, and its charts.

    .venv/bin/python benchmarks/report.py [--incidents 100000] [--runs 10] [--database-url postgresql://...]

Creates a scratch PostgreSQL database, migrates it, bulk-loads with COPY about 300 clients and a year of
incidents (25 workflows, 8 regions, SEV1-SEV4, templated blocker texts, acknowledged / mitigated / resolved
times, deadlines for most), product feedback with its Jira escalation for about 4% of them and key learnings
for about 8% of the resolved ones; runs ANALYZE, then times `build_report` for the last 30 days (the
`/triage report` default) and for the whole year, and `render_charts` for both. Prints p50/max against the
"under 2 s on PostgreSQL" target and drops the database at the end, also on Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.isolation import BLOCKERS, CODES, DOCS, PERIODS, REGIONS, WORKFLOWS  # noqa: E402
from benchmarks.scratch import migrated_scratch_database, run_benchmark, say  # noqa: E402
from bot.db import make_engine, make_session_factory, unit_of_work  # noqa: E402
from bot.domain.reports import PeriodReport, build_report  # noqa: E402
from bot.exports.charts import render_charts  # noqa: E402
from bot.exports.report_formats import report_markdown  # noqa: E402

T = TypeVar("T")
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
YEAR = timedelta(days=365)
TARGET_SECONDS = 2.0
CLIENTS = 300
CLIENT_IDS = range(1, CLIENTS + 1)
CLIENT_WEIGHTS = list(itertools.accumulate(1 / rank**0.8 for rank in CLIENT_IDS))
SEVERITIES = ["SEV1", "SEV2", "SEV3", "SEV4"]
SEVERITY_WEIGHTS = [0.1, 0.3, 0.4, 0.2]
ACK_MINUTES = {"SEV1": 4, "SEV2": 12, "SEV3": 45, "SEV4": 180}  # mean time to acknowledge
RESOLVE_HOURS = {"SEV1": 3, "SEV2": 8, "SEV3": 24, "SEV4": 60}  # mean time to resolve
OPEN_STATUSES = ("new", "investigating", "escalated", "mitigated")
TRACKS = ["stability", "messaging", "monitoring"]
AREAS = ["Uploads", "E-signature", "Billing", "Search", "Login & SSO", "Calendar", "Reporting", "Mobile app"]
FEEDBACK_SHARE = 0.04
LEARNING_SHARE = 0.08
LEARNINGS = [
    "Ask for the file size first: most upload failures over {size} MB are the proxy limit.",
    "The {workflow} runbook was missing the {region} failover step.",
    "Check the status page before paging: {n} of these were the provider's outage.",
    "A retry cycle every {n} minutes got the client through while engineering fixed it.",
]

INCIDENT_COLUMNS = (
    "id, title, client_id, severity, status, workflow, region, blocker, channel_id, reporter_id, is_major, "
    "opened_at, acknowledged_at, mitigated_at, resolved_at, deadline_at, updated_at, version"
)
ESCALATION_COLUMNS = (
    "id, incident_id, kind, state, requested_by, requested_at, filed_at, external_ref, external_url, details, "
    "idempotency_key"
)
FEEDBACK_COLUMNS = "id, incident_id, escalation_id, track, area, pm_user_id, use_case, created_by, created_at"
LEARNING_COLUMNS = "id, incident_id, text, created_by, created_at"


def _blocker(rng: random.Random) -> str:
    doc = rng.choice(DOCS)
    return rng.choice(BLOCKERS).format(
        size=rng.choice([25, 80, 120, 250, 480, 900, 1500]),
        doc=doc,
        Doc=doc.capitalize(),
        pct=rng.choice([97, 98, 99, 100]),
        secs=rng.randint(5, 120),
        mins=rng.randint(2, 45),
        code=rng.choice(CODES),
        n=rng.randint(2, 60),
        time=f"{rng.randint(7, 18):02d}:{rng.choice(['00', '15', '30', '45'])}",
        period=rng.choice(PERIODS),
        date=f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}",
        amount=f"${rng.randint(100, 99999):,}.{rng.randint(0, 99):02d}",
    )


def _after(start: datetime, mean: timedelta, rng: random.Random, limit: datetime) -> datetime | None:
    """An exponentially distributed moment after `start`; None when it would be after `limit` (not yet)."""
    moment = start + timedelta(seconds=rng.expovariate(1 / mean.total_seconds()))
    return moment if moment < limit else None


def _incident_row(rng: random.Random, number: int) -> tuple[object, ...]:
    opened_at = NOW - timedelta(seconds=rng.uniform(0, YEAR.total_seconds()))
    severity = rng.choices(SEVERITIES, SEVERITY_WEIGHTS)[0]
    acknowledged_at = _after(opened_at, timedelta(minutes=ACK_MINUTES[severity]), rng, NOW)
    resolved_at = _after(opened_at, timedelta(hours=RESOLVE_HOURS[severity]), rng, NOW)
    if resolved_at is not None and rng.random() < 0.03:
        resolved_at = None  # a few stay stuck open
    mitigated_at = None
    if rng.random() < 0.4:
        mitigated_at = _after(opened_at, timedelta(hours=RESOLVE_HOURS[severity] / 3), rng, resolved_at or NOW)
    status = rng.choice(["resolved", "resolved", "closed"]) if resolved_at else rng.choice(OPEN_STATUSES)
    deadline_at = opened_at + timedelta(hours=rng.uniform(1, 72)) if rng.random() < 0.7 else None
    workflow = rng.choices(WORKFLOWS, [1 / (i + 1) for i in range(len(WORKFLOWS))])[0] if rng.random() < 0.9 else None
    return (
        number,
        f"{(workflow or 'General problem').capitalize()} issue #{number}",
        rng.choices(CLIENT_IDS, cum_weights=CLIENT_WEIGHTS)[0],
        severity,
        status,
        workflow,
        rng.choice(REGIONS) if rng.random() < 0.9 else None,
        _blocker(rng),
        "CSUPPORT",
        f"U{rng.randint(1, 40):04d}",
        False,
        opened_at,
        acknowledged_at,
        mitigated_at,
        resolved_at,
        deadline_at,
        resolved_at or opened_at,
        1,
    )


def _feedback_rows(rng: random.Random, number: int, incident: tuple[object, ...]) -> tuple[tuple[object, ...], ...]:
    """An escalation filed in Jira and the feedback it carries, an hour or so after the incident opened."""
    opened_at = incident[11]
    assert isinstance(opened_at, datetime)
    at = opened_at + timedelta(minutes=rng.uniform(20, 240))
    key = f"PROD-{number}"
    escalation = (
        number,
        incident[0],
        "product_feedback",
        "filed",
        "U0001",
        at,
        at,
        key,
        f"https://jira.example.com/browse/{key}",
        "{}",
        f"INC-{incident[0]}:product_feedback:{number}",
    )
    use_case = f"Needs the {incident[5] or 'workflow'} to work before a {rng.choice(['filing', 'closing', 'audit'])}."
    track, area = rng.choice(TRACKS), rng.choice(AREAS)
    feedback = (number, incident[0], number, track, area, f"UPM{AREAS.index(area)}", use_case, "U0001", at)
    return escalation, feedback


def _learning_row(rng: random.Random, number: int, incident: tuple[object, ...]) -> tuple[object, ...]:
    text = rng.choice(LEARNINGS).format(
        size=rng.choice([100, 250, 500]), workflow=incident[5] or "upload", region=incident[6] or "us-east", n=3
    )
    return (number, incident[0], text, "U0001", incident[14])


def load(url: str, incidents: int, seed: int) -> None:
    """Clients, incidents, escalations, feedback and learnings through COPY, then sequences and statistics."""
    rng = random.Random(seed)
    started = time.perf_counter()
    feedback: list[tuple[tuple[object, ...], ...]] = []
    learnings: list[tuple[object, ...]] = []
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        with conn.cursor() as cur:
            with cur.copy("COPY clients (id, name, name_key, tier, created_at) FROM STDIN") as copy:
                for n in CLIENT_IDS:
                    name = f"Client {n:03d} LLP"
                    copy.write_row((n, name, name.casefold(), "premium" if n % 5 == 0 else "standard", NOW - YEAR))
            with cur.copy(f"COPY incidents ({INCIDENT_COLUMNS}) FROM STDIN") as copy:
                for n in range(1, incidents + 1):
                    row = _incident_row(rng, n)
                    copy.write_row(row)
                    if rng.random() < FEEDBACK_SHARE:
                        feedback.append(_feedback_rows(rng, len(feedback) + 1, row))
                    if row[14] is not None and rng.random() < LEARNING_SHARE:
                        learnings.append(_learning_row(rng, len(learnings) + 1, row))
            say(f"  {incidents:,} incidents loaded ({time.perf_counter() - started:.1f} s)")
            _copy(cur, "escalations", ESCALATION_COLUMNS, [escalation for escalation, _ in feedback])
            _copy(cur, "feedback", FEEDBACK_COLUMNS, [item for _, item in feedback])
            _copy(cur, "learnings", LEARNING_COLUMNS, learnings)
            say(f"  {len(feedback):,} feedback items and {len(learnings):,} learnings loaded")
            for table in ("clients", "incidents", "escalations", "feedback", "learnings"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    say(f"loaded and analyzed in {time.perf_counter() - started:.1f} s")


def _copy(cur: psycopg.Cursor[tuple[object, ...]], table: str, columns: str, rows: list[tuple[object, ...]]) -> None:
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _timed(runs: int, work: Callable[[], T], warm_up: int = 2) -> tuple[list[float], T]:
    """Seconds per run after `warm_up` untimed runs (pool, caches, prepared statements), and the last result."""
    result = work()
    for _ in range(warm_up - 1):
        result = work()
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - started)
    return seconds, result


def _verdict(name: str, seconds: list[float], target: float | None) -> bool:
    p50, worst = statistics.median(seconds), max(seconds)
    ok = target is None or p50 < target
    goal = f" (target: under {target:.0f} s) -> {'OK' if ok else 'TOO SLOW'}" if target is not None else ""
    say(f"{name} over {len(seconds)} runs: p50 {p50 * 1000:.0f} ms, max {worst * 1000:.0f} ms{goal}")
    return ok


def time_reports(url: str, runs: int) -> bool:
    engine = make_engine(url)
    factory = make_session_factory(engine)

    def report_over(days: int) -> Callable[[], PeriodReport]:
        def build() -> PeriodReport:
            with unit_of_work(factory) as session:
                return build_report(session, days=days, now=NOW)

        return build

    ok = True
    try:
        for days in (30, 365):
            seconds, result = _timed(runs, report_over(days))
            say(
                f"report over {days} days: {result.incidents:,} incidents (before: {result.previous_incidents:,}), "
                f"{len(result.themes) + result.more_themes} themes, {result.feedback:,} feedback items, "
                f"{len(result.learnings):,} learnings"
            )
            ok = _verdict(f"build_report(days={days})", seconds, TARGET_SECONDS) and ok
            chart_seconds, charts = _timed(max(3, runs // 2), partial(render_charts, result), warm_up=1)
            _verdict(
                f"render_charts ({len(charts)} PNGs, {sum(len(c.png) for c in charts) // 1024} KiB)",
                chart_seconds,
                None,
            )
            markdown_seconds, _ = _timed(runs, partial(report_markdown, result), warm_up=1)
            _verdict("report_markdown", markdown_seconds, None)
    finally:
        engine.dispose()
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL", DEFAULT_SERVER))
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    def bench() -> bool:
        with migrated_scratch_database(args.database_url, "report_bench") as url:
            say(f"loading {args.incidents:,} incidents ...")
            load(url, args.incidents, args.seed)
            return time_reports(url, args.runs)

    return run_benchmark(bench)


if __name__ == "__main__":
    raise SystemExit(main())
