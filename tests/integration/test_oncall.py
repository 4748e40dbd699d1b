from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.db import unit_of_work
from bot.domain.oncall import (
    InvalidOverride,
    InvalidTeam,
    OnCall,
    OverrideOverlaps,
    TeamSpec,
    UnknownTeam,
    active_overrides,
    add_override,
    cancel_override,
    find_team,
    on_call_now,
    replace_teams,
    who_is_on_call,
)
from bot.models import OncallOverride, OncallTeam
from tests.conftest import T0

# At T0 (Monday 2026-11-30 09:00 UTC): platform has just handed off to U0BOB; support (14:30 in Kolkata) is U0ERIN's
# day; web's rotation has not started yet.
PLATFORM = TeamSpec(
    name="platform",
    members=("U0ALICE", "U0BOB", "U0CAROL"),
    timezone="Europe/London",
    starts_on=date(2026, 11, 2),
    escalation_channel_id="C0ESCALATE",
)
SUPPORT = TeamSpec(
    name="support",
    members=("U0DAVE", "U0ERIN"),
    timezone="Asia/Kolkata",
    starts_on=date(2026, 11, 29),
    handoff_time=time(10, 0),
    rotation_days=1,
)
WEB = TeamSpec(name="web", members=("U0FRANK",), timezone="America/New_York", starts_on=date(2026, 12, 7))
NEXT_PLATFORM_HANDOFF = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _load(factory: sessionmaker[Session], *specs: TeamSpec, prune: bool = False) -> None:
    with unit_of_work(factory) as session:
        replace_teams(session=session, teams=specs, now=T0, prune=prune)


def _cover(
    factory: sessionmaker[Session],
    user_id: str,
    starts_at: datetime,
    duration: timedelta,
    created_at: datetime = T0,
    team_name: str | None = "platform",
) -> OncallOverride:
    with unit_of_work(factory) as session:
        return add_override(
            session=session,
            team_name=team_name,
            user_id=user_id,
            starts_at=starts_at,
            duration=duration,
            created_by="U0LEAD",
            now=created_at,
        )


def _who(factory: sessionmaker[Session], at: datetime, team_name: str | None = "platform") -> OnCall | None:
    with unit_of_work(factory) as session:
        return who_is_on_call(session=session, team_name=team_name, at=at)


def _platform(user_id: str, *, until: datetime, next_user_id: str, via_override: bool = False) -> OnCall:
    return OnCall(
        team="platform",
        user_id=user_id,
        via_override=via_override,
        until=until,
        next_user_id=next_user_id,
        escalation_channel_id="C0ESCALATE",
    )


def test_teams_are_stored_with_their_members_in_order(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        stored = replace_teams(session=session, teams=[PLATFORM, SUPPORT], now=T0)
        assert [team.name for team in stored] == ["platform", "support"]
    with unit_of_work(session_factory) as session:
        platform = session.scalars(select(OncallTeam).where(OncallTeam.name == "platform")).one()
        assert [(m.position, m.user_id) for m in platform.members] == [(0, "U0ALICE"), (1, "U0BOB"), (2, "U0CAROL")]
        assert (platform.timezone, platform.handoff_time, platform.rotation_days, platform.starts_on) == (
            "Europe/London",
            "09:00",
            7,
            "2026-11-02",
        )
        assert (platform.escalation_channel_id, platform.created_at) == ("C0ESCALATE", T0)


def test_reloading_updates_teams_by_name_and_keeps_their_overrides(session_factory: sessionmaker[Session]) -> None:
    _load(session_factory, PLATFORM, SUPPORT)
    _cover(session_factory, "U0DAVE", T0, timedelta(hours=4))
    with unit_of_work(session_factory) as session:
        platform_id = session.scalars(select(OncallTeam.id).where(OncallTeam.name == "platform")).one()

    shrunk = replace(PLATFORM, name="Platform", members=("U0CAROL", "U0DAVE"), handoff_time=time(8, 0))
    _load(session_factory, shrunk, WEB)
    with unit_of_work(session_factory) as session:
        platform = session.get_one(OncallTeam, platform_id)
        assert (platform.name, platform.handoff_time) == ("Platform", "08:00")
        assert [(m.position, m.user_id) for m in platform.members] == [(0, "U0CAROL"), (1, "U0DAVE")]
        assert sorted(session.scalars(select(OncallTeam.name))) == ["Platform", "support", "web"]
        assert session.scalars(select(OncallOverride.team_id)).all() == [platform_id]

    _load(session_factory, replace(PLATFORM, members=("U0ERIN", "U0ALICE", "U0BOB", "U0CAROL")))
    with unit_of_work(session_factory) as session:
        platform = session.get_one(OncallTeam, platform_id)
        assert [m.user_id for m in platform.members] == ["U0ERIN", "U0ALICE", "U0BOB", "U0CAROL"]


def test_pruning_deletes_unlisted_teams_with_their_overrides(session_factory: sessionmaker[Session]) -> None:
    _load(session_factory, PLATFORM, SUPPORT)
    _cover(session_factory, "U0DAVE", T0, timedelta(hours=4))
    _load(session_factory, SUPPORT, prune=True)
    with unit_of_work(session_factory) as session:
        assert session.scalars(select(OncallTeam.name)).all() == ["support"]
        assert session.scalar(select(func.count()).select_from(OncallOverride)) == 0


def test_a_team_listed_twice_is_refused(session_factory: sessionmaker[Session]) -> None:
    with (
        unit_of_work(session_factory) as session,
        pytest.raises(InvalidTeam, match=r"^Team 'PLATFORM' is listed more than once\.$"),
    ):
        replace_teams(session=session, teams=[PLATFORM, replace(PLATFORM, name="PLATFORM")], now=T0)


def test_the_rotation_says_who_is_on_call_until_the_next_handoff(session_factory: sessionmaker[Session]) -> None:
    _load(session_factory, PLATFORM, SUPPORT)
    assert _who(session_factory, T0) == _platform("U0BOB", until=NEXT_PLATFORM_HANDOFF, next_user_id="U0CAROL")
    assert _who(session_factory, T0 - timedelta(seconds=1)) == _platform("U0ALICE", until=T0, next_user_id="U0BOB")
    assert _who(session_factory, T0, team_name="Support") == OnCall(
        team="support",
        user_id="U0ERIN",
        via_override=False,
        until=datetime(2026, 12, 1, 4, 30, tzinfo=UTC),
        next_user_id="U0DAVE",
        escalation_channel_id=None,
    )


def test_a_single_member_is_on_call_with_no_end_and_nobody_next(session_factory: sessionmaker[Session]) -> None:
    _load(session_factory, WEB)
    assert _who(session_factory, T0, team_name="web") is None
    assert _who(session_factory, datetime(2026, 12, 8, tzinfo=UTC), team_name="web") == OnCall(
        team="web", user_id="U0FRANK", via_override=False, until=None, next_user_id=None, escalation_channel_id=None
    )


def test_an_override_wins_only_during_its_period(session_factory: sessionmaker[Session]) -> None:
    _load(session_factory, PLATFORM)
    starts, ends = T0 + timedelta(hours=2), T0 + timedelta(hours=6)
    _cover(session_factory, "U0DAVE", starts, timedelta(hours=4))
    assert _who(session_factory, T0) == _platform("U0BOB", until=starts, next_user_id="U0CAROL")
    assert _who(session_factory, starts) == _platform("U0DAVE", until=ends, next_user_id="U0CAROL", via_override=True)
    assert _who(session_factory, ends - timedelta(seconds=1)) == _platform(
        "U0DAVE", until=ends, next_user_id="U0CAROL", via_override=True
    )
    assert _who(session_factory, ends) == _platform("U0BOB", until=NEXT_PLATFORM_HANDOFF, next_user_id="U0CAROL")


def test_an_override_by_the_next_member_escalates_to_the_one_after(session_factory: sessionmaker[Session]) -> None:
    _load(session_factory, PLATFORM)
    _cover(session_factory, "U0CAROL", T0, timedelta(hours=1))
    on_call = _who(session_factory, T0)
    assert on_call is not None
    assert (on_call.user_id, on_call.via_override, on_call.next_user_id) == ("U0CAROL", True, "U0ALICE")


def test_an_override_spanning_a_handoff_ends_where_the_next_member_takes_over(
    session_factory: sessionmaker[Session],
) -> None:
    _load(session_factory, PLATFORM)
    _cover(session_factory, "U0CAROL", NEXT_PLATFORM_HANDOFF - timedelta(days=1), timedelta(days=3))
    assert _who(session_factory, T0) == _platform(
        "U0BOB", until=NEXT_PLATFORM_HANDOFF - timedelta(days=1), next_user_id="U0CAROL"
    )
    assert _who(session_factory, NEXT_PLATFORM_HANDOFF) == _platform(
        "U0CAROL", until=datetime(2026, 12, 14, 9, 0, tzinfo=UTC), next_user_id="U0ALICE", via_override=True
    )


def _stored_cover(
    factory: sessionmaker[Session], user_id: str, starts_at: datetime, duration: timedelta, created_at: datetime
) -> None:
    """An override row as stacked ones were stored before overrides stopped stacking (add_override refuses them)."""
    with unit_of_work(factory) as session:
        team_id = session.scalars(select(OncallTeam.id).where(OncallTeam.name == "platform")).one()
        session.add(
            OncallOverride(
                team_id=team_id,
                user_id=user_id,
                starts_at=starts_at,
                ends_at=starts_at + duration,
                created_by="U0LEAD",
                created_at=created_at,
            )
        )


def test_overlapping_overrides_stored_earlier_go_to_the_latest_created(session_factory: sessionmaker[Session]) -> None:
    _load(session_factory, PLATFORM)
    _stored_cover(session_factory, "U0DAVE", T0, timedelta(hours=4), created_at=T0 - timedelta(hours=1))
    _stored_cover(session_factory, "U0ERIN", T0 + timedelta(hours=1), timedelta(hours=1), created_at=T0)
    _stored_cover(
        session_factory, "U0FRANK", T0 - timedelta(hours=1), timedelta(hours=8), created_at=T0 - timedelta(days=1)
    )
    assert _who(session_factory, T0 + timedelta(minutes=30)) == _platform(
        "U0DAVE", until=T0 + timedelta(hours=1), next_user_id="U0CAROL", via_override=True
    )
    assert _who(session_factory, T0 + timedelta(minutes=90)) == _platform(
        "U0ERIN", until=T0 + timedelta(hours=2), next_user_id="U0CAROL", via_override=True
    )
    assert _who(session_factory, T0 + timedelta(hours=5)) == _platform(
        "U0FRANK", until=T0 + timedelta(hours=7), next_user_id="U0CAROL", via_override=True
    )


def test_with_no_team_named_the_first_team_by_name_is_used(session_factory: sessionmaker[Session]) -> None:
    assert _who(session_factory, T0, team_name=None) is None
    _load(session_factory, SUPPORT, WEB, PLATFORM)
    on_call = _who(session_factory, T0, team_name=None)
    assert on_call is not None and (on_call.team, on_call.user_id) == ("platform", "U0BOB")
    with pytest.raises(UnknownTeam, match=r"^There is no on-call team 'payments'\. Teams: platform, support, web\.$"):
        _who(session_factory, T0, team_name="payments")


def test_everyone_on_call_now_is_listed_by_team_name(session_factory: sessionmaker[Session]) -> None:
    _load(session_factory, WEB, SUPPORT, PLATFORM)
    _cover(session_factory, "U0ALICE", T0, timedelta(hours=1), team_name="support")
    with unit_of_work(session_factory) as session:
        entries = on_call_now(session=session, at=T0)
    assert [(e.team, e.user_id, e.via_override) for e in entries] == [
        ("platform", "U0BOB", False),
        ("support", "U0ALICE", True),
    ]
    with unit_of_work(session_factory) as session:
        later = on_call_now(session=session, at=datetime(2026, 12, 7, 14, 0, tzinfo=UTC))
    assert [(e.team, e.user_id) for e in later] == [("platform", "U0CAROL"), ("support", "U0DAVE"), ("web", "U0FRANK")]


def test_an_override_is_stored_in_utc_for_the_default_team(session_factory: sessionmaker[Session]) -> None:
    _load(session_factory, SUPPORT, PLATFORM)
    override = _cover(session_factory, "U0DAVE", T0, timedelta(days=14), team_name=None)
    with unit_of_work(session_factory) as session:
        stored = session.get_one(OncallOverride, override.id)
        team = session.get_one(OncallTeam, stored.team_id)
        assert (team.name, stored.user_id, stored.starts_at, stored.ends_at) == (
            "platform",
            "U0DAVE",
            T0,
            T0 + timedelta(days=14),
        )
        assert (stored.created_by, stored.created_at) == ("U0LEAD", T0)


@pytest.mark.parametrize(
    ("team_name", "user_id", "starts_at", "duration", "error", "message"),
    [
        ("platform", "U0DAVE", T0, timedelta(seconds=59), InvalidOverride, "An override must last at least 1 minute."),
        (
            "platform",
            "U0DAVE",
            T0,
            timedelta(days=14, minutes=1),
            InvalidOverride,
            "An override can last at most 14 days, not 14d1m; add another one for the rest.",
        ),
        ("platform", "alice", T0, timedelta(hours=1), InvalidOverride, "'alice' is not a Slack user id (U… or W…)."),
        (
            "platform",
            "U0DAVE",
            T0 - timedelta(hours=3),
            timedelta(hours=2),
            InvalidOverride,
            "That override would end at 2026-11-30 08:00 UTC, which has already passed.",
        ),
        (
            "payments",
            "U0DAVE",
            T0,
            timedelta(hours=1),
            UnknownTeam,
            "There is no on-call team 'payments'. Teams: platform, support.",
        ),
    ],
)
def test_invalid_overrides_are_refused_with_a_clear_message(
    session_factory: sessionmaker[Session],
    team_name: str,
    user_id: str,
    starts_at: datetime,
    duration: timedelta,
    error: type[Exception],
    message: str,
) -> None:
    _load(session_factory, PLATFORM, SUPPORT)
    with pytest.raises(error) as raised:
        _cover(session_factory, user_id, starts_at, duration, team_name=team_name)
    assert str(raised.value) == message
    with unit_of_work(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(OncallOverride)) == 0


def test_an_override_needs_a_team(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(UnknownTeam, match=r"^There are no on-call teams yet\.$"):
        _cover(session_factory, "U0DAVE", T0, timedelta(hours=1), team_name=None)


def test_overrides_do_not_stack_and_one_that_is_cancelled_makes_room(session_factory: sessionmaker[Session]) -> None:
    _load(session_factory, PLATFORM)
    _cover(session_factory, "U0DAVE", T0, timedelta(hours=4))
    with pytest.raises(OverrideOverlaps) as refused:
        _cover(session_factory, "U0ERIN", T0 + timedelta(hours=3), timedelta(hours=2))
    assert str(refused.value) == (
        "<@U0DAVE> already covers platform until 2026-11-30 13:00 UTC (set by <@U0LEAD>). "
        "End that first: `/triage oncall cancel platform`."
    )
    _cover(session_factory, "U0ERIN", T0 + timedelta(hours=4), timedelta(hours=1))  # right after it: no overlap

    later = T0 + timedelta(hours=1)
    with unit_of_work(session_factory) as session:
        cancelled = cancel_override(session=session, team_name="platform", cancelled_by="U0BOB", now=later)
        assert (cancelled.user_id, cancelled.ends_at, cancelled.cancelled_by, cancelled.cancelled_at) == (
            "U0DAVE",
            later,
            "U0BOB",
            later,
        )
    assert _who(session_factory, later) == _platform("U0BOB", until=T0 + timedelta(hours=4), next_user_id="U0CAROL")
    _cover(session_factory, "U0CAROL", later, timedelta(hours=1), created_at=later)
    with unit_of_work(session_factory) as session:
        shown = active_overrides(session=session, at=later)
    assert [(o.team, o.user_id, o.replaces, o.ends_at, o.created_by) for o in shown] == [
        ("platform", "U0CAROL", "U0BOB", T0 + timedelta(hours=2), "U0LEAD")
    ]


def test_cancelling_when_nothing_covers_the_team_says_so(session_factory: sessionmaker[Session]) -> None:
    _load(session_factory, PLATFORM)
    with (
        unit_of_work(session_factory) as session,
        pytest.raises(InvalidOverride, match=r"^Nobody covers platform by an override now or later; nothing to"),
    ):
        cancel_override(session=session, team_name=None, cancelled_by="U0BOB", now=T0)


def test_each_workspace_has_its_own_rotations_under_the_same_names(session_factory: sessionmaker[Session]) -> None:
    alpha = replace(PLATFORM, leads=("U0LEAD",))
    bravo = replace(PLATFORM, members=("U0ZED",), escalation_channel_id=None)
    with unit_of_work(session_factory) as session:
        replace_teams(session=session, teams=[alpha, SUPPORT], now=T0, workspace="T0ALPHA")
        replace_teams(session=session, teams=[bravo], now=T0, workspace="T0BRAVO")
        replace_teams(session=session, teams=[WEB], now=T0)  # a single-workspace install's: no workspace
    with unit_of_work(session_factory) as session:
        in_alpha = who_is_on_call(session=session, team_name="platform", at=T0, workspace="T0ALPHA")
        in_bravo = who_is_on_call(session=session, team_name="platform", at=T0, workspace="T0BRAVO")
        assert (in_alpha and in_alpha.user_id, in_bravo and in_bravo.user_id) == ("U0BOB", "U0ZED")
        assert [e.team for e in on_call_now(session=session, at=T0, workspace="T0BRAVO")] == ["platform"]
        with pytest.raises(UnknownTeam, match=r"^There is no on-call team 'support'\. Teams: platform\.$"):
            who_is_on_call(session=session, team_name="support", at=T0, workspace="T0BRAVO")
        assert who_is_on_call(session=session, at=T0, workspace="") is None, "a workspace with no rotations"
        assert find_team(session=session, name="platform", workspace="T0ALPHA").leads == ["U0LEAD"]
    _cover(session_factory, "U0DAVE", T0, timedelta(hours=1), team_name="platform")  # unscoped: the first one
    with unit_of_work(session_factory) as session:
        override = session.scalars(select(OncallOverride)).one()
        assert session.get_one(OncallTeam, override.team_id).workspace == "T0ALPHA"
        with pytest.raises(UnknownTeam):
            add_override(
                session=session,
                team_name="support",
                user_id="U0DAVE",
                starts_at=T0,
                duration=timedelta(hours=1),
                created_by="U0ZED",
                now=T0,
                workspace="T0BRAVO",
            )
    # Loading (and pruning) one workspace's file leaves the other workspaces' rotations alone.
    with unit_of_work(session_factory) as session:
        replace_teams(session=session, teams=[bravo], now=T0, workspace="T0BRAVO", prune=True)
        replace_teams(session=session, teams=[SUPPORT], now=T0, workspace="T0ALPHA", prune=True)
    with unit_of_work(session_factory) as session:
        names = sorted((t.workspace or "-", t.name) for t in session.scalars(select(OncallTeam)))
    assert names == [("-", "web"), ("T0ALPHA", "support"), ("T0BRAVO", "platform")]
