"""Isolate: is this one account, a region, a workflow — or systemic? Look across every client's incidents."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    CompoundSelect,
    Integer,
    and_,
    any_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    union,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import InstrumentedAttribute, Session

from bot.domain.durations import humanize_duration
from bot.domain.workspaces import same_workspace
from bot.models import Environment, Incident, IncidentStatus

OPEN_STATUSES = [s for s in IncidentStatus if s not in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED)]
SIMILAR_BLOCKER = 0.3  # pg_trgm's default similarity threshold
SYSTEMIC_CLIENTS = 2  # this many other accounts sharing workflow or region: likely systemic
MOST_SIMILAR = 1000  # the similar blockers the ranking query is given by id, the most similar first


@dataclass(frozen=True)
class SimilarIncident:
    incident_id: int
    key: str
    client_name: str
    title: str
    status: str
    opened_at: datetime
    shared: tuple[str, ...]
    blocker_similarity: float


@dataclass(frozen=True)
class Isolation:
    matches: list[SimilarIncident]
    window: timedelta
    other_clients: int
    summary: str
    likely_systemic: bool


_WORD = re.compile(r"[^\W_]+")  # pg_trgm's words: runs of letters or digits, in any script


def trigrams(text: str) -> set[str]:
    """pg_trgm's trigrams: lower-cased words padded with two spaces in front and one behind."""
    grams: set[str] = set()
    for word in _WORD.findall(text.lower()):
        padded = f"  {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return grams


def text_similarity(a: str, b: str) -> float:
    """pg_trgm's `similarity()`: shared trigrams over all distinct trigrams of both texts (0.0 when either has none)."""
    return _overlap(trigrams(a), trigrams(b))


def _overlap(left: set[str], right: set[str]) -> float:
    return len(left & right) / len(left | right) if left and right else 0.0


_TRIGRAM_SUPPORT: dict[str, bool] = {}


def _has_pg_trgm(session: Session) -> bool:
    bind = session.get_bind()
    url = str(bind.engine.url)
    if url not in _TRIGRAM_SUPPORT:
        supported = False
        if bind.dialect.name == "postgresql":
            try:
                with session.begin_nested():
                    supported = session.scalar(select(func.similarity("a", "a"))) is not None
            except DBAPIError:
                supported = False
        _TRIGRAM_SUPPORT[url] = supported
    return _TRIGRAM_SUPPORT[url]


def _still_open() -> ColumnElement[bool]:
    """Open statuses inlined as literals, so PostgreSQL can use the partial index on open incidents (0003)."""
    values = [s.value for s in OPEN_STATUSES]
    return Incident.status.in_(bindparam("open_statuses", values, expanding=True, literal_execute=True))


def _opened_since(since: datetime) -> ColumnElement[bool]:
    """The window's start inlined as a literal: a prepared statement's generic plan (psycopg prepares a query
    run five times) would assume a third of all incidents are recent and scan a trigram index of them all."""
    return Incident.opened_at >= bindparam("since", since, type_=Incident.opened_at.type, literal_execute=True)


def _others(incident: Incident) -> ColumnElement[bool]:
    """Every other incident of the same workspace."""
    return and_(Incident.id != incident.id, same_workspace(incident))


def _open_or_recent(incident: Incident, since: datetime) -> ColumnElement[bool]:
    return and_(_others(incident), or_(_opened_since(since), _still_open()))


def _similar_blockers(session: Session, incident: Incident, since: datetime) -> dict[int, float]:
    """Other open or recent incidents whose blocker reads like this one's (similarity >= 0.3), by id."""
    if _has_pg_trgm(session):
        found = session.execute(_similar_blockers_in_sql(incident, since))
        scores = [(other_id, float(score)) for other_id, score in found]
    else:
        candidates = select(Incident.id, Incident.blocker).where(_open_or_recent(incident, since))
        rows = session.execute(candidates)
        mine = trigrams(incident.blocker)
        scores = [(other_id, _overlap(mine, trigrams(blocker))) for other_id, blocker in rows]
    similar = sorted((s for s in scores if s[1] >= SIMILAR_BLOCKER), key=lambda s: s[1], reverse=True)
    return dict(similar[:MOST_SIMILAR])


def _similar_blockers_in_sql(incident: Incident, since: datetime) -> CompoundSelect[int, float]:
    """Two halves, each with a plan that stays cheap as the table grows (one OR across both compares every
    candidate's blocker): open incidents through pg_trgm's `%` and the partial trigram index on open incidents
    (0003); the window's few incidents through the index on opened_at, each compared with `similarity()`, which
    no index serves, so the planner can't pick the trigram index over every incident (slow on a big table,
    and chosen by generic plans of prepared statements, which cost it as almost free)."""
    similarity = func.similarity(Incident.blocker, incident.blocker)
    others = _others(incident)
    resembles = Incident.blocker.op("%")(incident.blocker)
    still_open = select(Incident.id, similarity.label("similarity")).where(others, _still_open(), resembles)
    recent = select(Incident.id, similarity).where(others, _opened_since(since), similarity >= SIMILAR_BLOCKER)
    return union(still_open, recent)


def _same(column: InstrumentedAttribute[str | None], value: str | None) -> ColumnElement[bool] | None:
    return func.lower(column) == value.lower() if value else None


def _count(conditions: list[ColumnElement[bool]]) -> ColumnElement[int]:
    total: ColumnElement[int] = literal(0)
    for condition in conditions:
        total = total + case((condition, 1), else_=0)
    return total


_RECENT_FIRST = (Incident.opened_at.desc(), Incident.id.desc())


def _strongest(
    session: Session, incident: Incident, since: datetime, similar: dict[int, float], limit: int
) -> list[Incident]:
    """Open or recent incidents sharing something, strongest first (see `_strength`).

    Those sharing the workflow, the region or a similar blocker come first, read from the incidents alone;
    only when they are fewer than `limit` are the rest filled with incidents on the same browser or OS, which
    needs every candidate's environment (and half the customers share one).
    """
    broad = [_same(Incident.workflow, incident.workflow), _same(Incident.region, incident.region)]
    narrow = [_same(Environment.browser, _env(incident, "browser")), _same(Environment.os, _env(incident, "os"))]
    strong = [c for c in broad if c is not None] + ([_one_of(session, list(similar))] if similar else [])
    weak = [c for c in narrow if c is not None]
    candidates = _open_or_recent(incident, since)
    ids: list[int] = []
    if strong:
        ranked = select(Incident.id).where(candidates, or_(*strong)).order_by(_count(strong).desc(), *_RECENT_FIRST)
        ids += session.scalars(ranked.limit(limit)).all()
    if weak and len(ids) < limit:
        weak_only = (
            select(Incident.id)
            .join(Environment, Environment.incident_id == Incident.id)
            .where(candidates, _count(strong) == 0, or_(*weak))
            .order_by(_count(weak).desc(), *_RECENT_FIRST)
        )
        ids += session.scalars(weak_only.limit(limit - len(ids))).all()
    return list(session.scalars(select(Incident).where(Incident.id.in_(ids))).unique()) if ids else []


def _one_of(session: Session, ids: list[int]) -> ColumnElement[bool]:
    """`id IN (…)`; on PostgreSQL one array parameter rather than one parameter per id."""
    if session.get_bind().dialect.name == "postgresql":
        return Incident.id == any_(bindparam("similar_ids", ids, type_=ARRAY(Integer)))
    return Incident.id.in_(ids)


def _shared(incident: Incident, other: Incident, similar_blocker: bool) -> tuple[str, ...]:
    shared = []
    for label, mine, theirs in (
        ("workflow", incident.workflow, other.workflow),
        ("region", incident.region, other.region),
        ("browser", _env(incident, "browser"), _env(other, "browser")),
        ("OS", _env(incident, "os"), _env(other, "os")),
    ):
        if mine and theirs and mine.lower() == theirs.lower():
            shared.append(f"{label} {theirs}")
    if similar_blocker:
        shared.append("similar blocker")
    return tuple(shared)


def _env(incident: Incident, attr: str) -> str | None:
    return getattr(incident.environment, attr) if incident.environment else None


def find_similar(
    *, session: Session, incident: Incident, window: timedelta, now: datetime, limit: int = 20
) -> Isolation:
    """Other open or recent incidents (any client) sharing workflow, region, browser, OS or a similar blocker.

    At most `limit`, strongest first (see `_strongest`); the verdict weighs the other accounts among them.
    """
    since = now - window
    similar = _similar_blockers(session, incident, since)
    mine = trigrams(incident.blocker)
    matches = []
    for other in _strongest(session, incident, since, similar, limit):
        shared = _shared(incident, other, similar_blocker=other.id in similar)
        if shared:
            similarity = similar[other.id] if other.id in similar else _overlap(mine, trigrams(other.blocker))
            matches.append(_similar(other, shared, similarity))
    matches.sort(key=_strength, reverse=True)
    return _verdict(incident, matches, window, now)


def _strength(match: SimilarIncident) -> tuple[int, int, datetime, int]:
    """More of workflow, region and similar blocker first; browser and OS only rank matches sharing none of
    those; then the most recent."""
    broad = sum(1 for label in match.shared if _is_broad_label(label))
    narrow = 0 if broad else len(match.shared)
    return broad, narrow, match.opened_at, match.incident_id


def _similar(other: Incident, shared: tuple[str, ...], similarity: float) -> SimilarIncident:
    return SimilarIncident(
        incident_id=other.id,
        key=other.key,
        client_name=other.client.name,
        title=other.title,
        status=other.status.value,
        opened_at=other.opened_at,
        shared=shared,
        blocker_similarity=round(similarity, 2),
    )


def _verdict(incident: Incident, matches: list[SimilarIncident], window: timedelta, now: datetime) -> Isolation:
    """`3 other accounts report document upload failing in eu-west in the last 2 h — likely systemic`.

    Only other accounts sharing the workflow, the region or a similar blocker count: the client's own incidents
    and matches on browser or OS alone leave it isolated to this account.
    """
    broad = [m for m in matches if m.client_name != incident.client.name and _is_broad(m)]
    clients = {m.client_name for m in broad}
    if not matches:
        span = humanize_duration(window)
        summary = f"No other account reports anything similar in the last {span}: looks isolated to this account."
        return Isolation(matches, window, 0, summary, likely_systemic=False)
    place = f" in {incident.region}" if incident.region else ""
    subject = f"{incident.workflow} failing" if incident.workflow else "similar problems"
    if not clients:
        span = humanize_duration(window)
        summary = f"No other account reports {subject}{place} in the last {span}: looks isolated to this account."
        return Isolation(matches, window, 0, summary, likely_systemic=False)
    elapsed = now - min(m.opened_at for m in broad)
    span = humanize_duration(elapsed) if elapsed >= timedelta(minutes=1) else "minute"
    systemic = len(clients) >= SYSTEMIC_CLIENTS
    verdict = "likely systemic" if systemic else "possibly related"
    noun = "account reports" if len(clients) == 1 else "accounts report"
    summary = f"{len(clients)} other {noun} {subject}{place} in the last {span} — {verdict}"
    return Isolation(matches, window, len(clients), summary, likely_systemic=systemic)


def _is_broad(match: SimilarIncident) -> bool:
    return any(_is_broad_label(label) for label in match.shared)


def _is_broad_label(label: str) -> bool:
    """Workflow, region and a similar blocker say more than browser or OS, which many customers share."""
    return label.startswith(("workflow ", "region ")) or label == "similar blocker"
