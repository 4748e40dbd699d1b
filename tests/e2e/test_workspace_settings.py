"""`/triage settings`: a workspace's admins and declarers change its settings in Slack; every change is recorded
(who, when, old → new) and takes effect at once, without a restart. Signed requests, the strict emulator."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.db import unit_of_work
from bot.models import ClientChannel, Incident, SettingsChange, Timer, WorkspaceSettings
from tests.e2e.conftest import AGENT, ONCALL, SUPPORT, Stack
from tests.e2e.test_open_incident_flow import filled_form

ADMIN, ENG, CLIENT_ROOM = "UADMIN", "CENGNOTICES", "CCLIENTROOM"


def settings_modal(stack: Stack, user: str) -> dict[str, Any]:
    assert stack.platform.slash_command(user, SUPPORT, text="settings").status == 200
    modal: dict[str, Any] = stack.emulator.wait_for(lambda: stack.emulator.current_modal(user))
    return modal


def ephemeral_texts(stack: Stack, user: str) -> list[str]:
    return [f"{e.get('text')} {json.dumps(e.get('blocks'))}" for e in stack.emulator.ephemerals(user=user)]


def test_only_admins_and_declarers_may_open_the_settings_and_are_told_who_may(stack: Stack) -> None:
    assert stack.platform.slash_command(AGENT, SUPPORT, text="settings").status == 200
    refusal = stack.emulator.wait_for(
        lambda: next((t for t in ephemeral_texts(stack, AGENT) if "change settings" in t), None)
    )
    assert "Only a workspace admin may change settings" in refusal
    assert stack.emulator.current_modal(AGENT) is None


def test_an_admin_changes_settings_each_is_recorded_and_new_incidents_use_them_at_once(stack: Stack) -> None:
    stack.emulator.add_user(ADMIN, "ada", real_name="Ada Admin", is_admin=True)
    stack.emulator.add_channel("eng-notices", id=ENG, members=[ADMIN, stack.emulator.bot_user_id])
    modal = settings_modal(stack, ADMIN)
    assert modal["title"]["text"] == "Triage Bot settings"
    hints = json.dumps(modal["blocks"])
    assert "Default: SEV1=5,SEV2=15,SEV3=60,SEV4=240" in hints, "each field shows the environment's default"

    refused = stack.platform.submit_view(modal["id"], ADMIN, {"ack_windows": "SEV1=five"})
    assert refused.json()["response_action"] == "errors"
    assert set(refused.json()["errors"]) == {"ack_windows"} and "ACK_WINDOWS" in refused.json()["errors"]["ack_windows"]
    with unit_of_work(stack.services.session_factory) as session:
        assert session.scalar(select(WorkspaceSettings)) is None, "nothing is stored while a field is wrong"

    saved = stack.platform.submit_view(
        modal["id"], ADMIN, {"ack_windows": "SEV1=2,SEV2=15,SEV3=60,SEV4=240", "internal_channel_id": ENG}
    )
    assert saved.json()["response_action"] == "update"
    said = json.dumps(saved.json()["view"], ensure_ascii=False)
    assert "Acknowledgement windows (minutes): default (SEV1=5,SEV2=15,SEV3=60,SEV4=240) → SEV1=2" in said
    assert f"Internal-notice channel: default (not set) → <#{ENG}>" in said
    with unit_of_work(stack.services.session_factory) as session:
        changes = [(c.setting, c.old_value, c.new_value, c.changed_by) for c in session.scalars(select(SettingsChange))]
    assert ("ACK_WINDOWS", None, "SEV1=2,SEV2=15,SEV3=60,SEV4=240", ADMIN) in changes
    assert ("INTERNAL_CHANNEL_ID", None, ENG, ADMIN) in changes

    # A SEV1 incident opened now is re-paged after the workspace's 2 minutes, not the environment's 5.
    modal = stack.emulator.wait_for(lambda: _new_incident_form(stack))
    assert stack.platform.submit_view(modal["id"], AGENT, filled_form()).status == 200
    stack.wait_for_thread(4)
    with unit_of_work(stack.services.session_factory) as session:
        incident = session.scalars(select(Incident)).one()
        ack_timer = session.scalars(select(Timer).where(Timer.kind == "ack_escalation")).one()
        assert ack_timer.due_at - incident.opened_at == timedelta(minutes=2)


def _new_incident_form(stack: Stack) -> dict[str, Any] | None:
    if stack.emulator.current_modal(AGENT) is None:
        stack.platform.slash_command(AGENT, SUPPORT)
    return stack.emulator.current_modal(AGENT)


def test_a_client_is_mapped_to_its_own_channel_only_where_the_bot_can_post(stack: Stack) -> None:
    stack.emulator.add_user(ADMIN, "ada", is_admin=True)
    stack.emulator.add_channel("hartley-shared", id=CLIENT_ROOM, is_private=True, members=[ADMIN])
    modal = settings_modal(stack, ADMIN)
    form = {"settings_client_name": "Hartley & Moss LLP", "settings_client_tier": "premium"}
    refused = stack.platform.submit_view(modal["id"], ADMIN, {**form, "settings_client_channel": CLIENT_ROOM})
    assert "I'm not in that channel" in refused.json()["errors"]["settings_client_channel"]
    stack.emulator.add_channel(
        "hartley-shared", id=CLIENT_ROOM, is_private=True, members=[ADMIN, stack.emulator.bot_user_id]
    )
    saved = stack.platform.submit_view(modal["id"], ADMIN, {**form, "settings_client_channel": CLIENT_ROOM})
    assert f"Client Hartley &amp; Moss LLP: Premium, its channel <#{CLIENT_ROOM}>" in json.dumps(saved.json()["view"])
    with unit_of_work(stack.services.session_factory) as session:
        mapping = session.scalars(select(ClientChannel)).one()
        assert (mapping.channel_id, mapping.client.tier.value, mapping.set_by) == (CLIENT_ROOM, "premium", ADMIN)


def test_the_home_tab_offers_settings_to_admins_only(stack: Stack) -> None:
    stack.emulator.add_user(ADMIN, "ada", is_admin=True)
    for user in (ADMIN, ONCALL):
        assert stack.platform.open_home(user).status == 200
    admin_home = stack.emulator.wait_for(lambda: stack.emulator.home(ADMIN))
    member_home = stack.emulator.wait_for(lambda: stack.emulator.home(ONCALL))
    assert "home_open_settings" in json.dumps(admin_home["blocks"])
    assert "home_open_settings" not in json.dumps(member_home["blocks"])
    assert stack.platform.click_button(ADMIN, "home_open_settings", view_id=admin_home["id"]).status == 200
    modal = stack.emulator.wait_for(lambda: stack.emulator.current_modal(ADMIN))
    assert modal["title"]["text"] == "Triage Bot settings"
