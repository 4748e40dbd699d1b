"""Workspace settings on PostgreSQL: saved values over the environment's, a change log, every replica seeing a
change within a second (two processes' caches, an injected monotonic clock), and clients' own channels."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import cast

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import SettingsError, load_settings
from bot.db import unit_of_work
from bot.domain.workspace_settings import (
    SettingChange,
    changes_between,
    client_of_channel,
    map_client,
    save_changes,
    saved_values,
    saved_version,
)
from bot.models import ClientTier, SettingsChange
from bot.services import settings_cache
from bot.services.settings_cache import WorkspaceSettingsCache, merged_settings
from tests.clocks import Ticks
from tests.conftest import T0

BASE = load_settings(_env_file=None)


def save(factory: sessionmaker[Session], team: str, **values: str | None) -> None:
    with unit_of_work(factory) as session:
        _, saved = saved_values(session, team)
        save_changes(session, team_id=team, changes=changes_between(saved, values), by="UADMIN", now=T0)


def test_saved_values_override_the_environment_and_are_checked_like_it() -> None:
    merged = merged_settings(BASE, {"ack_windows": "SEV1=2,SEV2=15,SEV3=60,SEV4=240", "jira_project": "OPS"})
    assert merged.ack_window_by_severity[next(iter(merged.ack_window_by_severity))] == timedelta(minutes=2)
    assert (merged.jira_project, merged.database_url) == ("OPS", BASE.database_url)
    assert merged_settings(BASE, {"jira_project": None}).jira_project == "ENG", "None: back to the default"
    with pytest.raises(SettingsError, match="ACK_WINDOWS"):
        merged_settings(BASE, {"ack_windows": "SEV1=soon"})
    with pytest.raises(SettingsError, match="Not a setting that can be changed in Slack: database_url"):
        merged_settings(BASE, {"database_url": "sqlite://"})


def test_each_change_is_logged_with_who_when_old_and_new(session_factory: sessionmaker[Session]) -> None:
    save(session_factory, "T1", jira_project="OPS")
    save(session_factory, "T1", jira_project="SUP", deadline_reminders="60,10")
    save(session_factory, "T1", jira_project=None)
    with unit_of_work(session_factory) as session:
        log = [(c.setting, c.old_value, c.new_value) for c in session.scalars(select(SettingsChange).order_by("id"))]
        version, values = saved_values(session, "T1")
    assert log == [
        ("JIRA_PROJECT", None, "OPS"),
        ("DEADLINE_REMINDERS", None, "60,10"),  # in the form's order
        ("JIRA_PROJECT", "OPS", "SUP"),
        ("JIRA_PROJECT", "SUP", None),
    ]
    assert (version, values) == (3, {"deadline_reminders": "60,10"})
    assert changes_between(values, {"deadline_reminders": "60,10"}) == [], "saving the same value changes nothing"
    assert changes_between(values, {"jira_project": ""}) == []
    assert changes_between({}, {"jira_project": "X"}) == [SettingChange("jira_project", None, "X")]


def test_a_change_reaches_another_replica_within_a_second(session_factory: sessionmaker[Session]) -> None:
    ticks = Ticks()
    here, there = WorkspaceSettingsCache(monotonic=ticks), WorkspaceSettingsCache(monotonic=ticks)
    assert there.effective(BASE, session_factory, "T1") is BASE, "nothing saved: the environment's settings"
    save(session_factory, "T1", jira_project="OPS")
    here.forget("T1")
    assert here.effective(BASE, session_factory, "T1").jira_project == "OPS", "the saving replica: at once"
    ticks.now = 0.5
    assert there.effective(BASE, session_factory, "T1") is BASE, "the other replica, within its second"
    ticks.now = 1.0
    assert there.effective(BASE, session_factory, "T1").jira_project == "OPS"
    assert there.effective(BASE, session_factory, "T2") is BASE, "another workspace keeps the environment's"


class CountedSessions:
    """A session factory that counts the sessions asked for; `hold` makes each wait until `release` is set."""

    def __init__(self, factory: sessionmaker[Session], *, hold: bool = False) -> None:
        self.factory, self.hold = factory, hold
        self.asked, self.opening, self.release = 0, threading.Event(), threading.Event()

    def __call__(self) -> Session:
        self.asked += 1
        self.opening.set()
        if self.hold:
            assert self.release.wait(5)
        return self.factory()

    @property
    def as_factory(self) -> sessionmaker[Session]:
        return cast("sessionmaker[Session]", self)


def in_thread(work: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    results: list[object] = []
    thread = threading.Thread(target=lambda: results.append(work()))
    thread.start()
    return thread, results


def test_one_request_checks_a_lapsed_second_the_others_go_on_with_the_kept_settings(
    session_factory: sessionmaker[Session],
) -> None:
    ticks = Ticks()
    cache = WorkspaceSettingsCache(monotonic=ticks)
    save(session_factory, "T1", jira_project="OPS")
    kept = cache.effective(BASE, session_factory, "T1")
    ticks.now = 1.0
    checking = CountedSessions(session_factory, hold=True)
    checker, checked = in_thread(lambda: cache.effective(BASE, checking.as_factory, "T1"))
    assert checking.opening.wait(5), "the first request after the second checks the saved version"
    others = CountedSessions(session_factory)
    assert [cache.effective(BASE, others.as_factory, "T1") for _ in range(5)] == [kept] * 5
    assert others.asked == 0, "while one request checks, the others read nothing"
    checking.release.set()
    checker.join(5)
    assert checked == [kept] and checking.asked == 1, "unchanged: one indexed read"
    ticks.now = 1.5
    assert cache.effective(BASE, others.as_factory, "T1") is kept and others.asked == 0, "checked: a second more"


def test_a_failed_check_leaves_the_next_request_to_check_again(session_factory: sessionmaker[Session]) -> None:
    ticks = Ticks()
    cache = WorkspaceSettingsCache(monotonic=ticks)
    assert cache.effective(BASE, session_factory, "T1") is BASE
    ticks.now = 1.0

    def unreachable() -> Session:
        raise ConnectionError("database down")

    with pytest.raises(ConnectionError):
        cache.effective(BASE, cast("sessionmaker[Session]", unreachable), "T1")
    save(session_factory, "T1", jira_project="OPS")
    again = CountedSessions(session_factory)
    assert cache.effective(BASE, again.as_factory, "T1").jira_project == "OPS", "not left marked as checking"
    assert again.asked >= 1


def test_a_check_in_flight_does_not_bring_back_what_this_process_saved_over(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = Ticks()
    cache = WorkspaceSettingsCache(monotonic=ticks)
    assert cache.effective(BASE, session_factory, "T1") is BASE
    ticks.now = 1.0
    version_read, release = threading.Event(), threading.Event()

    def version_then_wait(session: Session, team_id: str) -> int:
        version = saved_version(session, team_id)
        version_read.set()
        assert release.wait(5)
        return version

    monkeypatch.setattr(settings_cache, "saved_version", version_then_wait)
    checker, checked = in_thread(lambda: cache.effective(BASE, session_factory, "T1"))
    assert version_read.wait(5), "the check read the version from before the save"
    save(session_factory, "T1", jira_project="OPS")  # the saving request, in this process
    cache.forget("T1")
    assert cache.effective(BASE, session_factory, "T1").jira_project == "OPS", "the saver sees its change at once"
    release.set()
    checker.join(5)
    assert checked == [BASE], "the check answered its own request with what it found"
    assert cache.effective(BASE, session_factory, "T1").jira_project == "OPS", "but kept nothing over the change"


def test_a_channel_belongs_to_one_client_per_workspace(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        map_client(
            session, team_id="T1", name="Hartley", tier=ClientTier.PREMIUM, channel_id="CSHARED", by="U1", now=T0
        )
        map_client(session, team_id="T2", name="Hartley", tier=ClientTier.PREMIUM, channel_id="COTHER", by="U2", now=T0)
        map_client(
            session, team_id="T1", name="Bluebird", tier=ClientTier.STANDARD, channel_id="CSHARED", by="U1", now=T0
        )
    with unit_of_work(session_factory) as session:
        assert client_of_channel(session, "T1", "CSHARED").name == "Bluebird"  # type: ignore[union-attr]
        assert client_of_channel(session, "T2", "COTHER").name == "Hartley"  # type: ignore[union-attr]
        assert client_of_channel(session, "T2", "CSHARED") is None
