from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from bot.domain.oncall import (
    InvalidTeam,
    Rotation,
    TeamSpec,
    format_duration,
    member_on_call,
    next_handoff,
    next_member,
    parse_duration,
)
from bot.domain.oncall_file import OncallFileError, load_team_specs


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def a_rotation(
    members: tuple[str, ...] = ("UALICE", "UBOB", "UCAROL"),
    timezone: str = "UTC",
    handoff: time = time(9, 0),
    rotation_days: int = 7,
    starts_on: date = date(2026, 11, 2),
) -> Rotation:
    return Rotation(
        name="platform",
        members=members,
        timezone=timezone,
        handoff_time=handoff,
        rotation_days=rotation_days,
        starts_on=starts_on,
    )


# Rotation arithmetic


def test_a_weekly_rotation_hands_off_every_seven_days_and_wraps_around() -> None:
    rotation = a_rotation()
    assert member_on_call(rotation, utc(2026, 11, 2, 12)) == "UALICE"
    assert member_on_call(rotation, utc(2026, 11, 8, 23, 59)) == "UALICE"
    assert member_on_call(rotation, utc(2026, 11, 9, 9)) == "UBOB"
    assert member_on_call(rotation, utc(2026, 11, 16, 9)) == "UCAROL"
    assert member_on_call(rotation, utc(2026, 11, 23, 9)) == "UALICE"
    assert member_on_call(rotation, utc(2027, 1, 4, 9)) == "UALICE"
    assert member_on_call(rotation, utc(2027, 1, 11, 9)) == "UBOB"


def test_a_daily_rotation_hands_off_every_day() -> None:
    rotation = a_rotation(members=("UALICE", "UBOB"), rotation_days=1)
    assert [member_on_call(rotation, utc(2026, 11, day, 10)) for day in range(2, 7)] == [
        "UALICE",
        "UBOB",
        "UALICE",
        "UBOB",
        "UALICE",
    ]
    assert member_on_call(rotation, utc(2026, 11, 3, 8, 59)) == "UALICE"


def test_nobody_from_the_rotation_is_on_call_before_the_first_handoff() -> None:
    rotation = a_rotation()
    assert member_on_call(rotation, utc(2026, 11, 2, 8, 59)) is None
    assert member_on_call(rotation, utc(2025, 1, 1)) is None
    assert next_handoff(rotation, utc(2025, 1, 1)) == utc(2026, 11, 2, 9)


def test_the_handoff_instant_belongs_to_the_incoming_member() -> None:
    rotation = a_rotation()
    handoff = utc(2026, 11, 9, 9)
    assert member_on_call(rotation, handoff - timedelta(microseconds=1)) == "UALICE"
    assert member_on_call(rotation, handoff) == "UBOB"
    assert next_handoff(rotation, handoff - timedelta(microseconds=1)) == handoff
    assert next_handoff(rotation, handoff) == utc(2026, 11, 16, 9)


def test_london_handoffs_stay_at_nine_local_when_summer_time_starts() -> None:
    rotation = a_rotation(timezone="Europe/London", starts_on=date(2026, 3, 1))
    assert next_handoff(rotation, utc(2026, 3, 22, 10)) == utc(2026, 3, 29, 8)
    assert member_on_call(rotation, utc(2026, 3, 29, 7, 59)) == "UALICE"
    assert member_on_call(rotation, utc(2026, 3, 29, 8)) == "UBOB"


def test_london_handoffs_stay_at_nine_local_when_summer_time_ends() -> None:
    rotation = a_rotation(timezone="Europe/London", starts_on=date(2026, 10, 18))
    assert member_on_call(rotation, utc(2026, 10, 18, 8)) == "UALICE"
    assert next_handoff(rotation, utc(2026, 10, 18, 8)) == utc(2026, 10, 25, 9)
    assert member_on_call(rotation, utc(2026, 10, 25, 8, 59)) == "UALICE"
    assert member_on_call(rotation, utc(2026, 10, 25, 9)) == "UBOB"


def test_new_york_daily_handoffs_follow_local_time_across_the_spring_change() -> None:
    rotation = a_rotation(timezone="America/New_York", rotation_days=1, starts_on=date(2026, 3, 1))
    assert next_handoff(rotation, utc(2026, 3, 7, 0)) == utc(2026, 3, 7, 14)
    assert next_handoff(rotation, utc(2026, 3, 8, 0)) == utc(2026, 3, 8, 13)
    assert member_on_call(rotation, utc(2026, 3, 8, 12, 59)) == "UALICE"
    assert member_on_call(rotation, utc(2026, 3, 8, 13)) == "UBOB"


def test_kolkata_handoffs_are_at_local_time_without_daylight_saving() -> None:
    rotation = a_rotation(timezone="Asia/Kolkata", handoff=time(10, 0), starts_on=date(2026, 11, 2))
    assert next_handoff(rotation, utc(2026, 11, 1)) == utc(2026, 11, 2, 4, 30)
    assert member_on_call(rotation, utc(2026, 11, 2, 4, 29)) is None
    assert member_on_call(rotation, utc(2026, 11, 2, 4, 30)) == "UALICE"
    assert next_handoff(rotation, utc(2026, 11, 2, 4, 30)) == utc(2026, 11, 9, 4, 30)


def test_a_handoff_inside_the_spring_gap_is_shifted_forward_by_the_gap() -> None:
    rotation = a_rotation(timezone="America/New_York", handoff=time(2, 30), rotation_days=1, starts_on=date(2026, 3, 1))
    assert next_handoff(rotation, utc(2026, 3, 7, 8)) == utc(2026, 3, 8, 7, 30)
    assert member_on_call(rotation, utc(2026, 3, 8, 7, 29)) == "UALICE"
    assert member_on_call(rotation, utc(2026, 3, 8, 7, 30)) == "UBOB"
    assert next_handoff(rotation, utc(2026, 3, 8, 7, 30)) == utc(2026, 3, 9, 6, 30)


def test_a_handoff_before_the_spring_gap_is_unaffected() -> None:
    rotation = a_rotation(timezone="America/New_York", handoff=time(1, 30), rotation_days=1, starts_on=date(2026, 3, 1))
    assert next_handoff(rotation, utc(2026, 3, 8, 0)) == utc(2026, 3, 8, 6, 30)
    assert next_handoff(rotation, utc(2026, 3, 8, 6, 30)) == utc(2026, 3, 9, 5, 30)


def test_a_handoff_inside_the_autumn_overlap_happens_at_its_first_occurrence() -> None:
    rotation = a_rotation(
        timezone="America/New_York", handoff=time(1, 30), rotation_days=1, starts_on=date(2026, 10, 1)
    )
    assert next_handoff(rotation, utc(2026, 11, 1, 0)) == utc(2026, 11, 1, 5, 30)
    assert next_handoff(rotation, utc(2026, 11, 1, 5, 30)) == utc(2026, 11, 2, 6, 30)


def test_the_next_member_is_whoever_follows_the_current_one() -> None:
    rotation = a_rotation()
    assert next_member(rotation, utc(2026, 11, 2, 9)) == "UBOB"
    assert next_member(rotation, utc(2026, 11, 16, 9)) == "UALICE"
    assert next_member(rotation, utc(2026, 11, 1)) == "UALICE"


def test_the_next_member_skips_a_repeat_of_the_current_one() -> None:
    rotation = a_rotation(members=("UALICE", "UALICE", "UBOB"))
    assert next_member(rotation, utc(2026, 11, 2, 9)) == "UBOB"


def test_a_single_member_rotation_has_no_next_member() -> None:
    rotation = a_rotation(members=("UALICE",))
    assert member_on_call(rotation, utc(2026, 12, 25)) == "UALICE"
    assert next_member(rotation, utc(2026, 12, 25)) is None


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        member_on_call(a_rotation(), datetime(2026, 11, 2, 9))


# Durations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4h", timedelta(hours=4)),
        ("90m", timedelta(minutes=90)),
        ("1d", timedelta(days=1)),
        ("2h30m", timedelta(hours=2, minutes=30)),
        ("45 min", timedelta(minutes=45)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        (" 2 Hours 15 minutes ", timedelta(hours=2, minutes=15)),
        ("1w", timedelta(days=7)),
    ],
)
def test_durations_are_read_in_the_usual_short_forms(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "4", "h", "1h30", "4x", "-1h", "1.5.h", "soon"])
def test_unreadable_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match=r"as a duration; try 4h, 90m, 1d, 2h30m or 1\.5h\."):
        parse_duration(text)


def test_a_zero_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="longer than zero"):
        parse_duration("0m")


def test_durations_are_formatted_in_the_form_they_are_read() -> None:
    assert [format_duration(parse_duration(t)) for t in ("90m", "1d", "15d2h", "45 min")] == [
        "1h30m",
        "1d",
        "15d2h",
        "45m",
    ]


# Team specs and files

YAML_TEAMS = """\
teams:
  - name: platform
    timezone: Europe/London
    handoff: "09:00"
    rotation_days: 7
    starts_on: 2026-11-02
    members: [U0ALICE, U0BOB, U0CAROL]
    escalation_channel: C0ESCALATE
  - name: support
    timezone: Asia/Kolkata
    starts_on: "2026-11-03"
    members: [W0DAVE]
"""

TOML_TEAMS = """\
[[teams]]
name = "platform"
timezone = "Europe/London"
handoff = 09:00:00
rotation_days = 7
starts_on = 2026-11-02
members = ["U0ALICE", "U0BOB", "U0CAROL"]
escalation_channel = "C0ESCALATE"

[[teams]]
name = "support"
timezone = "Asia/Kolkata"
handoff = "18:30"
rotation_days = 1
starts_on = "2026-11-03"
members = ["W0DAVE"]
"""

PLATFORM = TeamSpec(
    name="platform",
    members=("U0ALICE", "U0BOB", "U0CAROL"),
    timezone="Europe/London",
    starts_on=date(2026, 11, 2),
    handoff_time=time(9, 0),
    rotation_days=7,
    escalation_channel_id="C0ESCALATE",
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["teams.yaml", "teams.yml"])
def test_teams_are_loaded_from_yaml_with_defaults(tmp_path: Path, name: str) -> None:
    specs = load_team_specs(_write(tmp_path, name, YAML_TEAMS))
    assert specs == [
        PLATFORM,
        TeamSpec(name="support", members=("W0DAVE",), timezone="Asia/Kolkata", starts_on=date(2026, 11, 3)),
    ]
    assert (specs[1].handoff_time, specs[1].rotation_days, specs[1].escalation_channel_id) == (time(9, 0), 7, None)


def test_teams_are_loaded_from_toml(tmp_path: Path) -> None:
    specs = load_team_specs(_write(tmp_path, "teams.toml", TOML_TEAMS))
    assert specs == [
        PLATFORM,
        TeamSpec(
            name="support",
            members=("W0DAVE",),
            timezone="Asia/Kolkata",
            starts_on=date(2026, 11, 3),
            handoff_time=time(18, 30),
            rotation_days=1,
        ),
    ]


def _team(**changes: str) -> str:
    fields = {
        "name": "platform",
        "timezone": "Europe/London",
        "handoff": '"09:00"',
        "rotation_days": "7",
        "starts_on": "2026-11-02",
        "members": "[U0ALICE, U0BOB]",
    } | changes
    lines = [f"    {key}: {value}" for key, value in fields.items() if value != "<absent>"]
    return "\n".join(["  -" + lines[0][3:], *lines[1:]])


@pytest.mark.parametrize(
    ("team", "message"),
    [
        (
            _team(timezone="Mars/Olympus"),
            "team 'platform', timezone: unknown time zone 'Mars/Olympus' (use an IANA name such as Europe/London).",
        ),
        (
            _team(handoff='"25:00"'),
            "team 'platform', handoff: '25:00' is not a time of day; use HH:MM such as \"09:00\".",
        ),
        (_team(handoff="9:00"), "team 'platform', handoff: write the time in quotes"),
        (_team(members="[]"), "team 'platform', members: the list is empty; add at least one Slack user id."),
        (_team(members="[U0ALICE, alice]"), "team 'platform', members: 'alice' is not a Slack user id (U… or W…)."),
        (_team(rotation_days="0"), "team 'platform', rotation_days: must be at least 1 (got 0)."),
        (_team(rotation_days='"weekly"'), "team 'platform', rotation_days: should be a valid integer (got 'weekly')."),
        (_team(starts_on="next monday"), "team 'platform', starts_on: 'next monday' is not a date; use YYYY-MM-DD"),
        (_team(starts_on="<absent>"), "team 'platform', starts_on: is required but missing."),
        (
            _team(escalation_channel="escalations"),
            "team 'platform', escalation_channel: 'escalations' is not a Slack channel id",
        ),
        (_team(member="[U0ALICE]"), "team 'platform', member: is not a known field."),
        (_team(leads="[boss]"), "team 'platform', leads: 'boss' is not a Slack user id (U… or W…)."),
        (_team(name='"  "'), "team #1, name: must not be empty."),
    ],
)
def test_each_problem_in_a_yaml_file_is_named_in_one_line(tmp_path: Path, team: str, message: str) -> None:
    path = _write(tmp_path, "teams.yaml", "teams:\n" + team + "\n")
    with pytest.raises(OncallFileError) as raised:
        load_team_specs(path)
    assert str(raised.value).startswith(f"{path}: {message}")
    assert "\n" not in str(raised.value)


def test_a_team_may_name_leads_who_may_override_it(tmp_path: Path) -> None:
    [spec] = load_team_specs(
        _write(tmp_path, "teams.yaml", "teams:\n" + _team(leads="[U0DANA, U0DANA, W0ERIN]") + "\n")
    )
    assert spec.leads == ("U0DANA", "W0ERIN")
    assert load_team_specs(_write(tmp_path, "plain.yaml", "teams:\n" + _team() + "\n"))[0].leads == ()


def test_duplicate_team_names_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "teams.yaml", "teams:\n" + _team() + "\n" + _team(name="Platform") + "\n")
    with pytest.raises(OncallFileError, match=r"teams\.yaml: team 'Platform' is listed more than once\.$"):
        load_team_specs(path)


def test_the_failing_team_is_named_even_when_it_is_not_the_first(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "teams.yaml", "teams:\n" + _team() + "\n" + _team(name="support", members="[U0X, 42]") + "\n"
    )
    with pytest.raises(OncallFileError, match=r"team 'support', members\[1\]: should be a valid string \(got 42\)\.$"):
        load_team_specs(path)


def test_toml_problems_are_named_the_same_way(tmp_path: Path) -> None:
    path = _write(tmp_path, "teams.toml", TOML_TEAMS.replace("rotation_days = 1", "rotation_days = 0"))
    with pytest.raises(OncallFileError, match=r"team 'support', rotation_days: must be at least 1 \(got 0\)\.$"):
        load_team_specs(path)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("teams.json", "{}", r"use a \.yaml, \.yml or \.toml file \(got '\.json'\)\."),
        ("teams.yaml", "teams: [", r"not valid YAML \(line 1, column 9: expected the node content, but found"),
        ("teams.toml", "[[teams]\n", r"not valid TOML \("),
        ("teams.yaml", "", r"expected a top-level 'teams' list\."),
        ("teams.yaml", "teams: []\n", r"the 'teams' list is empty\."),
    ],
)
def test_unusable_files_are_refused_clearly(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = _write(tmp_path, name, text)
    with pytest.raises(OncallFileError, match=message) as raised:
        load_team_specs(path)
    assert "\n" not in str(raised.value)


def test_a_missing_file_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(OncallFileError, match=r"can't read the file"):
        load_team_specs(tmp_path / "nope.yaml")


def test_a_team_spec_built_in_code_obeys_the_same_rules() -> None:
    with pytest.raises(InvalidTeam, match=r"^Team 'platform', rotation_days: must be at least 1 \(got 0\)\.$"):
        TeamSpec(name="platform", members=("U0ALICE",), timezone="UTC", starts_on=date(2026, 11, 2), rotation_days=0)


def test_a_team_that_is_not_a_mapping_is_refused_clearly(tmp_path: Path) -> None:
    path = _write(tmp_path, "teams.yaml", "teams:\n  - just a name\n")
    with pytest.raises(OncallFileError, match=r"team #1: should be a mapping of fields \(name, timezone, starts_on"):
        load_team_specs(path)
