"""Finding 3: on-call pages can only be redirected by the people of that rotation (its members and leads,
declarers and admins), one override at a time, announced where the team escalates and cancellable; and each
workspace's rotations page only that workspace's incidents."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli import app
from bot.db import unit_of_work
from bot.domain.oncall import TeamSpec, replace_teams
from bot.models import Incident, OncallOverride
from bot.scheduler import tick
from tests.conftest import T0
from tests.e2e.conftest import AGENT, ONCALL, SUPPORT, Stack
from tests.e2e.hostile import settle
from tests.e2e.test_triage_workflow import ephemerals_for, open_incident, wait_for_reply
from tests.e2e.test_workspaces import ALPHA, BRAVO, Distribution

BACKUP, TEAMLEAD, MEMBER, GUEST = "U0BACKUP", "U0TEAMLEAD", "U0MEMBER", "U0GUEST"
ESCALATIONS = "C0ESCALATE"
ROTATION = TeamSpec(
    name="platform",
    members=(ONCALL, BACKUP),
    leads=(TEAMLEAD,),
    timezone="UTC",
    starts_on=date(2026, 11, 30),  # ONCALL's week from T0
    escalation_channel_id=ESCALATIONS,
)


def rotation(stack: Stack, spec: TeamSpec = ROTATION) -> None:
    for user, name in ((BACKUP, "backup"), (TEAMLEAD, "teamlead"), (MEMBER, "member")):
        stack.emulator.add_user(user, name)
    stack.emulator.add_user(GUEST, "guest", guest="multi")
    stack.emulator.add_channel("escalations", id=ESCALATIONS, members=[stack.emulator.bot_user_id])
    with unit_of_work(stack.services.session_factory) as session:
        replace_teams(session=session, teams=[spec], now=T0)


def ask(stack: Stack, user: str, text: str) -> str:
    before = len(ephemerals_for(stack, user))
    assert stack.platform.slash_command(user, SUPPORT, text=text).status == 200
    answer: str = stack.emulator.wait_for(
        lambda: ephemerals_for(stack, user)[before:] and ephemerals_for(stack, user)[-1]
    )
    return answer


def overrides(stack: Stack) -> list[tuple[str, str | None]]:
    with unit_of_work(stack.services.session_factory) as session:
        return [
            (o.user_id, o.cancelled_by) for o in session.scalars(select(OncallOverride).order_by(OncallOverride.id))
        ]


def posted(stack: Stack, channel: str) -> list[str]:
    return [str(m["text"]) for m in stack.emulator.messages(channel)]


def test_an_ordinary_member_cannot_redirect_the_pages(stack: Stack) -> None:
    rotation(stack)
    refusal = ask(stack, MEMBER, f"oncall override <@{MEMBER}|me> 14d platform")
    assert "Only the members and leads of the platform rotation or a workspace admin may override on-call" in refusal
    refused_cancel = ask(stack, MEMBER, "oncall cancel platform")
    assert "may override on-call for the platform rotation" in refused_cancel
    settle(stack)
    assert overrides(stack) == [] and posted(stack, ESCALATIONS) == []
    _, ts = open_incident(stack)
    assert f"<@{ONCALL}> you are on call for *INC-1*" in wait_for_reply(stack, ts, "you are on call")


def test_an_override_is_announced_shown_not_stacked_and_cancellable(stack: Stack) -> None:
    rotation(stack)
    done = ask(stack, ONCALL, f"oncall override <@{BACKUP}|backup> 4h platform")  # a member of the rotation
    assert f"<@{BACKUP}> is on call until" in done and f"Posted in <#{ESCALATIONS}>." in done
    notice = stack.wait_while_scheduling(lambda: posted(stack, ESCALATIONS))
    assert notice[0].startswith(f"🔁 <@{BACKUP}> is on call for *platform* instead of <@{ONCALL}> until")
    assert f"(override set by <@{ONCALL}>)" in notice[0]
    shown = ask(stack, AGENT, "oncall")
    assert f"*platform*: <@{BACKUP}> covers for <@{ONCALL}> until" in shown and f"(set by <@{ONCALL}>)" in shown

    stacked = ask(stack, TEAMLEAD, f"oncall override <@{TEAMLEAD}> 1h platform")
    assert f"<@{BACKUP}> already covers platform until" in stacked and "`/triage oncall cancel platform`" in stacked
    assert overrides(stack) == [(BACKUP, None)]

    ended = ask(stack, TEAMLEAD, "oncall cancel platform")  # a lead of the team
    assert f"Ended <@{BACKUP}>'s override." in ended
    assert stack.wait_while_scheduling(lambda: len(posted(stack, ESCALATIONS)) == 2)
    assert posted(stack, ESCALATIONS)[1] == (
        f"↩️ <@{TEAMLEAD}> ended <@{BACKUP}>'s override of *platform*. <@{ONCALL}> is on call again."
    )
    assert overrides(stack) == [(BACKUP, TEAMLEAD)]
    assert "Active overrides" not in ask(stack, AGENT, "oncall")
    _, ts = open_incident(stack)
    assert f"<@{ONCALL}> you are on call for *INC-1*" in wait_for_reply(stack, ts, "you are on call")


def test_without_an_escalation_channel_the_person_replaced_is_told_directly(stack: Stack) -> None:
    rotation(stack, TeamSpec(**{**ROTATION.__dict__, "escalation_channel_id": None}))
    done = ask(stack, TEAMLEAD, f"oncall override <@{BACKUP}> 2h")
    assert f"<@{ONCALL}> is told by direct message." in done
    direct = stack.wait_while_scheduling(lambda: posted(stack, stack.emulator.dm_channel(ONCALL)))
    assert direct[0].startswith(f"🔁 <@{BACKUP}> is on call for *platform* instead of <@{ONCALL}>")


def test_only_a_full_member_of_the_workspace_can_cover(stack: Stack) -> None:
    rotation(stack)
    refusal = ask(stack, ONCALL, f"oncall override <@{GUEST}> 4h platform")
    assert "That person isn't a full member of this workspace, so can't cover a rotation here." in refusal
    settle(stack)
    assert overrides(stack) == [] and posted(stack, ESCALATIONS) == []


ALPHA_SECOND, BRAVO_SECOND = "U0ALPHATWO", "U0BRAVOTWO"
ROTATIONS_FILE = """
teams:
  - name: platform
    timezone: UTC
    starts_on: 2026-11-30
    members: [{first}, {second}]
    leads: [{lead}]
"""


def test_rotations_and_their_overrides_stay_in_their_workspace(
    distribution: Distribution, database_url: str, tmp_path: Path
) -> None:
    for team in (ALPHA, BRAVO):
        distribution.install(team)
    distribution.workspaces[ALPHA].emulator.add_user(ALPHA_SECOND, "alpha-two")
    distribution.workspaces[BRAVO].emulator.add_user(BRAVO_SECOND, "bravo-two")
    for team, second in ((ALPHA, ALPHA_SECOND), (BRAVO, BRAVO_SECOND)):
        teams_file = tmp_path / f"{team}.yaml"
        teams_file.write_text(ROTATIONS_FILE.format(first=ONCALL, second=second, lead=AGENT), encoding="utf-8")
        loaded = CliRunner().invoke(
            app,
            ["oncall", "load", str(teams_file), "--team", team],
            env={"DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"},
        )
        assert loaded.exit_code == 0 and f"Loaded 1 team(s) for workspace {team}: platform" in loaded.output

    # A member of BRAVO's rotation covers BRAVO's "platform" with someone of BRAVO…
    done = distribution.ask(BRAVO, f"oncall override <@{BRAVO_SECOND}> 14d platform")
    assert f"<@{BRAVO_SECOND}> is on call until" in done
    # …which neither shows nor pages in ALPHA, whose own "platform" is untouched.
    assert "Active overrides" not in distribution.ask(ALPHA, "oncall")
    assert BRAVO_SECOND not in distribution.ask(ALPHA, "oncall")
    refused = distribution.ask(ALPHA, f"oncall override <@{BRAVO_SECOND}> 14d platform")
    assert "That person isn't a full member of this workspace" in refused, "BRAVO's people can't cover in ALPHA"
    alpha_ts = distribution.open_incident(ALPHA, "Alpha Legal")
    bravo_ts = distribution.open_incident(BRAVO, "Bravo Partners")
    alpha_thread = json.dumps(distribution.workspaces[ALPHA].thread(alpha_ts))
    assert f"<@{ONCALL}> you are on call" in alpha_thread and BRAVO_SECOND not in alpha_thread
    assert f"<@{BRAVO_SECOND}> you are on call" in json.dumps(distribution.workspaces[BRAVO].thread(bravo_ts))

    # The escalation one window later pages the next person of the incident's own workspace's rotation.
    distribution.clock.advance(timedelta(minutes=11))
    for _ in range(2):
        tick(distribution.services)
        distribution.services.background.drain(timeout=10)
        distribution.clock.advance(timedelta(minutes=6))
    alpha = distribution.workspaces[ALPHA]
    page = alpha.emulator.wait_for(lambda: [t for t in alpha.thread(alpha_ts) if "has not been acknowledged" in t])
    assert any(f"<@{ALPHA_SECOND}>" in t for t in page) and not any(BRAVO_SECOND in t for t in page)
    with unit_of_work(distribution.services.session_factory) as session:
        assert session.scalar(select(func.count()).select_from(OncallOverride)) == 1
        teams = {i.team_id: (i.oncall_id, i.oncall_team) for i in session.scalars(select(Incident)).unique()}
    assert teams == {ALPHA: (ONCALL, "platform"), BRAVO: (BRAVO_SECOND, "platform")}
