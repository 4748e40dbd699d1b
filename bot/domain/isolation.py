"""Isolate: is this one account, a region, a workflow — or systemic? Look across every client's incidents."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Float, Select, func, literal, or_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from bot.domain.durations import humanize_duration
from bot.models import Environment, Incident, IncidentStatus

OPEN_STATUSES = [s for s in IncidentStatus if s not in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED)]
SIMILAR_BLOCKER = 0.3  # pg_trgm's default similarity threshold
SYSTEMIC_CLIENTS = 2  # this many other accounts sharing workflow or region: likely systemic


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


def trigrams(text: str) -> set[str]:
    """pg_trgm's trigrams: lower-cased words padded with two spaces in front and one behind."""
    grams: set[str] = set()
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        padded = f"  {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return grams


def text_similarity(a: str, b: str) -> float:
    left, right = trigrams(a), trigrams(b)
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


def _candidates(session: Session, incident: Incident, since: datetime, limit: int) -> Select[Incident, float]:
    """Open or recent incidents of every client; on PostgreSQL with pg_trgm, filtered to plausible matches in SQL."""
    query = (
        select(Incident, literal(0.0, Float).label("similarity"))
        .outerjoin(Environment, Environment.incident_id == Incident.id)
        .where(Incident.id != incident.id)
        .where(or_(Incident.opened_at >= since, Incident.status.in_(OPEN_STATUSES)))
        .order_by(Incident.opened_at.desc())
        .limit(limit)
    )
    if not _has_pg_trgm(session):
        return query  # the caller compares everything in Python
    env = incident.environment
    same = [
        func.lower(column) == value.lower()
        for column, value in (
            (Incident.workflow, incident.workflow),
            (Incident.region, incident.region),
            (Environment.browser, env.browser if env else None),
            (Environment.os, env.os if env else None),
        )
        if value
    ]
    similarity = func.similarity(Incident.blocker, incident.blocker)
    scored = query.with_only_columns(Incident, similarity.label("similarity"))
    return scored.where(or_(*same, Incident.blocker.op("%")(incident.blocker)))


def _shared(incident: Incident, other: Incident, similarity: float) -> tuple[str, ...]:
    shared = []
    for label, mine, theirs in (
        ("workflow", incident.workflow, other.workflow),
        ("region", incident.region, other.region),
        ("browser", _env(incident, "browser"), _env(other, "browser")),
        ("OS", _env(incident, "os"), _env(other, "os")),
    ):
        if mine and theirs and mine.lower() == theirs.lower():
            shared.append(f"{label} {theirs}")
    if similarity >= SIMILAR_BLOCKER:
        shared.append("similar blocker")
    return tuple(shared)


def _env(incident: Incident, attr: str) -> str | None:
    return getattr(incident.environment, attr) if incident.environment else None


def find_similar(
    *, session: Session, incident: Incident, window: timedelta, now: datetime, limit: int = 20
) -> Isolation:
    """Other open or recent incidents (any client) sharing workflow, region, browser, OS or a similar blocker."""
    since = now - window
    rows = session.execute(_candidates(session, incident, since, limit * 10)).unique().all()
    matches = []
    for row in rows:
        other, sql_similarity = row[0], row[1]
        similarity = float(sql_similarity or 0.0) or text_similarity(incident.blocker, other.blocker)
        shared = _shared(incident, other, similarity)
        if shared:
            matches.append(_similar(other, shared, similarity))
    matches.sort(key=lambda m: (len(m.shared), m.blocker_similarity, m.opened_at), reverse=True)
    matches = matches[:limit]
    return _verdict(incident, matches, window, now)


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
    """`3 other accounts report document upload failing in eu-west in the last 2 h — likely systemic`."""
    broad = [m for m in matches if m.client_name != incident.client.name and _is_broad(m)]
    clients = {m.client_name for m in broad}
    if not matches:
        span = humanize_duration(window)
        summary = f"No other account reports anything similar in the last {span}: looks isolated to this account."
        return Isolation(matches, window, 0, summary, likely_systemic=False)
    place = f" in {incident.region}" if incident.region else ""
    earliest = min(m.opened_at for m in (broad or matches))
    span = humanize_duration(now - earliest)
    systemic = len(clients) >= SYSTEMIC_CLIENTS
    verdict = "likely systemic" if systemic else "possibly related"
    count = len(clients) if clients else len({m.client_name for m in matches})
    noun = "account reports" if count == 1 else "accounts report"
    summary = f"{count} other {noun} {incident.workflow or 'problems'} failing{place} in the last {span} — {verdict}"
    return Isolation(matches, window, len(clients), summary, likely_systemic=systemic)


def _is_broad(match: SimilarIncident) -> bool:
    return any(s.startswith(("workflow", "region")) or s == "similar blocker" for s in match.shared)
