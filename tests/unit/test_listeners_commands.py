"""Unit tests of `/triage` (bot/listeners/commands.py), with a mocked ack, client and respond and patched use cases:
every subcommand is acknowledged within Slack's 3 s with its answer (only the asker sees it), or opens its form."""

from __future__ import annotations

from unittest.mock import Mock, patch

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import SectionBlock
from slack_sdk.models.views import View
from sqlalchemy.exc import OperationalError

from blocks.incident import Message
from bot.domain.channels import ChannelReach
from bot.domain.errors import DomainError
from bot.domain.permissions import Action
from bot.listeners import commands
from bot.listeners.acknowledgement import ON_REQUEST_THREAD, answer_after_ack
from bot.listeners.errors import DATABASE_UNREACHABLE
from bot.listeners.verification import VERIFIED
from bot.observability.context import request_scope
from tests.unit.listener_kit import CHANNEL, INCIDENT_ID, TEAM, TRIGGER, USER, Call, Recorder

LIST = [SectionBlock(text="*Open incidents*")]


@pytest.fixture
def call() -> Call:
    return Call()


def triage(call: Call, text: str) -> None:
    command = {
        "command": "/triage",
        "text": text,
        "team_id": TEAM,
        "user_id": USER,
        "channel_id": CHANNEL,
        "trigger_id": TRIGGER,
    }
    call.run(commands.handle_triage, command=command)


def test_triage_alone_opens_the_new_incident_form(call: Call) -> None:
    with patch.object(commands, "reach_for_form", autospec=True, return_value=ChannelReach.POSTABLE) as reach:
        triage(call, "")
    call.ack.assert_called_once_with()
    call.services.background.answer.assert_called_once()  # the form opens on the answer threads
    reach.assert_called_once_with(call.services, CHANNEL)
    opened = call.client.views_open.call_args.kwargs
    assert opened["trigger_id"] == TRIGGER
    assert "post_in" not in {b.get("block_id") for b in opened["view"]["blocks"]}


def test_the_form_asks_where_to_post_when_the_bot_cannot_post_here(call: Call) -> None:
    with patch.object(commands, "reach_for_form", autospec=True, return_value=ChannelReach.NOT_A_MEMBER):
        triage(call, "")
    assert "post_in" in {b.get("block_id") for b in call.client.views_open.call_args.kwargs["view"]["blocks"]}


def test_a_form_slack_would_not_open_is_explained(call: Call) -> None:
    call.client.views_open.side_effect = SlackApiError("expired", {"ok": False, "error": "expired_trigger_id"})
    with patch.object(commands, "reach_for_form", autospec=True, return_value=ChannelReach.POSTABLE):
        triage(call, "")
    assert "expired_trigger_id" in call.respond.call_args.kwargs["text"]


def test_the_form_acknowledged_first_tells_of_a_database_outage(call: Call) -> None:
    outage = OperationalError("SELECT", {}, Exception("connection refused"))
    with patch.object(commands, "reach_for_form", autospec=True, side_effect=outage):
        triage(call, "")
    call.ack.assert_called_once_with()
    call.client.views_open.assert_not_called()
    assert call.respond.call_args.kwargs["text"] == DATABASE_UNREACHABLE


def test_a_subcommand_is_checked_then_answered_only_to_the_asker(call: Call) -> None:
    with (
        patch.object(commands, "permitted", autospec=True) as permitted,
        patch.object(commands, "open_incidents_blocks", autospec=True, return_value=LIST) as listing,
    ):
        triage(call, "list 2")
    permitted.assert_called_once_with(call.services, Action.VIEW, USER)
    listing.assert_called_once_with(call.services, "2")
    call.ack.assert_called_once_with(text="/triage list", blocks=LIST)


def test_help_needs_no_permission(call: Call) -> None:
    with patch.object(commands, "permitted", autospec=True) as permitted:
        triage(call, "help")
    permitted.assert_not_called()
    assert call.ack.call_args.kwargs["text"] == "/triage help"
    assert call.ack.call_args.kwargs["blocks"]


@pytest.mark.parametrize(
    ("error", "told"),
    [
        (DomainError("Only support members may use /triage."), "Only support members may use /triage."),
        (OperationalError("SELECT", {}, Exception("down")), DATABASE_UNREACHABLE),
    ],
)
def test_a_refused_or_unanswerable_subcommand_is_told(call: Call, error: Exception, told: str) -> None:
    with patch.object(commands, "permitted", autospec=True, side_effect=error):
        triage(call, "list")
    call.ack.assert_called_once_with(text=told)


def test_an_unknown_subcommand_points_at_help(call: Call) -> None:
    triage(call, "frobnicate now")
    call.ack.assert_called_once_with(text="I don't know `frobnicate`. Try `/triage help`.")


def test_a_long_answer_goes_on_after_the_acknowledgement(call: Call) -> None:
    pages = [Message(text=f"page {n}", blocks=[SectionBlock(text=f"page {n}")]) for n in (1, 2, 3)]
    with (
        patch.object(commands, "permitted", autospec=True),
        patch.object(commands, "summary_for_command", autospec=True, return_value=pages) as summary,
    ):
        triage(call, "summary INC-7")
    summary.assert_called_with(call.services, "INC-7")
    assert call.ack.call_args.kwargs["text"] == "/triage summary"
    assert [c.kwargs["text"] for c in call.respond.call_args_list] == ["page 2", "page 3"]


def test_declare_opens_the_form_the_service_gives(call: Call) -> None:
    form = View(type="modal", callback_id="incident_declare_modal", title="Declare", blocks=[])
    with patch.object(commands, "declare_form", autospec=True, return_value=form) as declare_form:
        triage(call, "declare INC-7")
    declare_form.assert_called_once_with(call.services, INCIDENT_ID, USER)
    call.ack.assert_called_once_with()
    call.client.views_open.assert_called_once_with(trigger_id=TRIGGER, view=form)


def test_declare_opens_its_form_after_the_ack_and_explains_a_refused_one(call: Call) -> None:
    form = View(type="modal", callback_id="incident_declare_modal", title="Declare", blocks=[])
    call.client.views_open.side_effect = SlackApiError("expired", {"ok": False, "error": "expired_trigger_id"})
    with patch.object(commands, "declare_form", autospec=True, return_value=form):
        triage(call, "declare INC-7")
    call.services.background.answer.assert_called_once()  # on the answer threads, after the ack
    call.ack.assert_called_once_with()
    told = call.respond.call_args.kwargs["text"]
    assert "expired_trigger_id" in told and "`/triage declare INC-7`" in told


def test_work_after_the_ack_that_fails_unexpectedly_is_told_with_a_reference(call: Call) -> None:
    context = call.context
    context[VERIFIED] = True  # Bolt's signature check let the request through
    failing = RuntimeError("a bug after the ack")
    with request_scope() as scope:
        answer_after_ack(
            context, call.respond, {"response_url": "https://hooks.slack.com/x"}, Mock(side_effect=failing)
        )
    told = call.respond.call_args.kwargs["text"]
    assert f"ref `{scope.correlation_id}`" in told and "Nothing you entered was lost" in told


@pytest.mark.parametrize("text", ["declare", "declare yesterday"])
def test_declare_without_an_incident_shows_the_usage(call: Call, text: str) -> None:
    with patch.object(commands, "declare_form", autospec=True) as declare_form:
        triage(call, text)
    declare_form.assert_not_called()
    call.ack.assert_called_once_with(text="Usage: `/triage declare INC-7`")


def test_declare_refused_is_told_before_any_form(call: Call) -> None:
    refusal = DomainError("INC-7 is already a major incident: <#CINC7>.")
    with patch.object(commands, "declare_form", autospec=True, side_effect=refusal):
        triage(call, "declare INC-7")
    call.ack.assert_called_once_with(text=str(refusal))
    call.client.views_open.assert_not_called()


def test_settings_is_its_own_listener(call: Call) -> None:
    with patch.object(commands, "handle_settings_command", autospec=True) as settings:
        triage(call, "settings")
    assert settings.call_args.args[0] is call.ack
    assert settings.call_args.args[1]["text"] == "settings"


def test_triage_is_wired() -> None:
    app = Recorder()
    commands.register(app)  # type: ignore[arg-type]
    assert set(app.wired["command"]) == {"/triage"}
    assert app.middleware["/triage"] == [ON_REQUEST_THREAD]  # every branch hands off what follows its ack
