"""One database, several Slack workspaces: lookups, lists, isolation, correlation and reports keep to their own."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from bot.cli import app
from bot.clock import ManualClock
from bot.config import load_settings
from bot.db import unit_of_work
from bot.domain.correlation import correlate
from bot.domain.errors import IncidentNotFound
from bot.domain.incidents import list_open_incidents, load_incident, load_incident_by_key
from bot.domain.isolation import find_similar
from bot.domain.reports import build_report
from bot.domain.status_page import StatusPageResult
from bot.domain.workarounds import active_workarounds, start_workaround
from bot.models import Incident, WorkaroundKind
from bot.services.wiring import build_services
from tests.conftest import T0
from tests.integration.test_open_incident import _open

ALPHA, BRAVO = "T0ALPHA", "T0BRAVO"


def _open_in(factory: sessionmaker[Session], team_id: str | None, key: str, client: str) -> int:
    """The same report (same workflow, region and blocker) from another client, opened in `team_id`."""
    incident_id = _open(factory, key, client_name=client)
    with unit_of_work(factory) as session:
        session.get_one(Incident, incident_id).team_id = team_id
    return incident_id


@pytest.fixture
def two_workspaces(session_factory: sessionmaker[Session]) -> tuple[int, int, int]:
    return (
        _open_in(session_factory, ALPHA, "view:a1", "Alpha Legal"),
        _open_in(session_factory, ALPHA, "view:a2", "Alder & Ash"),
        _open_in(session_factory, BRAVO, "view:b1", "Bravo Partners"),
    )


def test_a_workspace_finds_and_lists_only_its_own_incidents(
    session_factory: sessionmaker[Session], two_workspaces: tuple[int, int, int]
) -> None:
    alpha_one, alpha_two, bravo = two_workspaces
    with unit_of_work(session_factory) as session:
        assert {i.id for i in list_open_incidents(session=session, workspace=ALPHA)} == {alpha_one, alpha_two}
        assert [i.id for i in list_open_incidents(session=session, workspace=BRAVO)] == [bravo]
        assert len(list_open_incidents(session=session)) == 3, "unscoped (single workspace, CLI): everything"
        assert load_incident_by_key(session=session, reference=f"INC-{bravo}", workspace=BRAVO).id == bravo
        with pytest.raises(IncidentNotFound) as hidden:
            load_incident_by_key(session=session, reference=f"INC-{bravo}", workspace=ALPHA)
        with pytest.raises(IncidentNotFound) as missing:
            load_incident_by_key(session=session, reference="INC-999", workspace=ALPHA)
        assert str(hidden.value) == str(missing.value), "another workspace's incident is answered as a missing one"
        assert f"INC-{bravo}" not in str(hidden.value)
        with pytest.raises(IncidentNotFound):
            load_incident(session, alpha_one, workspace=BRAVO)


def test_isolation_and_correlation_look_only_within_the_incident_s_workspace(
    session_factory: sessionmaker[Session], two_workspaces: tuple[int, int, int]
) -> None:
    alpha_one, alpha_two, bravo = two_workspaces
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, alpha_one)
        found = find_similar(session=session, incident=incident, window=timedelta(hours=24), now=T0)
        assert [m.incident_id for m in found.matches] == [alpha_two]
        lonely = find_similar(
            session=session, incident=session.get_one(Incident, bravo), window=timedelta(hours=24), now=T0
        )
        assert lonely.matches == []
        related = correlate(
            session=session,
            incident=incident,
            status_page=StatusPageResult(available=False, error="not configured"),
            now=T0,
        )
        assert [item.title.split(" ", 1)[0] for item in related.items if item.kind == "incident"] == [
            f"INC-{alpha_two}"
        ]


def test_reports_and_workaround_lists_count_one_workspace_when_asked_from_it(
    session_factory: sessionmaker[Session], two_workspaces: tuple[int, int, int]
) -> None:
    clock = ManualClock(T0 + timedelta(hours=1))
    alpha_one, _, bravo = two_workspaces
    with unit_of_work(session_factory) as session:
        for incident_id in (alpha_one, bravo):
            start_workaround(
                session=session,
                incident=session.get_one(Incident, incident_id),
                kind=WorkaroundKind.RETRY_CYCLE,
                description="retry the upload",
                client_expectation="we retry every 10 minutes",
                owner_id="UAGENT",
                time_box=timedelta(hours=1),
                interval=timedelta(minutes=10),
                now=clock.now(),
            )
    with unit_of_work(session_factory) as session:
        assert [w.incident_id for w in active_workarounds(session=session, workspace=BRAVO)] == [bravo]
        assert len(active_workarounds(session=session)) == 2
        alpha = build_report(session, days=30, now=clock.now(), workspace=ALPHA)
        everyone = build_report(session, days=30, now=clock.now())
    assert (alpha.incidents, everyone.incidents) == (2, 3)
    assert {t.label for t in alpha.by_client} == {"Alpha Legal", "Alder & Ash"}


def _cli(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"})


def test_adopt_incidents_gives_the_history_of_a_single_workspace_install_to_one_workspace(
    session_factory: sessionmaker[Session], database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    legacy = [_open_in(session_factory, None, f"view:old{n}", f"Client {n}") for n in range(2)]
    bravo = _open_in(session_factory, BRAVO, "view:b1", "Bravo Partners")
    refused = _cli(database_url, "adopt-incidents", "alpha")
    assert refused.exit_code == 2 and "'alpha' is not a Slack team id such as T01ABCDEF." in refused.output
    adopted = _cli(database_url, "adopt-incidents", ALPHA)
    assert adopted.exit_code == 0 and f"2 incidents now belong to workspace {ALPHA}." in adopted.output
    with unit_of_work(session_factory) as session:
        assert {i.id for i in list_open_incidents(session=session, workspace=ALPHA)} == set(legacy)
        assert session.get_one(Incident, bravo).team_id == BRAVO, "incidents with a workspace keep it"
        assert session.get_one(Incident, legacy[0]).version == 1, "not an edit of the incident"
    again = _cli(database_url, "adopt-incidents", ALPHA)
    assert "0 incidents now belong" in again.output


def test_the_report_command_can_keep_to_one_workspace(
    database_url: str, two_workspaces: tuple[int, int, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    alpha = _cli(database_url, "report", "--format", "json", "--team", ALPHA, "--days", "365")
    everyone = _cli(database_url, "report", "--format", "json", "--days", "365")
    assert alpha.exit_code == 0 and everyone.exit_code == 0
    assert (json.loads(alpha.output)["incidents"]["count"], json.loads(everyone.output)["incidents"]["count"]) == (2, 3)


def test_with_oauth_installs_a_request_naming_no_workspace_sees_no_incident(
    session_factory: sessionmaker[Session], two_workspaces: tuple[int, int, int], database_url: str
) -> None:
    engine = session_factory.kw["bind"]
    single = build_services(load_settings(database_url=database_url), engine=engine)
    assert single.for_request(ALPHA) is single, "one workspace: requests are not scoped"
    oauth = load_settings(database_url=database_url, slack_client_id="4242.1717", slack_client_secret="s")
    services = build_services(oauth, engine=engine)
    assert services.for_request(BRAVO).workspace == BRAVO
    nameless = services.for_request(None)
    with unit_of_work(session_factory) as session:
        assert list_open_incidents(session=session, workspace=nameless.workspace) == []
        with pytest.raises(IncidentNotFound):
            load_incident(session, two_workspaces[0], workspace=nameless.workspace)


def test_a_mistyped_team_id_is_refused_before_the_database_is_touched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    database = tmp_path / "bot.db"
    refused = _cli(f"sqlite:///{database}", "adopt-incidents", " t01 ")
    assert refused.exit_code == 2 and "'t01' is not a Slack team id such as T01ABCDEF." in refused.output
    assert not database.exists()
