"""On-call use cases behind `/triage oncall` and the CLI: rotations and overrides, each workspace's own."""

from __future__ import annotations

import re
from pathlib import Path

from slack_sdk.models.blocks import Block, SectionBlock
from sqlalchemy.orm import Session

from blocks.budget import page_number
from blocks.incident import Message
from blocks.oncall import (
    ONCALL_COMMAND,
    SourceStatus,
    oncall_blocks,
    override_cancelled_notice,
    override_set_notice,
)
from blocks.text import mention, slack_time
from bot.db import unit_of_work
from bot.domain.errors import DomainError
from bot.domain.oncall import (
    active_overrides,
    add_override,
    cancel_override,
    covered_member,
    find_team,
    on_call_now,
    parse_duration,
    replace_teams,
)
from bot.domain.oncall_file import load_team_specs
from bot.domain.oncall_sources import OnCallSource, SourceKind
from bot.integrations.outbox import enqueue_slack_call
from bot.integrations.slack import SlackCallError
from bot.models import OncallOverride, OncallTeam
from bot.services.container import Services
from bot.services.oncall_sources import configured_source
from bot.services.roles import actor_of, allow_on_rotation, is_member, person

_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$|^([UW][A-Z0-9]{2,})$")
OVERRIDE_USAGE = "Usage: `/triage oncall override @user 4h [team]` or `/triage oncall cancel [team]`"


def oncall_now_blocks(services: Services, page: int = 1) -> list[Block]:
    """`/triage oncall [page]`: who is on call in each of the workspace's teams, and the overrides in force."""
    now = services.clock.now()
    with unit_of_work(services.session_factory) as session:
        oncalls = on_call_now(session=session, at=now, workspace=services.workspace)
        overrides = active_overrides(session=session, at=now, workspace=services.workspace)
    settings = services.settings
    source = source_status(services)
    return oncall_blocks(oncalls, overrides, settings.oncall_slack_id, settings.display_zone, page=page, source=source)


def source_status(services: Services) -> SourceStatus | None:
    """`ONCALL_SOURCE` and who it names now: the last answer of an outside service (a fresh read is asked for,
    after this answer), or a user group's members."""
    source = configured_source(services.settings)
    if source is None:
        return None
    if source.kind == SourceKind.USERGROUP:
        try:
            members = services.people.group_members(services.workspace_slack, services.workspace, source.reference)
        except SlackCallError:
            members = frozenset()
        return SourceStatus(source, group_members=tuple(sorted(members)))
    if not source.external or services.oncall_directory is None:
        return SourceStatus(source)
    read_soon(services, source)
    return SourceStatus(source, answer=services.oncall_directory.known(services.workspace, source))


def oncall_command(services: Services, args: str, requested_by: str) -> list[Block]:
    """`/triage oncall [page]`, `/triage oncall override …` or `/triage oncall cancel [team]`."""
    if not args.strip() or args.strip().isdecimal():
        return oncall_now_blocks(services, page_number(args, ONCALL_COMMAND))
    return change_oncall(services, args, requested_by)


def change_oncall(services: Services, args: str, requested_by: str) -> list[Block]:
    """`/triage oncall override …` or `/triage oncall cancel [team]`."""
    verb = args.split(maxsplit=1)[0].lower()
    if verb == "override":
        return cover_oncall(services, args, requested_by)
    if verb == "cancel":
        return end_cover(services, args, requested_by)
    raise DomainError(OVERRIDE_USAGE)


def cover_oncall(services: Services, args: str, requested_by: str) -> list[Block]:
    """`override <@U…> 4h [team]`: someone covers a rotation from now for that long.

    Allowed for the rotation's members and leads, declarers and admins; refused while another override covers the
    team (one at a time). The team's escalation channel (or the person replaced) is told, through the outbox.
    """
    words = args.split()
    if len(words) not in (3, 4) or words[0].lower() != "override":
        raise DomainError(OVERRIDE_USAGE)
    match = _USER.match(words[1])
    if match is None:
        raise DomainError(f"`{words[1][:40]}` is not a Slack user. {OVERRIDE_USAGE}")
    user_id = match.group(1) or match.group(2)
    try:
        duration = parse_duration(words[2])
    except ValueError as exc:
        raise DomainError(f"{exc}. {OVERRIDE_USAGE}") from None
    actor = actor_of(services, requested_by)
    if not is_member(services, person(services, user_id)):
        raise DomainError("That person isn't a full member of this workspace, so can't cover a rotation here.")
    now, zone = services.clock.now(), services.settings.display_zone
    with unit_of_work(services.session_factory) as session:
        team = find_team(session=session, name=words[3] if len(words) == 4 else None, workspace=services.workspace)
        allow_on_rotation(services, actor, team.name, (m.user_id for m in team.members), team.leads)
        replaces = covered_member(team, now)
        override = add_override(
            session=session,
            team_name=team.name,
            user_id=user_id,
            starts_at=now,
            duration=duration,
            created_by=requested_by,
            now=now,
            workspace=services.workspace,
        )
        notice = override_set_notice(
            team=team.name,
            cover_id=user_id,
            replaces=replaces,
            ends_at=override.ends_at,
            set_by=requested_by,
            zone=zone,
        )
        told = _tell(services, session, team, override, notice, replaces, "set")
        until = slack_time(override.ends_at, zone)
    _deliver_soon(services)
    return [
        SectionBlock(text=f"✅ {mention(user_id)} is on call until {until} (set by {mention(requested_by)}). {told}")
    ]


def end_cover(services: Services, args: str, requested_by: str) -> list[Block]:
    """`cancel [team]`: end the team's override now; the same people may as may set one, and the same place is told."""
    words = args.split()
    if len(words) not in (1, 2):
        raise DomainError(OVERRIDE_USAGE)
    actor = actor_of(services, requested_by)
    now = services.clock.now()
    with unit_of_work(services.session_factory) as session:
        team = find_team(session=session, name=words[1] if len(words) == 2 else None, workspace=services.workspace)
        allow_on_rotation(services, actor, team.name, (m.user_id for m in team.members), team.leads)
        override = cancel_override(
            session=session, team_name=team.name, cancelled_by=requested_by, now=now, workspace=services.workspace
        )
        back_to = covered_member(team, now)
        notice = override_cancelled_notice(
            team=team.name, cover_id=override.user_id, back_to=back_to, cancelled_by=requested_by
        )
        told = _tell(services, session, team, override, notice, back_to, "cancelled")
        cover_id = override.user_id
    _deliver_soon(services)
    return [SectionBlock(text=f"✅ Ended {mention(cover_id)}'s override. {told}")]


def _tell(
    services: Services,
    session: Session,
    team: OncallTeam,
    override: OncallOverride,
    notice: Message,
    person_replaced: str | None,
    what: str,
) -> str:
    """Queue the notice in the team's escalation channel (else ESCALATION_CHANNEL_ID, else a DM to the person
    replaced); the sentence saying where it went."""
    channel = team.escalation_channel_id or services.settings.escalation_channel_id
    target = channel or person_replaced
    if target is None:
        return "Nobody else was told: the team has no escalation channel and nobody is replaced."
    enqueue_slack_call(
        session=session,
        key=f"oncall-override:{override.id}:{what}",
        operation="chat.postMessage",
        args={"channel": target, **notice.as_args()},
        purpose=f"oncall_override_{what}",
        now=services.clock.now(),
        workspace=services.workspace,
    )
    return f"Posted in <#{channel}>." if channel else f"{mention(target)} is told by direct message."


def _deliver_soon(services: Services) -> None:
    """Send the notice after the answer, off the request's thread; a failure stays queued for the scheduler."""
    services.background.submit_once(("deliver", "oncall"), lambda: services.outbox.deliver_due(limit=20))


def load_rotations(services: Services, path: Path, *, prune: bool, workspace: str | None = None) -> list[str]:
    """Teams from a YAML/TOML file, upserted into `workspace` (None: a single-workspace install); their names."""
    specs = load_team_specs(path)
    with unit_of_work(services.session_factory) as session:
        teams = replace_teams(session=session, teams=specs, now=services.clock.now(), prune=prune, workspace=workspace)
        return [t.name for t in teams]


def read_soon(services: Services, source: OnCallSource, workspace: str | None = None) -> None:
    """Read an outside on-call source after the acknowledgement when its answer is a minute old (or missing)."""
    directory = services.oncall_directory
    scope = workspace if workspace is not None else services.workspace
    if directory is None or not source.external or not directory.needs_reading(scope, source):
        return
    slack = services.workspaces.gateway(scope)
    services.background.submit_once(("oncall-source", scope, str(source)), lambda: directory.read(slack, scope, source))


def refresh_oncall_sources(services: Services) -> None:
    """From the scheduler's tick: keep the configured outside source's answer at most a minute old."""
    source = configured_source(services.settings)
    if source is not None:
        read_soon(services, source, workspace=services.workspace)
