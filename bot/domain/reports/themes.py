"""Recurring themes: incidents grouped by workflow and similar blocker text."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain
from typing import Any

from sqlalchemy import (
    and_,
    func,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.domain.isolation import SIMILAR_BLOCKER, trigrams
from bot.domain.reports.constants import MAX_THEMES, THEME_KEYS, THEME_MIN_INCIDENTS
from bot.domain.reports.model import Period, Theme
from bot.domain.reports.queries import is_postgresql, lowered_key, spelling
from bot.models import Incident


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
    workflow_key = lowered_key(Incident.workflow)
    in_period = and_(Incident.opened_at >= period.start, Incident.opened_at < period.end, scope)
    if is_postgresql(session):
        bytewise_key = workflow_key.collate("C").label("workflow_key")
        masked = func.regexp_replace(func.lower(Incident.blocker.collate("C")), "[0-9]+", "#", "g").label("masked")
        query = (
            select(bytewise_key, spelling(session, Incident.workflow), masked, func.array_agg(Incident.id))
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


def recurring_themes(session: Session, period: Period, scope: ColumnElement[bool]) -> tuple[list[Theme], int]:
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
