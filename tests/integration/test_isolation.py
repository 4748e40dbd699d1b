"""Isolate: other accounts' open or recent incidents sharing something with this one.

Every behaviour runs on real PostgreSQL (pg_trgm in SQL) and on SQLite (the Python trigram fallback).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.db import make_engine, make_session_factory, unit_of_work
from bot.domain.incidents import EnvironmentReport
from bot.domain.isolation import OPEN_STATUSES, SIMILAR_BLOCKER, Isolation, find_similar, text_similarity
from bot.migrate import upgrade
from bot.models import Incident, IncidentStatus
from tests.conftest import T0
from tests.integration.test_open_incident import _open

TARGET_CLIENT = "Hartley & Moss LLP"  # a_report's client
SHARED_TRAITS = ("workflow document upload", "region eu-west", "browser Chrome", "OS Windows 11", "similar blocker")
NOTHING_SHARED: dict[str, Any] = {
    "workflow": "billing export",
    "region": "us-east",
    "blocker": "Invoices stuck in pending approval; the approve button does nothing.",
    "environment": EnvironmentReport(browser="Firefox 128.0", os="macOS 14"),
}
REWORDED_BLOCKER = "Exhibit bundle upload (250MB) stops at 99%: network error"


@pytest.fixture
def sqlite_factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def factory(request: pytest.FixtureRequest) -> sessionmaker[Session]:
    """The same tests on PostgreSQL (pg_trgm) and on SQLite (Python trigrams)."""
    return request.getfixturevalue("session_factory" if request.param == "postgresql" else "sqlite_factory")


def _target(factory: sessionmaker[Session], **changes: Any) -> int:
    """The incident being isolated: a_report's document upload failure in eu-west, opened at T0."""
    return _open(factory, "view:target", **changes)


def _other(
    factory: sessionmaker[Session],
    key: str,
    client: str,
    *,
    hours_ago: float = 1,
    status: IncidentStatus = IncidentStatus.INVESTIGATING,
    **shares: Any,
) -> int:
    """Another incident sharing nothing with the target except `shares` (a_report fields), placed in time."""
    incident_id = _open(factory, key, client_name=client, **(NOTHING_SHARED | shares))
    with unit_of_work(factory) as session:
        incident = session.get_one(Incident, incident_id)
        incident.opened_at = T0 - timedelta(hours=hours_ago)
        incident.status = status
    return incident_id


def _same_problem(factory: sessionmaker[Session], key: str, client: str, hours_ago: float) -> int:
    """Another account's report of the very same failure (a_report as it is)."""
    incident_id = _open(factory, key, client_name=client)
    with unit_of_work(factory) as session:
        session.get_one(Incident, incident_id).opened_at = T0 - timedelta(hours=hours_ago)
    return incident_id


def _isolate(
    factory: sessionmaker[Session], incident_id: int, *, window_hours: float = 24, limit: int = 20
) -> Isolation:
    with unit_of_work(factory) as session:
        incident = session.get_one(Incident, incident_id)
        return find_similar(
            session=session, incident=incident, window=timedelta(hours=window_hours), now=T0, limit=limit
        )


def _shared_by_id(isolation: Isolation) -> dict[int, tuple[str, ...]]:
    return {m.incident_id: m.shared for m in isolation.matches}


def test_each_shared_trait_is_found_across_clients_with_its_label(factory: sessionmaker[Session]) -> None:
    target = _target(factory)
    workflow = _other(factory, "view:w", "Acme Corp", workflow="document upload")
    region = _other(factory, "view:r", "Birch Legal", region="EU-West")
    browser = _other(factory, "view:b", "Cedar Partners", environment=EnvironmentReport(browser="chrome 125.0.1"))
    os = _other(factory, "view:o", "Dunmore & Co", environment=EnvironmentReport(os="Windows 11"))
    blocker = _other(factory, "view:s", "Elm Street Law", blocker=REWORDED_BLOCKER)
    unrelated = _other(factory, "view:u", "Fir & Finch")

    found = _isolate(factory, target)

    assert _shared_by_id(found) == {
        workflow: ("workflow document upload",),
        region: ("region EU-West",),
        browser: ("browser chrome",),
        os: ("OS Windows 11",),
        blocker: ("similar blocker",),
    }
    assert unrelated not in _shared_by_id(found) and target not in _shared_by_id(found)
    by_id = {m.incident_id: m for m in found.matches}
    assert (by_id[workflow].client_name, by_id[workflow].key, by_id[workflow].status) == (
        "Acme Corp",
        f"INC-{workflow}",
        "investigating",
    )
    assert by_id[blocker].blocker_similarity >= SIMILAR_BLOCKER
    assert by_id[workflow].blocker_similarity < SIMILAR_BLOCKER


def test_an_incident_alone_is_never_its_own_match_and_looks_isolated(factory: sessionmaker[Session]) -> None:
    target = _target(factory)
    found = _isolate(factory, target)
    assert found.matches == [] and found.other_clients == 0 and not found.likely_systemic
    assert (
        found.summary == "No other account reports anything similar in the last 24 h: looks isolated to this account."
    )


def test_resolved_incidents_count_within_the_window_and_open_ones_whenever_they_opened(
    factory: sessionmaker[Session],
) -> None:
    target = _target(factory)
    resolved_recently = _other(
        factory, "view:1", "Acme Corp", hours_ago=20, status=IncidentStatus.RESOLVED, region="eu-west"
    )
    resolved_long_ago = _other(
        factory, "view:2", "Birch Legal", hours_ago=30, status=IncidentStatus.RESOLVED, region="eu-west"
    )
    closed_long_ago = _other(
        factory, "view:3", "Cedar Partners", hours_ago=30, status=IncidentStatus.CLOSED, region="eu-west"
    )
    open_long_ago = _other(
        factory, "view:4", "Dunmore & Co", hours_ago=30, status=IncidentStatus.MITIGATED, region="eu-west"
    )
    open_for_weeks = _other(factory, "view:5", "Elm Street Law", hours_ago=24 * 40, blocker=REWORDED_BLOCKER)

    found = set(_shared_by_id(_isolate(factory, target)))

    assert found == {resolved_recently, open_long_ago, open_for_weeks}
    assert not found & {resolved_long_ago, closed_long_ago}
    assert set(_shared_by_id(_isolate(factory, target, window_hours=48))) == found | {
        resolved_long_ago,
        closed_long_ago,
    }


def test_three_other_accounts_with_the_same_failure_are_likely_systemic(factory: sessionmaker[Session]) -> None:
    target = _target(factory)
    for key, client, hours_ago in (("a", "Acme Corp", 2), ("b", "Birch Legal", 1), ("c", "Cedar Partners", 0.5)):
        _same_problem(factory, f"view:{key}", client, hours_ago)

    found = _isolate(factory, target)

    assert (
        found.summary == "3 other accounts report document upload failing in eu-west in the last 2 h — likely systemic"
    )
    assert (found.other_clients, found.likely_systemic) == (3, True)
    most_recent_first = ["Cedar Partners", "Birch Legal", "Acme Corp"]
    assert [m.client_name for m in found.matches] == most_recent_first
    assert {m.shared for m in found.matches} == {SHARED_TRAITS}


def test_one_other_account_sharing_the_workflow_is_possibly_related(factory: sessionmaker[Session]) -> None:
    target = _target(factory)
    _other(factory, "view:a1", "Acme Corp", hours_ago=0.75, workflow="document upload")
    _other(factory, "view:a2", "acme corp", hours_ago=0.25, workflow="document upload")  # the same account

    found = _isolate(factory, target)

    assert len(found.matches) == 2
    assert (
        found.summary
        == "1 other account reports document upload failing in eu-west in the last 45 min — possibly related"
    )
    assert (found.other_clients, found.likely_systemic) == (1, False)


def test_the_accounts_own_incidents_do_not_make_it_related_to_others(factory: sessionmaker[Session]) -> None:
    target = _target(factory)
    own = _same_problem(factory, "view:own", TARGET_CLIENT, hours_ago=1)

    found = _isolate(factory, target)

    assert [m.incident_id for m in found.matches] == [own]
    assert (found.other_clients, found.likely_systemic) == (0, False)
    assert found.summary == (
        "No other account reports document upload failing in eu-west in the last 24 h: looks isolated to this account."
    )


def test_other_accounts_on_the_same_browser_and_os_alone_leave_it_isolated(factory: sessionmaker[Session]) -> None:
    target = _target(factory)
    same_setup = EnvironmentReport(browser="Chrome 120", os="Windows 11")
    _other(factory, "view:a", "Acme Corp", environment=same_setup)
    _other(factory, "view:b", "Birch Legal", environment=same_setup)

    found = _isolate(factory, target)

    assert [m.shared for m in found.matches] == [("browser Chrome", "OS Windows 11")] * 2
    assert (found.other_clients, found.likely_systemic) == (0, False)
    assert found.summary.endswith("looks isolated to this account.")


def test_a_crowd_sharing_only_browser_and_os_cannot_hide_accounts_sharing_the_workflow(
    factory: sessionmaker[Session],
) -> None:
    target = _target(factory)
    same_setup = EnvironmentReport(browser="Chrome 126", os="Windows 11")
    for n in range(12):
        _other(factory, f"view:crowd{n}", f"Crowd {n}", hours_ago=0.1, environment=same_setup)
    acme = _other(factory, "view:acme", "Acme Corp", hours_ago=5, workflow="document upload")
    birch = _other(factory, "view:birch", "Birch Legal", hours_ago=6, workflow="Document Upload")

    found = _isolate(factory, target, limit=10)

    assert len(found.matches) == 10
    assert [m.incident_id for m in found.matches[:2]] == [acme, birch]
    assert (
        found.summary == "2 other accounts report document upload failing in eu-west in the last 6 h — likely systemic"
    )


def test_matches_sharing_more_of_workflow_region_and_blocker_come_first_then_the_most_recent(
    factory: sessionmaker[Session],
) -> None:
    target = _target(factory)
    same_setup = EnvironmentReport(browser="Chrome 126", os="Windows 11")
    workflow_only = _other(factory, "view:w", "Acme Corp", hours_ago=1, workflow="document upload")
    workflow_and_region = _other(
        factory, "view:wr", "Birch Legal", hours_ago=5, workflow="document upload", region="eu-west"
    )
    workflow_and_setup = _other(
        factory, "view:ws", "Cedar Partners", hours_ago=2, workflow="document upload", environment=same_setup
    )
    setup_only = _other(factory, "view:s", "Dunmore & Co", hours_ago=0.5, environment=same_setup)
    os_only = _other(factory, "view:o", "Elm Street Law", hours_ago=0.1, environment=EnvironmentReport(os="Windows 11"))

    found = _isolate(factory, target)

    assert [m.incident_id for m in found.matches] == [
        workflow_and_region,
        workflow_only,  # browser and OS don't lift a match above a more recent one sharing as much else
        workflow_and_setup,
        setup_only,  # among matches on browser and OS alone, more shared first
        os_only,
    ]


def test_a_similar_blocker_alone_links_accounts_even_without_workflow_or_region(factory: sessionmaker[Session]) -> None:
    target = _target(factory, workflow=None, region=None, environment=EnvironmentReport())
    acme = _other(factory, "view:a", "Acme Corp", hours_ago=3, blocker=REWORDED_BLOCKER)
    _other(factory, "view:b", "Birch Legal", hours_ago=1, blocker="Uploading the 250 MB exhibit bundle stops at 98%.")

    found = _isolate(factory, target)

    assert [m.shared for m in found.matches] == [("similar blocker",)] * 2
    assert found.matches[1].incident_id == acme
    assert found.summary == "2 other accounts report similar problems in the last 3 h — likely systemic"


def test_postgresql_scores_blockers_as_the_python_fallback_does(
    session_factory: sessionmaker[Session], sqlite_factory: sessionmaker[Session]
) -> None:
    scores = []
    for factory in (session_factory, sqlite_factory):
        target = _target(factory)
        _other(factory, "view:a", "Acme Corp", blocker=REWORDED_BLOCKER)
        _other(factory, "view:b", "Birch Legal", workflow="document upload")
        scores.append(sorted(m.blocker_similarity for m in _isolate(factory, target).matches))
    blocker = "Uploading the 250 MB exhibit bundle stops at 99% with 'Network error'."  # a_report's
    expected = sorted(
        round(text_similarity(blocker, other), 2) for other in (REWORDED_BLOCKER, NOTHING_SHARED["blocker"])
    )
    assert scores == [expected, expected]


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Uploading the 250 MB exhibit bundle stops at 99% with 'Network error'.", REWORDED_BLOCKER),
        ("Die Übertragung der Akte schlägt fehl", "Übertragung der Akten schlug fehl"),
        ("café crème: snake_case 99%", "Cafe creme snake case 99"),
        ("SSO redirect returns 'SAML response invalid'", "Login loops back to the sign-in page"),
        ("", "anything"),
    ],
)
def test_the_python_fallback_agrees_with_pg_trgm(session_factory: sessionmaker[Session], left: str, right: str) -> None:
    with unit_of_work(session_factory) as session:
        in_postgresql = session.scalar(select(func.similarity(left, right)))
    assert text_similarity(left, right) == pytest.approx(in_postgresql, abs=1e-6)


def test_browser_and_os_can_be_read_from_an_index_by_incident(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        indexes = inspect(session.connection()).get_indexes("environments")
    assert {"name": "ix_environments_incident_browser_os", "columns": ["incident_id", "browser", "os"]} in [
        {"name": ix["name"], "columns": ix["column_names"]} for ix in indexes
    ]


def test_the_trigram_index_of_open_incidents_covers_exactly_the_open_statuses(
    session_factory: sessionmaker[Session],
) -> None:
    """Migration 0003's index predicate must list the statuses the search treats as open, or it goes unused."""
    with unit_of_work(session_factory) as session:
        predicate = session.scalar(
            text("SELECT pg_get_expr(indpred, indrelid) FROM pg_index WHERE indexrelid = to_regclass(:name)"),
            {"name": "ix_incidents_open_blocker_trgm"},
        )
    assert set(re.findall(r"'(\w+)'", predicate or "")) == {status.value for status in OPEN_STATUSES}


def test_a_report_without_environment_still_matches_on_what_it_has(factory: sessionmaker[Session]) -> None:
    target = _target(factory, environment=EnvironmentReport())
    acme = _other(factory, "view:a", "Acme Corp", region="eu-west", environment=EnvironmentReport(browser="Chrome 126"))

    found = _isolate(factory, target)

    assert _shared_by_id(found) == {acme: ("region eu-west",)}
