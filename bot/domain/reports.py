"""Key learnings and patterns over a period: what broke, for whom, how fast we answered, and what recurs.

Built from SQL aggregates (GROUP BY; `percentile_cont` on PostgreSQL), never from every incident as an ORM
row, so a year of 100,000 incidents reads in well under two seconds. On SQLite the durations come back as
numbers and their percentiles are computed in Python, the same way PostgreSQL does.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from itertools import chain
from typing import Any

from sqlalchemy import (
    Date,
    Float,
    Select,
    SQLColumnExpression,
    and_,
    case,
    cast,
    func,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement, True_

from bot.domain.errors import DomainError, quoted
from bot.domain.glossary import FEEDBACK_TRACKS
from bot.domain.isolation import SIMILAR_BLOCKER, trigrams
from bot.domain.workspaces import in_workspace
from bot.models import Client, Escalation, Feedback, FeedbackTrack, Incident, Learning, Severity

MIN_DAYS, MAX_DAYS, DEFAULT_DAYS = 1, 365, 30
THEME_MIN_INCIDENTS = 2
THEME_KEYS = 50  # keys listed per theme, oldest first; `count` has them all
MAX_THEMES = 100  # the rest are counted in `more_themes`
NOT_GIVEN = "not given"
P90 = 0.9
SEVERITIES = tuple(Severity)
TRACKS = tuple(FeedbackTrack)


class InvalidPeriod(DomainError):
    def __init__(self, given: object) -> None:
        shown = quoted(repr(given))
        super().__init__(f"A report covers {MIN_DAYS} to {MAX_DAYS} days (e.g. `30d`); {shown} is not such a period.")


@dataclass(frozen=True)
class Period:
    """[start, end): opened at or after `start` and before `end`."""

    start: datetime
    end: datetime

    @property
    def days(self) -> int:
        return round((self.end - self.start) / timedelta(days=1))


@dataclass(frozen=True)
class Tally:
    """How many in this period, and in the one before."""

    label: str
    count: int
    previous: int

    @property
    def change(self) -> int:
        return self.count - self.previous


@dataclass(frozen=True)
class TimeStats:
    """Mean and 90th percentile of a duration over the incidents that have it (rounded to seconds)."""

    incidents: int = 0
    mean: timedelta | None = None
    p90: timedelta | None = None


@dataclass(frozen=True)
class ResponseTimes:
    acknowledge: TimeStats = TimeStats()
    resolve: TimeStats = TimeStats()
    previous_acknowledge: TimeStats = TimeStats()
    previous_resolve: TimeStats = TimeStats()
    resolve_by_severity: tuple[tuple[Severity, TimeStats], ...] = ()  # this period, every severity


@dataclass(frozen=True)
class Deadlines:
    """Met: mitigated or resolved (whichever came first) at or before the deadline. Missed: after it, or still
    open past it. Pending: still open with the deadline ahead."""

    met: int = 0
    missed: int = 0
    pending: int = 0
    without: int = 0

    @property
    def met_share(self) -> float | None:
        decided = self.met + self.missed
        return self.met / decided if decided else None


@dataclass(frozen=True)
class Theme:
    """Incidents of one workflow whose blockers read alike."""

    workflow: str | None
    blocker: str
    count: int
    keys: tuple[str, ...]


@dataclass(frozen=True)
class WeekCounts:
    """Incidents opened in one ISO week (Monday to Sunday, UTC) by severity; the first and last week may be partial."""

    week_start: date
    by_severity: tuple[tuple[Severity, int], ...]

    @property
    def label(self) -> str:
        year, week, _ = self.week_start.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def total(self) -> int:
        return sum(count for _, count in self.by_severity)

    def count(self, severity: Severity) -> int:
        return dict(self.by_severity).get(severity, 0)


@dataclass(frozen=True)
class FeedbackItem:
    incident_key: str
    track: FeedbackTrack
    area: str
    use_case: str
    pm_user_id: str | None
    ticket_key: str | None
    ticket_url: str | None
    ticket_state: str | None
    created_at: datetime


@dataclass(frozen=True)
class LearningItem:
    incident_key: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class PeriodReport:
    period: Period
    previous_period: Period
    incidents: int = 0
    previous_incidents: int = 0
    by_severity: tuple[Tally, ...] = ()
    by_client: tuple[Tally, ...] = ()
    by_workflow: tuple[Tally, ...] = ()
    by_region: tuple[Tally, ...] = ()
    times: ResponseTimes = ResponseTimes()
    deadlines: Deadlines = Deadlines()
    previous_deadlines: Deadlines = Deadlines()
    themes: tuple[Theme, ...] = ()
    more_themes: int = 0
    weeks: tuple[WeekCounts, ...] = ()
    feedback: int = 0
    previous_feedback: int = 0
    feedback_by_track: tuple[Tally, ...] = ()
    feedback_by_area: tuple[Tally, ...] = ()
    feedback_items: tuple[FeedbackItem, ...] = ()
    learnings: tuple[LearningItem, ...] = ()

    @property
    def days(self) -> int:
        return self.period.days

    @property
    def is_empty(self) -> bool:
        """Nothing opened, no feedback filed and no learning recorded in the period."""
        return not self.incidents and not self.feedback and not self.learnings

    def feedback_for(self, track: FeedbackTrack) -> tuple[FeedbackItem, ...]:
        return tuple(item for item in self.feedback_items if item.track == track)


def validate_days(days: object) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not MIN_DAYS <= days <= MAX_DAYS:
        raise InvalidPeriod(days)
    return days


_PERIOD_TEXT = re.compile(r"^\s*(\d{1,4})\s*(d|days?|w|weeks?)?\s*$", re.IGNORECASE)


def parse_days(text: str | None) -> int:
    """`30d`, `30`, `2w` (14 days); empty means the default 30 days."""
    if not text or not text.strip():
        return DEFAULT_DAYS
    found = _PERIOD_TEXT.match(text)
    if found is None:
        raise InvalidPeriod(text.strip())
    number, unit = int(found.group(1)), (found.group(2) or "d").lower()
    return validate_days(number * 7 if unit.startswith("w") else number)


def last_days(days: int) -> str:
    """`the last 30 days`, `the last day`"""
    return "the last day" if days == 1 else f"the last {days} days"


def build_report(session: Session, *, days: int, now: datetime, workspace: str | None = None) -> PeriodReport:
    """Incidents opened in [now - days, now), feedback and learnings recorded then, against the period before.

    With `workspace`, only that Slack workspace's incidents (and their feedback and learnings) count.
    """
    days = validate_days(days)
    period = Period(now - timedelta(days=days), now)
    previous = Period(period.start - timedelta(days=days), period.start)
    scope = in_workspace(workspace)
    counts = _incident_counts(session, period, previous, scope)
    feedback = _feedback_counts(session, period, previous, scope)
    themes, all_themes = _themes(session, period, scope)
    deadlines = _deadlines(session, period, previous, now, scope)
    return PeriodReport(
        period=period,
        previous_period=previous,
        incidents=sum(t.count for t in counts["severity"]),
        previous_incidents=sum(t.previous for t in counts["severity"]),
        by_severity=counts["severity"],
        by_client=counts["client"],
        by_workflow=counts["workflow"],
        by_region=counts["region"],
        times=_response_times(session, period, previous, scope),
        deadlines=deadlines.get(True, Deadlines()),
        previous_deadlines=deadlines.get(False, Deadlines()),
        themes=tuple(themes),
        more_themes=all_themes - len(themes),
        weeks=_weeks(session, period, scope),
        feedback=sum(t.count for t in feedback["track"]),
        previous_feedback=sum(t.previous for t in feedback["track"]),
        feedback_by_track=feedback["track"],
        feedback_by_area=feedback["area"],
        feedback_items=_feedback_items(session, period, scope),
        learnings=_learnings(session, period, scope),
    )


# --- shared pieces -------------------------------------------------------------------------------------------


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _opened_within(period: Period, previous: Period) -> ColumnElement[bool]:
    return and_(Incident.opened_at >= previous.start, Incident.opened_at < period.end)


def _in_period(column: SQLColumnExpression[datetime], period: Period) -> ColumnElement[bool]:
    """True for this period, False for the one before: the column every two-period query groups by."""
    return (column >= period.start).label("in_period")


def _spelling(session: Session, column: SQLColumnExpression[Any]) -> ColumnElement[Any]:
    """One spelling of a group's text, the same on every database: the least by code point (PostgreSQL's "C"
    collation; SQLite compares that way already), not by the database's locale."""
    if _is_postgresql(session):
        return func.min(column.collate("C"))
    return func.min(column)


def _key(column: SQLColumnExpression[Any]) -> ColumnElement[str | None]:
    """Free text typed by people, grouped regardless of case and surrounding spaces."""
    return func.lower(func.trim(column))


def _tallies(rows: Iterable[Sequence[Any]], *, order: Sequence[str] | None = None) -> tuple[Tally, ...]:
    """Rows of (key, label, in_period, count) as tallies; most this period first, or in the given label order."""
    labels: dict[object, str] = {}
    now: Counter[object] = Counter()
    before: Counter[object] = Counter()
    for key, label, in_period, count in rows:
        shown = str(label) if label is not None else NOT_GIVEN
        labels[key] = min(labels.get(key, shown), shown)
        (now if in_period else before)[key] += int(count)
    tallies = [Tally(labels[key], now[key], before[key]) for key in labels]
    if order is not None:
        by_label = {t.label: t for t in tallies}
        return tuple(by_label.get(label, Tally(label, 0, 0)) for label in order)
    return tuple(sorted(tallies, key=lambda t: (-t.count, -t.previous, t.label.casefold(), t.label)))


# --- incident counts -----------------------------------------------------------------------------------------


def _of_incidents_in(scope: ColumnElement[bool], incident_id: SQLColumnExpression[int]) -> ColumnElement[bool]:
    """Rows (feedback, learnings) of an incident within `scope` (no subquery when the scope is every incident)."""
    if isinstance(scope, True_):
        return scope
    return incident_id.in_(select(Incident.id).where(scope))


def _incident_counts(
    session: Session, period: Period, previous: Period, scope: ColumnElement[bool]
) -> dict[str, tuple[Tally, ...]]:
    flag = _in_period(Incident.opened_at, period)
    within = and_(_opened_within(period, previous), scope)
    by_client = (
        select(Client.id, Client.name, flag, func.count())
        .join(Client, Client.id == Incident.client_id)
        .where(within)
        .group_by(Client.id, Client.name, "in_period")
    )
    severity = [s.value for s in SEVERITIES]
    return {
        "severity": _tallies(session.execute(_by_value(Incident.severity, flag, within)), order=severity),
        "client": _tallies(session.execute(by_client)),
        "workflow": _tallies(session.execute(_by_text(session, Incident.workflow, flag, within))),
        "region": _tallies(session.execute(_by_text(session, Incident.region, flag, within))),
    }


def _by_value(
    column: SQLColumnExpression[Any], flag: ColumnElement[bool], where: ColumnElement[bool]
) -> Select[Any, Any, bool, int]:
    """(value, value as its label, in_period, count)"""
    return select(column, column, flag, func.count()).where(where).group_by(column, "in_period")


def _by_text(
    session: Session, column: SQLColumnExpression[Any], flag: ColumnElement[bool], where: ColumnElement[bool]
) -> Select[Any, Any, bool, int]:
    """(lower-cased text, one spelling of it, in_period, count)"""
    key = _key(column).label("key")
    return select(key, _spelling(session, column), flag, func.count()).where(where).group_by("key", "in_period")


# --- response times ------------------------------------------------------------------------------------------


def _seconds(
    session: Session, later: SQLColumnExpression[datetime | None], earlier: SQLColumnExpression[datetime]
) -> ColumnElement[float]:
    """`later - earlier` in seconds; NULL when `later` is."""
    if _is_postgresql(session):
        return type_coerce(func.extract("epoch", later - earlier), Float)
    return type_coerce((func.julianday(later) - func.julianday(earlier)) * 86400.0, Float)


def _response_times(session: Session, period: Period, previous: Period, scope: ColumnElement[bool]) -> ResponseTimes:
    if _is_postgresql(session):
        return _response_times_in_sql(session, period, previous, scope)
    return _response_times_in_python(session, period, previous, scope)


def _stats(count: Any, mean: Any, p90: Any) -> TimeStats:
    """From a row's count, mean and p90 in seconds (floats, or Decimals from PostgreSQL's numeric)."""
    if not count or mean is None or p90 is None:
        return TimeStats()
    return TimeStats(int(count), _rounded(float(mean)), _rounded(float(p90)))


def _rounded(seconds: float) -> timedelta:
    return timedelta(seconds=round(seconds))


def _response_times_in_sql(
    session: Session, period: Period, previous: Period, scope: ColumnElement[bool]
) -> ResponseTimes:
    acknowledge = _seconds(session, Incident.acknowledged_at, Incident.opened_at)
    resolve = _seconds(session, Incident.resolved_at, Incident.opened_at)

    def measures(seconds: ColumnElement[float]) -> tuple[ColumnElement[Any], ...]:
        return func.count(seconds), func.avg(seconds), func.percentile_cont(P90).within_group(seconds)

    flag = _in_period(Incident.opened_at, period)
    overall = (
        select(flag, *measures(acknowledge), *measures(resolve))
        .where(_opened_within(period, previous), scope)
        .group_by("in_period")
    )
    stats = {row[0]: (_stats(*row[1:4]), _stats(*row[4:7])) for row in session.execute(overall)}
    per_severity = (
        select(Incident.severity, *measures(resolve))
        .where(Incident.opened_at >= period.start, Incident.opened_at < period.end, scope)
        .group_by(Incident.severity)
    )
    by_severity = {Severity(row[0]): _stats(*row[1:4]) for row in session.execute(per_severity)}
    return _times(stats, by_severity)


def _response_times_in_python(
    session: Session, period: Period, previous: Period, scope: ColumnElement[bool]
) -> ResponseTimes:
    """SQLite has no percentile_cont: fetch the durations as numbers (two floats per incident) and rank them here."""
    rows = session.execute(
        select(
            _in_period(Incident.opened_at, period),
            Incident.severity,
            _seconds(session, Incident.acknowledged_at, Incident.opened_at),
            _seconds(session, Incident.resolved_at, Incident.opened_at),
        ).where(_opened_within(period, previous), scope)
    )
    acknowledge: dict[bool, list[float]] = defaultdict(list)
    resolve: dict[bool, list[float]] = defaultdict(list)
    resolve_by_severity: dict[Severity, list[float]] = defaultdict(list)
    for in_period, severity, to_acknowledge, to_resolve in rows:
        if to_acknowledge is not None:
            acknowledge[bool(in_period)].append(to_acknowledge)
        if to_resolve is not None:
            resolve[bool(in_period)].append(to_resolve)
            if in_period:
                resolve_by_severity[Severity(severity)].append(to_resolve)
    stats = {flag: (_stats_of(acknowledge[flag]), _stats_of(resolve[flag])) for flag in (True, False)}
    return _times(stats, {severity: _stats_of(values) for severity, values in resolve_by_severity.items()})


def _stats_of(values: Sequence[float]) -> TimeStats:
    if not values:
        return TimeStats()
    return _stats(len(values), sum(values) / len(values), percentile_cont(values, P90))


def percentile_cont(values: Sequence[float], fraction: float) -> float:
    """PostgreSQL's `percentile_cont`: the value at `fraction` of the way through the sorted values, interpolated."""
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _times(stats: dict[bool, tuple[TimeStats, TimeStats]], by_severity: dict[Severity, TimeStats]) -> ResponseTimes:
    empty = (TimeStats(), TimeStats())
    (acknowledge, resolve), (before_acknowledge, before_resolve) = stats.get(True, empty), stats.get(False, empty)
    return ResponseTimes(
        acknowledge=acknowledge,
        resolve=resolve,
        previous_acknowledge=before_acknowledge,
        previous_resolve=before_resolve,
        resolve_by_severity=tuple((s, by_severity.get(s, TimeStats())) for s in SEVERITIES),
    )


# --- deadlines -----------------------------------------------------------------------------------------------


def _deadlines(
    session: Session, period: Period, previous: Period, now: datetime, scope: ColumnElement[bool]
) -> dict[bool, Deadlines]:
    mitigated, resolved, deadline = Incident.mitigated_at, Incident.resolved_at, Incident.deadline_at
    done = case(
        (mitigated.is_(None), resolved),
        (resolved.is_(None), mitigated),
        (mitigated <= resolved, mitigated),
        else_=resolved,
    )
    has_deadline = deadline.is_not(None)
    met = and_(has_deadline, done.is_not(None), done <= deadline)
    missed = and_(has_deadline, or_(and_(done.is_not(None), done > deadline), and_(done.is_(None), deadline < now)))
    query = (
        select(
            _in_period(Incident.opened_at, period),
            _count_if(met),
            _count_if(missed),
            _count_if(deadline.is_(None)),
            func.count(),
        )
        .where(_opened_within(period, previous), scope)
        .group_by("in_period")
    )
    outcomes = {}
    for in_period, met_count, missed_count, without, total in session.execute(query):
        pending = int(total) - int(met_count) - int(missed_count) - int(without)
        outcomes[bool(in_period)] = Deadlines(int(met_count), int(missed_count), pending, int(without))
    return outcomes


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


# --- incidents per week --------------------------------------------------------------------------------------


def _week_start(session: Session) -> ColumnElement[date]:
    """Monday (UTC) of the ISO week an incident opened in."""
    if _is_postgresql(session):
        return cast(func.date_trunc("week", func.timezone("UTC", Incident.opened_at)), Date)
    return type_coerce(func.date(Incident.opened_at, "weekday 0", "-6 days"), Date)


def _weeks(session: Session, period: Period, scope: ColumnElement[bool]) -> tuple[WeekCounts, ...]:
    """Every week the period touches, empty ones included, so a chart's bars keep their place."""
    week = _week_start(session).label("week")
    query = (
        select(week, Incident.severity, func.count())
        .where(Incident.opened_at >= period.start, Incident.opened_at < period.end, scope)
        .group_by("week", Incident.severity)
    )
    counts: dict[date, Counter[Severity]] = defaultdict(Counter)
    for week_start, severity, count in session.execute(query):
        counts[week_start][Severity(severity)] += int(count)
    first = _monday(period.start.date())
    last = _monday((period.end - timedelta(microseconds=1)).date())
    weeks = []
    monday = first
    while monday <= last:
        weeks.append(WeekCounts(monday, tuple((s, counts[monday][s]) for s in SEVERITIES)))
        monday += timedelta(days=7)
    return tuple(weeks)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


# --- recurring themes ----------------------------------------------------------------------------------------


@dataclass
class _Blockers:
    """Incidents of one workflow whose blockers are the same once lower-cased and with numbers masked."""

    workflow_key: str | None
    workflow: str | None
    signature: str
    ids: list[int]


_DIGIT_TO_HASH = str.maketrans("0123456789", "#" * 10)
_HASHES = re.compile(r"#+")


def blocker_signature(blocker: str) -> str:
    """`Upload stops at 99%` and `upload  stops at 100%` differ only in numbers and spaces: the same signature."""
    return " ".join(_HASHES.sub("#", blocker.lower().translate(_DIGIT_TO_HASH)).split())


def _signatures(session: Session, period: Period, scope: ColumnElement[bool]) -> list[_Blockers]:
    """The period's incidents by workflow and blocker signature, grouped the same way on every database.

    PostgreSQL first groups them by blocker lower-cased and with numbers masked, comparing bytes (the "C"
    collation: sorting 100,000 texts by the locale's rules costs more than everything else); SQLite sends the
    blockers as they are. The groups are merged by full signature here.
    """
    workflow_key = _key(Incident.workflow)
    in_period = and_(Incident.opened_at >= period.start, Incident.opened_at < period.end, scope)
    if _is_postgresql(session):
        bytewise_key = workflow_key.collate("C").label("workflow_key")
        masked = func.regexp_replace(func.lower(Incident.blocker.collate("C")), "[0-9]+", "#", "g").label("masked")
        query = (
            select(bytewise_key, _spelling(session, Incident.workflow), masked, func.array_agg(Incident.id))
            .where(in_period)
            .group_by("workflow_key", "masked")
        )
        return _by_signature(session.execute(query))
    rows = session.execute(select(workflow_key, Incident.workflow, Incident.blocker, Incident.id).where(in_period))
    return _by_signature((key, workflow, blocker, (incident_id,)) for key, workflow, blocker, incident_id in rows)


def _by_signature(rows: Iterable[Sequence[Any]]) -> list[_Blockers]:
    """Rows of (workflow key, a spelling of the workflow, blocker text, incident ids) merged by blocker signature."""
    groups: dict[tuple[str | None, str], _Blockers] = {}
    for workflow_key, workflow, text, ids in rows:
        signature = blocker_signature(text)
        group = groups.setdefault((workflow_key, signature), _Blockers(workflow_key, workflow, signature, []))
        group.ids.extend(ids)
        if workflow is not None and (group.workflow is None or workflow < group.workflow):
            group.workflow = workflow
    for group in groups.values():
        group.ids.sort()
    return list(groups.values())


def _cluster(groups: Sequence[_Blockers]) -> list[list[_Blockers]]:
    """Within each workflow, most frequent signature first: each joins the first theme whose founding signature
    reads alike (pg_trgm's similarity ≥ 0.3), else founds a theme. Deterministic for the same incidents."""
    by_workflow: dict[str | None, list[_Blockers]] = defaultdict(list)
    for group in groups:
        by_workflow[group.workflow_key].append(group)
    clusters: list[list[_Blockers]] = []
    for workflow_key in sorted(by_workflow, key=lambda k: (k is None, k or "")):
        ordered = sorted(by_workflow[workflow_key], key=lambda g: (-len(g.ids), g.signature))
        clusters += _Themes([(trigrams(g.signature), g) for g in ordered]).cluster()
    return clusters


ALIKE = Fraction(str(SIMILAR_BLOCKER))


class _Themes:
    """The themes of one workflow, each known by its founding signature's trigrams.

    Prefix filtering keeps a month of distinct free-text blockers from being compared pairwise: a set that shares
    none of its n - ceil(s * n) + 1 rarest trigrams with another can't reach Jaccard similarity s with it, so
    only the themes found through those (short) lists of rare trigrams are counted and compared.
    """

    def __init__(self, signatures: Sequence[tuple[set[str], _Blockers]]) -> None:
        self.signatures = signatures
        self.frequency = Counter(chain.from_iterable(grams for grams, _ in signatures))
        self.founders: list[set[str]] = []
        self.members: list[list[_Blockers]] = []
        self.having: dict[str, list[int]] = defaultdict(list)

    def cluster(self) -> list[list[_Blockers]]:
        for grams, group in self.signatures:
            theme = self.first_alike(grams)
            if theme is None:
                self.found(grams, group)
            else:
                self.members[theme].append(group)
        return self.members

    def first_alike(self, grams: set[str]) -> int | None:
        """The first theme whose founder shares at least 0.3 of all the trigrams of both (as pg_trgm does)."""
        keep = len(grams) - math.ceil(ALIKE * len(grams)) + 1
        rare = sorted(grams, key=self.frequency.__getitem__)[:keep]  # any `keep` of them would do; rare is quick
        shared = Counter(chain.from_iterable(self.having.get(gram, ()) for gram in rare))
        unseen = len(grams) - keep
        for theme in sorted(t for t, n in shared.items() if self._could_reach(grams, t, n + unseen)):
            founder = self.founders[theme]
            if len(grams & founder) / len(grams | founder) >= SIMILAR_BLOCKER:
                return theme
        return None

    def _could_reach(self, grams: set[str], theme: int, most_shared: int) -> bool:
        """Whether sharing `most_shared` trigrams (those seen, and every one not looked up) could be enough."""
        return most_shared / (len(grams) + len(self.founders[theme]) - most_shared) >= SIMILAR_BLOCKER

    def found(self, grams: set[str], group: _Blockers) -> None:
        theme = len(self.members)
        self.founders.append(grams)
        self.members.append([group])
        for gram in grams:
            self.having[gram].append(theme)


def _themes(session: Session, period: Period, scope: ColumnElement[bool]) -> tuple[list[Theme], int]:
    """The largest MAX_THEMES themes (incidents of a workflow with similar blockers, at least two each), and how
    many there are in all."""
    clusters = [_theme_ids(cluster) for cluster in _cluster(_signatures(session, period, scope))]
    clusters = [c for c in clusters if len(c[1]) >= THEME_MIN_INCIDENTS]
    clusters.sort(key=lambda c: (-len(c[1]), (c[0].workflow or "").casefold(), c[1][0]))
    shown = clusters[:MAX_THEMES]
    founders = [founder.ids[0] for founder, _ in shown]
    blockers = dict(session.execute(select(Incident.id, Incident.blocker).where(Incident.id.in_(founders))).all())
    themes = [
        Theme(
            workflow=founder.workflow,
            blocker=blockers[founder.ids[0]],
            count=len(ids),
            keys=tuple(f"INC-{incident_id}" for incident_id in ids[:THEME_KEYS]),
        )
        for founder, ids in shown
    ]
    return themes, len(clusters)


def _theme_ids(cluster: list[_Blockers]) -> tuple[_Blockers, list[int]]:
    """The group that founded the theme (its first incident gives the blocker) and every incident, oldest first."""
    return cluster[0], sorted(incident_id for group in cluster for incident_id in group.ids)


# --- product feedback and learnings --------------------------------------------------------------------------


def _feedback_counts(
    session: Session, period: Period, previous: Period, scope: ColumnElement[bool]
) -> dict[str, tuple[Tally, ...]]:
    flag = _in_period(Feedback.created_at, period)
    within = and_(
        Feedback.created_at >= previous.start,
        Feedback.created_at < period.end,
        _of_incidents_in(scope, Feedback.incident_id),
    )
    tracks = [
        (track, _track_label(FeedbackTrack(track)), in_period, count)
        for track, _, in_period, count in session.execute(_by_value(Feedback.track, flag, within))
    ]
    return {
        "track": _tallies(tracks, order=[_track_label(t) for t in TRACKS]),
        "area": _tallies(session.execute(_by_text(session, Feedback.area, flag, within))),
    }


def _track_label(track: FeedbackTrack) -> str:
    return FEEDBACK_TRACKS[track]


def _feedback_items(session: Session, period: Period, scope: ColumnElement[bool]) -> tuple[FeedbackItem, ...]:
    """This period's feedback by track, oldest first, with the ticket it was filed as (when it was)."""
    query = (
        select(
            Feedback.incident_id,
            Feedback.track,
            Feedback.area,
            Feedback.use_case,
            Feedback.pm_user_id,
            Escalation.external_ref,
            Escalation.external_url,
            Escalation.state,
            Feedback.created_at,
        )
        .outerjoin(Escalation, Escalation.id == Feedback.escalation_id)
        .where(Feedback.created_at >= period.start, Feedback.created_at < period.end)
        .where(_of_incidents_in(scope, Feedback.incident_id))
        .order_by(Feedback.created_at, Feedback.id)
    )
    items = [
        FeedbackItem(
            incident_key=f"INC-{incident_id}",
            track=FeedbackTrack(track),
            area=area,
            use_case=use_case,
            pm_user_id=pm_user_id,
            ticket_key=ref,
            ticket_url=url,
            ticket_state=state.value if state is not None else None,
            created_at=created_at,
        )
        for incident_id, track, area, use_case, pm_user_id, ref, url, state, created_at in session.execute(query)
    ]
    return tuple(sorted(items, key=lambda item: TRACKS.index(item.track)))


def _learnings(session: Session, period: Period, scope: ColumnElement[bool]) -> tuple[LearningItem, ...]:
    query = (
        select(Learning.incident_id, Learning.text, Learning.created_at)
        .where(Learning.created_at >= period.start, Learning.created_at < period.end)
        .where(_of_incidents_in(scope, Learning.incident_id))
        .order_by(Learning.created_at, Learning.id)
    )
    return tuple(LearningItem(f"INC-{incident_id}", text, at) for incident_id, text, at in session.execute(query))
