"""On-call use cases behind `/triage oncall` and the CLI."""

from __future__ import annotations

import re
from pathlib import Path

from slack_sdk.models.blocks import Block, SectionBlock

from bot.blocks.oncall import oncall_blocks
from bot.blocks.text import mention, slack_time
from bot.db import unit_of_work
from bot.domain.errors import DomainError
from bot.domain.oncall import add_override, on_call_now, parse_duration, replace_teams
from bot.domain.oncall_file import load_team_specs
from bot.services.container import Services

_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$|^([UW][A-Z0-9]{2,})$")
OVERRIDE_USAGE = "Usage: `/triage oncall override @user 4h [team]`"


def oncall_now_blocks(services: Services) -> list[Block]:
    with unit_of_work(services.session_factory) as session:
        oncalls = on_call_now(session=session, at=services.clock.now())
    return oncall_blocks(oncalls, services.settings.oncall_slack_id, services.settings.display_zone)


def cover_oncall(services: Services, args: str, requested_by: str) -> list[Block]:
    """`override <@U…> 4h [team]`: someone covers a rotation from now for that long."""
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
    team = words[3] if len(words) == 4 else None
    now = services.clock.now()
    with unit_of_work(services.session_factory) as session:
        override = add_override(
            session=session,
            team_name=team,
            user_id=user_id,
            starts_at=now,
            duration=duration,
            created_by=requested_by,
            now=now,
        )
        until = slack_time(override.ends_at, services.settings.display_zone)
    return [SectionBlock(text=f"✅ {mention(user_id)} is on call until {until} (set by {mention(requested_by)}).")]


def load_rotations(services: Services, path: Path, *, prune: bool) -> list[str]:
    """Teams from a YAML/TOML file, upserted; returns their names."""
    specs = load_team_specs(path)
    with unit_of_work(services.session_factory) as session:
        teams = replace_teams(session=session, teams=specs, now=services.clock.now(), prune=prune)
        return [t.name for t in teams]
