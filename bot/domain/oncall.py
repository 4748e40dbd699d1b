"""On-call rotations: who the playbook tags as "the on-call engineer", overrides, and who comes next.

Handoffs happen at the team's local wall-clock time, so a 09:00 Europe/London handoff stays at 09:00 local across
daylight-saving changes (the UTC instant moves). A handoff time that falls in a daylight-saving gap or overlap is
resolved like `fold=0` (PEP 495): a time that does not exist that day is shifted forward by the length of the gap
(02:30 on a 02:00→03:00 spring-forward day happens at 03:30), and a time that occurs twice means its first occurrence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.errors import DomainError, quoted
from bot.domain.workspaces import scoped
from bot.models import OncallMember, OncallOverride, OncallTeam

MIN_OVERRIDE = timedelta(minutes=1)
MAX_OVERRIDE = timedelta(days=14)
TEAM_NAME_LIMIT = 100

T = TypeVar("T")

_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,39}$")
_SLACK_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,39}$")


class UnknownTeam(DomainError):
    def __init__(self, name: str | None, known: Sequence[str]) -> None:
        if not known:
            super().__init__("There are no on-call teams yet.")
        else:
            super().__init__(f"There is no on-call team '{name}'. Teams: {', '.join(known)}.")


class InvalidOverride(DomainError):
    """An override that can't be stored; the message says why."""


class InvalidTeam(DomainError):
    """A team definition that breaks a rotation rule; the message names the team and the field."""


def is_slack_user_id(text: str) -> bool:
    return bool(_SLACK_USER_ID.match(text))


def checked_team_name(name: str) -> str:
    """The name without surrounding spaces; ValueError when empty or too long."""
    stripped = name.strip()
    if not stripped:
        raise ValueError("must not be empty")
    if len(stripped) > TEAM_NAME_LIMIT:
        raise ValueError(f"must be at most {TEAM_NAME_LIMIT} characters (it has {len(stripped)})")
    return stripped


def checked_zone(name: str) -> str:
    """An IANA time zone name; ValueError when zoneinfo doesn't know it."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone '{name}' (use an IANA name such as Europe/London)") from None
    return name


def checked_handoff_time(handoff: time) -> time:
    if handoff.tzinfo is not None or handoff.second or handoff.microsecond:
        raise ValueError(f"'{handoff}' must be a plain HH:MM local time")
    return handoff


def checked_rotation_days(days: int) -> int:
    if days < 1:
        raise ValueError(f"must be at least 1 (got {days})")
    return days


def checked_members(members: Sequence[str]) -> tuple[str, ...]:
    """Slack user ids in rotation order; ValueError when empty or when one isn't a user id."""
    if not members:
        raise ValueError("the list is empty; add at least one Slack user id")
    for member in members:
        if not is_slack_user_id(member):
            raise ValueError(f"'{member}' is not a Slack user id (U… or W…)")
    return tuple(members)


def checked_leads(leads: Sequence[str]) -> tuple[str, ...]:
    """Slack user ids (none is fine); ValueError when one isn't a user id."""
    for lead in leads:
        if not is_slack_user_id(lead):
            raise ValueError(f"'{lead}' is not a Slack user id (U… or W…)")
    return tuple(dict.fromkeys(leads))


def checked_channel(channel: str | None) -> str | None:
    if channel is not None and not _SLACK_CHANNEL_ID.match(channel):
        raise ValueError(f"'{channel}' is not a Slack channel id (C… or G…)")
    return channel


def duplicate_team_name(names: Iterable[str]) -> str | None:
    """The first name listed twice (case-insensitively), if any."""
    seen: set[str] = set()
    for name in names:
        key = name.casefold()
        if key in seen:
            return name
        seen.add(key)
    return None


@dataclass(frozen=True)
class TeamSpec:
    """A team as a teams file defines it; construction raises InvalidTeam when a field breaks a rule."""

    name: str
    members: tuple[str, ...]
    timezone: str
    starts_on: date
    handoff_time: time = time(9, 0)
    rotation_days: int = 7
    escalation_channel_id: str | None = None
    leads: tuple[str, ...] = ()  # who may override it besides its members (and declarers and admins)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self._checked("name", lambda: checked_team_name(self.name)))
        object.__setattr__(self, "members", self._checked("members", lambda: checked_members(self.members)))
        object.__setattr__(self, "leads", self._checked("leads", lambda: checked_leads(self.leads)))
        self._checked("timezone", lambda: checked_zone(self.timezone))
        self._checked("handoff", lambda: checked_handoff_time(self.handoff_time))
        self._checked("rotation_days", lambda: checked_rotation_days(self.rotation_days))
        self._checked("escalation_channel", lambda: checked_channel(self.escalation_channel_id))

    def _checked(self, field_name: str, check: Callable[[], T]) -> T:
        try:
            return check()
        except ValueError as exc:
            raise InvalidTeam(f"Team '{self.name}', {field_name}: {exc}.") from None


@dataclass(frozen=True)
class Rotation:
    name: str
    members: tuple[str, ...]
    timezone: str
    handoff_time: time
    rotation_days: int
    starts_on: date

    def __post_init__(self) -> None:
        checked_rotation_days(self.rotation_days)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class OnCall:
    """Who is on call: `until` someone else takes over (None: nobody ever does); escalate to `next_user_id`."""

    team: str
    user_id: str
    via_override: bool
    until: datetime | None
    next_user_id: str | None
    escalation_channel_id: str | None


def rotation_of(team: OncallTeam) -> Rotation:
    return Rotation(
        name=team.name,
        members=tuple(member.user_id for member in team.members),
        timezone=team.timezone,
        handoff_time=time.fromisoformat(team.handoff_time),
        rotation_days=team.rotation_days,
        starts_on=date.fromisoformat(team.starts_on),
    )


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("on-call times must be timezone-aware")


def _handoff_at(rotation: Rotation, index: int) -> datetime:
    """The UTC instant of handoff number `index` (0 = the first, to member 0), at local wall-clock time."""
    day = rotation.starts_on + timedelta(days=index * rotation.rotation_days)
    return datetime.combine(day, rotation.handoff_time, tzinfo=rotation.zone).astimezone(UTC)


def _handoff_index(rotation: Rotation, at: datetime) -> int:
    """The number of the latest handoff at or before `at`; -1 before the first."""
    local_day = at.astimezone(rotation.zone).date()
    index = max((local_day - rotation.starts_on).days // rotation.rotation_days, -1)
    while index >= 0 and _handoff_at(rotation, index) > at:
        index -= 1
    while _handoff_at(rotation, index + 1) <= at:
        index += 1
    return index


def member_on_call(rotation: Rotation, at: datetime) -> str | None:
    """The rotation's member on call at `at`; None before the first handoff or with no members."""
    _require_aware(at)
    index = _handoff_index(rotation, at)
    if index < 0 or not rotation.members:
        return None
    return rotation.members[index % len(rotation.members)]


def next_handoff(rotation: Rotation, at: datetime) -> datetime:
    """The first handoff strictly after `at`, in UTC."""
    _require_aware(at)
    return _handoff_at(rotation, _handoff_index(rotation, at) + 1)


def _next_person(rotation: Rotation, at: datetime, skip: str | None) -> str | None:
    """The first member after the current rotation slot who isn't `skip`."""
    index = _handoff_index(rotation, at)
    count = len(rotation.members)
    for step in range(1, count + 1):
        candidate = rotation.members[(index + step) % count]
        if candidate != skip:
            return candidate
    return None


def next_member(rotation: Rotation, at: datetime) -> str | None:
    """Who comes after the member on call (member 0 before the first handoff); None with a single member."""
    _require_aware(at)
    if len(set(rotation.members)) < 2:
        return None
    return _next_person(rotation, at, skip=member_on_call(rotation, at))


_UNIT_MINUTES = {"w": 7 * 24 * 60, "d": 24 * 60, "h": 60, "m": 1}
_UNIT_ALIASES = {
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), "w"),
    **dict.fromkeys(("d", "day", "days"), "d"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "h"),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), "m"),
}
_DURATION_PART = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?|\.[0-9]+)\s*([a-z]+)\s*")
LONGEST_DURATION = timedelta(days=365)  # longer is a typo (or a probe), and past it dates overflow soon enough


def parse_duration(text: str) -> timedelta:
    """`4h`, `90m`, `1d`, `2h30m`, `45 min`, `1.5h` (also `w`, `hours`, `minutes`, …) as a timedelta."""
    problem = f"Can't read '{text.strip()}' as a duration; try 4h, 90m, 1d, 2h30m or 1.5h."
    lowered = text.lower()
    position, minutes = 0, 0.0
    while position < len(lowered):
        match = _DURATION_PART.match(lowered, position)
        if match is None or match.group(2) not in _UNIT_ALIASES:
            raise ValueError(problem)
        minutes += float(match.group(1)) * _UNIT_MINUTES[_UNIT_ALIASES[match.group(2)]]
        position = match.end()
    if position == 0:
        raise ValueError(problem)
    if minutes > LONGEST_DURATION.total_seconds() / 60:  # before timedelta(), which overflows on huge numbers
        shown = text.strip() if len(text.strip()) <= 24 else text.strip()[:24] + "…"
        raise ValueError(f"'{shown}' is longer than a year; give at most 365d")
    duration = timedelta(seconds=round(minutes * 60))
    if duration <= timedelta(0):
        raise ValueError(f"'{text.strip()}' is no time at all; give a duration longer than zero.")
    return duration


def format_duration(duration: timedelta) -> str:
    """`2h30m`, `1d`, `14d2h`: the short form parse_duration reads back."""
    total_minutes = int(duration.total_seconds() // 60)
    days, rest = divmod(total_minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{value}{unit}" for value, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if value]
    return "".join(parts) or "0m"


def _sorted_teams(session: Session, workspace: str | None) -> list[OncallTeam]:
    """The workspace's teams (every team when `workspace` is None) by name, case-insensitively; the first is the
    default team."""
    query = select(OncallTeam).where(scoped(OncallTeam.workspace, workspace))
    return sorted(session.scalars(query), key=lambda team: (team.name.casefold(), team.name, team.id))


def _pick_team(teams: Sequence[OncallTeam], name: str | None) -> OncallTeam:
    """The named team (case-insensitive), or the first (default) team when no name is given."""
    wanted = name.strip() if name is not None else None
    for team in teams:
        if wanted is None or team.name.casefold() == wanted.casefold():
            return team
    raise UnknownTeam(wanted, [team.name for team in teams])


def _overrides_ending_after(session: Session, team_ids: Sequence[int], at: datetime) -> list[OncallOverride]:
    query = select(OncallOverride).where(
        OncallOverride.team_id.in_(team_ids), OncallOverride.ends_at > at, OncallOverride.cancelled_at.is_(None)
    )
    return list(session.scalars(query.order_by(OncallOverride.starts_at, OncallOverride.id)))


def _covering(overrides: Sequence[OncallOverride], at: datetime) -> OncallOverride | None:
    """The latest-created override whose period contains `at`."""
    active = [o for o in overrides if o.starts_at <= at < o.ends_at]
    return max(active, key=lambda o: (o.created_at, o.id), default=None)


def _person_at(rotation: Rotation, overrides: Sequence[OncallOverride], at: datetime) -> str | None:
    cover = _covering(overrides, at)
    return cover.user_id if cover is not None else member_on_call(rotation, at)


def _handoffs_after(rotation: Rotation, at: datetime) -> Iterator[datetime]:
    index = _handoff_index(rotation, at) + 1
    while True:
        yield _handoff_at(rotation, index)
        index += 1


def _handoffs_through(rotation: Rotation, at: datetime, horizon: datetime) -> list[datetime]:
    """Handoffs after `at` up to `horizon`, then one full turn of the rotation beyond it."""
    moments: list[datetime] = []
    beyond = 0
    for moment in _handoffs_after(rotation, at):
        if moment > horizon:
            beyond += 1
            if beyond > len(rotation.members):
                break
        moments.append(moment)
    return moments


def _changes_after(rotation: Rotation, overrides: Sequence[OncallOverride], at: datetime) -> list[datetime]:
    """Every moment after `at` when the person on call could change, up to where the rotation alone decides."""
    boundaries = {moment for o in overrides for moment in (o.starts_at, o.ends_at) if moment > at}
    boundaries.update(_handoffs_through(rotation, at, max(boundaries, default=at)))
    return sorted(boundaries)


def _until(rotation: Rotation, overrides: Sequence[OncallOverride], at: datetime, user_id: str) -> datetime | None:
    """When someone other than `user_id` takes over; None when nobody ever does."""
    for moment in _changes_after(rotation, overrides, at):
        if _person_at(rotation, overrides, moment) != user_id:
            return moment
    return None


def _on_call(team: OncallTeam, overrides: Sequence[OncallOverride], at: datetime) -> OnCall | None:
    rotation = rotation_of(team)
    cover = _covering(overrides, at)
    user_id = cover.user_id if cover is not None else member_on_call(rotation, at)
    if user_id is None:
        return None
    return OnCall(
        team=team.name,
        user_id=user_id,
        via_override=cover is not None,
        until=_until(rotation, overrides, at, user_id),
        next_user_id=_next_person(rotation, at, skip=user_id),
        escalation_channel_id=team.escalation_channel_id,
    )


def who_is_on_call(
    *, session: Session, team_name: str | None = None, at: datetime, workspace: str | None = None
) -> OnCall | None:
    """Who is on call for the workspace's team (its default team when none is named; every workspace's teams when
    `workspace` is None); None when there are no teams or nobody is on call yet. UnknownTeam when a named team
    doesn't exist there."""
    _require_aware(at)
    teams = _sorted_teams(session, workspace)
    if team_name is None and not teams:
        return None
    team = _pick_team(teams, team_name)
    return _on_call(team, _overrides_ending_after(session, [team.id], at), at)


def on_call_now(*, session: Session, at: datetime, workspace: str | None = None) -> list[OnCall]:
    """Who is on call in each of the workspace's teams (every team when `workspace` is None), ordered by team name;
    teams with nobody on call yet are left out."""
    _require_aware(at)
    teams = _sorted_teams(session, workspace)
    overrides = _overrides_ending_after(session, [team.id for team in teams], at)
    entries = (_on_call(team, [o for o in overrides if o.team_id == team.id], at) for team in teams)
    return [entry for entry in entries if entry is not None]


def _check_override(user_id: str, starts_at: datetime, duration: timedelta, now: datetime) -> None:
    if not is_slack_user_id(user_id):
        raise InvalidOverride(f"'{user_id}' is not a Slack user id (U… or W…).")
    if duration < MIN_OVERRIDE:
        raise InvalidOverride("An override must last at least 1 minute.")
    if duration > MAX_OVERRIDE:
        raise InvalidOverride(
            f"An override can last at most 14 days, not {format_duration(duration)}; add another one for the rest."
        )
    ends_at = (starts_at + duration).astimezone(UTC)
    if ends_at <= now:
        raise InvalidOverride(f"That override would end at {ends_at:%Y-%m-%d %H:%M} UTC, which has already passed.")


def find_team(*, session: Session, name: str | None, workspace: str | None = None) -> OncallTeam:
    """The workspace's team by name (case-insensitive), or its default team; UnknownTeam when there is none."""
    return _pick_team(_sorted_teams(session, workspace), name)


class OverrideOverlaps(InvalidOverride):
    """One cover at a time per team: another override already covers part of the period."""

    def __init__(self, team: OncallTeam, existing: OncallOverride) -> None:
        self.existing = existing
        super().__init__(
            f"<@{existing.user_id}> already covers {quoted(team.name, 100)} until "
            f"{existing.ends_at:%Y-%m-%d %H:%M} UTC (set by <@{existing.created_by}>). "
            f"End that first: `/triage oncall cancel {quoted(team.name, 100)}`."
        )


def _overlapping(session: Session, team: OncallTeam, starts_at: datetime, ends_at: datetime) -> OncallOverride | None:
    query = select(OncallOverride).where(
        OncallOverride.team_id == team.id,
        OncallOverride.cancelled_at.is_(None),
        OncallOverride.starts_at < ends_at,
        OncallOverride.ends_at > starts_at,
    )
    return session.scalars(query.order_by(OncallOverride.starts_at, OncallOverride.id).limit(1)).first()


def add_override(
    *,
    session: Session,
    team_name: str | None,
    user_id: str,
    starts_at: datetime,
    duration: timedelta,
    created_by: str,
    now: datetime,
    workspace: str | None = None,
) -> OncallOverride:
    """Let `user_id` cover the team (the default team when none is named) from `starts_at` for `duration`.

    Overrides don't stack: OverrideOverlaps when another one already covers part of that period (cancel it first).
    """
    _require_aware(starts_at)
    _require_aware(now)
    team = find_team(session=session, name=team_name, workspace=workspace)
    _check_override(user_id, starts_at, duration, now)
    period = (starts_at.astimezone(UTC), (starts_at + duration).astimezone(UTC))
    existing = _overlapping(session, team, *period)
    if existing is not None:
        raise OverrideOverlaps(team, existing)
    override = OncallOverride(
        team_id=team.id,
        user_id=user_id,
        starts_at=period[0],
        ends_at=period[1],
        created_by=created_by,
        created_at=now,
    )
    session.add(override)
    session.flush()
    return override


def cancel_override(
    *, session: Session, team_name: str | None, cancelled_by: str, now: datetime, workspace: str | None = None
) -> OncallOverride:
    """End the team's current (or else next) override now; the row stays, marked cancelled, as a record."""
    _require_aware(now)
    team = find_team(session=session, name=team_name, workspace=workspace)
    override = _overlapping(session, team, now, datetime.max.replace(tzinfo=UTC))
    if override is None:
        raise InvalidOverride(f"Nobody covers {quoted(team.name, 100)} by an override now or later; nothing to cancel.")
    override.cancelled_by, override.cancelled_at = cancelled_by, now
    override.ends_at = max(min(override.ends_at, now), override.starts_at)
    session.flush()
    return override


@dataclass(frozen=True)
class ActiveOverride:
    """Someone covering a rotation now: instead of whom, until when, set by whom."""

    id: int
    team: str
    user_id: str
    replaces: str | None  # the member the rotation alone would have on call
    ends_at: datetime
    created_by: str


def covered_member(team: OncallTeam, at: datetime) -> str | None:
    """Who the rotation alone has on call at `at` (the person an override replaces)."""
    return member_on_call(rotation_of(team), at)


def active_overrides(*, session: Session, at: datetime, workspace: str | None = None) -> list[ActiveOverride]:
    """The overrides covering the workspace's teams at `at` (one per team: the latest created), by team name."""
    _require_aware(at)
    teams = _sorted_teams(session, workspace)
    overrides = _overrides_ending_after(session, [team.id for team in teams], at)
    found = []
    for team in teams:
        cover = _covering([o for o in overrides if o.team_id == team.id], at)
        if cover is not None:
            replaces = covered_member(team, at)
            found.append(ActiveOverride(cover.id, team.name, cover.user_id, replaces, cover.ends_at, cover.created_by))
    return found


def _set_members(team: OncallTeam, user_ids: Sequence[str]) -> None:
    """Members in the given order, reusing rows by position so the (team, position) key never clashes mid-flush."""
    for position, user_id in enumerate(user_ids):
        if position < len(team.members):
            team.members[position].user_id = user_id
        else:
            team.members.append(OncallMember(position=position, user_id=user_id))
    del team.members[len(user_ids) :]


def _apply_spec(team: OncallTeam, spec: TeamSpec) -> None:
    team.name = spec.name
    team.leads = list(spec.leads)
    team.timezone = spec.timezone
    team.handoff_time = f"{spec.handoff_time:%H:%M}"
    team.rotation_days = spec.rotation_days
    team.starts_on = spec.starts_on.isoformat()
    team.escalation_channel_id = spec.escalation_channel_id
    _set_members(team, spec.members)


def replace_teams(
    *, session: Session, teams: Sequence[TeamSpec], now: datetime, prune: bool = False, workspace: str | None = None
) -> list[OncallTeam]:
    """Create or update each of the workspace's teams by name (case-insensitive), replacing its members and keeping
    its overrides. `workspace` None: the teams of a single-workspace install (they have no workspace).

    The workspace's teams not listed are left alone, or deleted (with their overrides) when `prune` is set; other
    workspaces' teams are never touched.
    """
    duplicate = duplicate_team_name(spec.name for spec in teams)
    if duplicate is not None:
        raise InvalidTeam(f"Team '{duplicate}' is listed more than once.")
    owned = OncallTeam.workspace == workspace if workspace is not None else OncallTeam.workspace.is_(None)
    existing = {team.name.casefold(): team for team in session.scalars(select(OncallTeam).where(owned))}
    stored: list[OncallTeam] = []
    for spec in teams:
        team = existing.pop(spec.name.casefold(), None)
        if team is None:
            team = OncallTeam(created_at=now, members=[], workspace=workspace)
            session.add(team)
        _apply_spec(team, spec)
        stored.append(team)
    if prune:
        for team in existing.values():
            session.delete(team)
    session.flush()
    return stored
