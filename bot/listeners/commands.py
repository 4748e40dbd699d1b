"""`/triage` and its subcommands."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block, SectionBlock
from slack_sdk.models.views import View
from sqlalchemy.exc import SQLAlchemyError

from blocks.lists import help_blocks
from blocks.new_incident import new_incident_modal
from blocks.text import escape_mrkdwn
from bot.domain.errors import DomainError
from bot.domain.incidents import parse_incident_key
from bot.domain.permissions import Action
from bot.listeners.acknowledgement import ON_REQUEST_THREAD, answer_after_ack
from bot.listeners.errors import DATABASE_UNREACHABLE
from bot.listeners.middleware import services_of
from bot.listeners.replays import request_key
from bot.listeners.settings import handle_settings_command
from bot.services.channels import reach_for_form
from bot.services.container import Services
from bot.services.forms import declare_form
from bot.services.incidents import incident_card_blocks, open_incidents_blocks
from bot.services.oncall import oncall_command
from bot.services.records import (
    audit_page,
    correct_entry,
    deliver_correction_notice,
    private_report,
    report_request,
    summary_for_command,
)
from bot.services.roles import permitted
from bot.services.workarounds import workarounds_blocks

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommandRequest:
    """What a subcommand gets: the text after its name, who asked, and the command's identity (`request_key`)."""

    args: str
    user_id: str
    channel_id: str = ""
    request_key: str | None = None


@dataclass(frozen=True)
class Subcommand:
    """`answer` is acknowledged at once (only the asker sees it); `after_ack` runs after, for slower work."""

    usage: str
    description: str
    answer: Callable[[Services, CommandRequest], list[Block]]
    after_ack: Callable[[Services, CommandRequest, Respond], None] | None = None


# Subcommands that open a form instead of answering with a message.
FORM_SUBCOMMANDS = {
    "": ("", "open a new incident (a form opens)"),
    "declare": ("declare INC-7", "start incident management: own channel, incident lead, pinned brief"),
}


def _help(_services: Services, _request: CommandRequest) -> list[Block]:
    usages = [FORM_SUBCOMMANDS[""]] + [(s.usage, s.description) for s in SUBCOMMANDS.values()]
    return help_blocks([*usages, FORM_SUBCOMMANDS["declare"]])


def _summary(services: Services, request: CommandRequest) -> list[Block]:
    return list(summary_for_command(services, request.args)[0].blocks)


def _rest_of_summary(services: Services, request: CommandRequest, respond: Respond) -> None:
    """The timeline pages after the first message: as many as one response_url takes (the last says what's left)."""
    for message in summary_for_command(services, request.args)[1:]:
        respond(text=message.text, blocks=[b.to_dict() for b in message.blocks], response_type="ephemeral")


def _report_ack(_services: Services, request: CommandRequest) -> list[Block]:
    wanted = report_request(request.args, request.channel_id)
    return [SectionBlock(text=f"📊 Building the report for the last {wanted.days} days; only you will see it.")]


def _private_report(services: Services, request: CommandRequest, respond: Respond) -> None:
    """The report goes only to the person who asked; posting it in the channel is a button for those allowed."""
    days = report_request(request.args, request.channel_id).days
    try:
        messages = private_report(services, days, request.user_id)
    except DomainError as exc:
        respond(text=str(exc), response_type="ephemeral", replace_original=False)
        return
    for message in messages:
        respond(text=message.text, blocks=[b.to_dict() for b in message.blocks], response_type="ephemeral")


def _oncall(services: Services, request: CommandRequest) -> list[Block]:
    return oncall_command(services, request.args, request.user_id)


SUBCOMMANDS: dict[str, Subcommand] = {
    "help": Subcommand("help", "list these subcommands", _help),
    "list": Subcommand(
        "list [page]",
        "open incidents, nearest deadline first (only you see it)",
        lambda s, r: open_incidents_blocks(s, r.args),
    ),
    "show": Subcommand(
        "show INC-7",
        "one incident: status, deadline, owner and its latest audit trail",
        lambda s, r: incident_card_blocks(s, r.args),
    ),
    "workarounds": Subcommand(
        "workarounds [page]",
        "active workarounds and their next check-ins, across incidents",
        lambda s, r: workarounds_blocks(s, r.args),
    ),
    "oncall": Subcommand(
        "oncall [page | override @user 4h [team] | cancel [team]]",
        "who is on call now for each team, and overrides; let someone cover a rotation for a while, or end that",
        _oncall,
    ),
    "summary": Subcommand(
        "summary INC-7 [page]",
        "the one-page summary: what happened, timeline, root cause, resolution, follow-ups, times "
        "(`page`: the timeline from that page)",
        _summary,
        _rest_of_summary,
    ),
    "audit": Subcommand(
        "audit INC-7 [page]",
        "the complete audit trail, page by page (every step, hypothesis, escalation and check-in)",
        lambda s, r: list(audit_page(s, r.args).blocks),
    ),
    "correct": Subcommand(
        "correct INC-7 9 what it should say",
        "correct audit entry #9: the trail is append-only, so the correction is a new entry pointing at it",
        lambda s, r: [SectionBlock(text=escape_mrkdwn(correct_entry(s, r.args, r.user_id, once=r.request_key)))],
        lambda s, r, _respond: deliver_correction_notice(s, r.args),
    ),
    "settings": Subcommand(
        "settings",
        "this workspace's channels, on-call source, product areas, declarers, windows, Jira and clients "
        "(admins and declarers)",
        lambda _s, _r: [],
    ),
    "report": Subcommand(
        "report [30d]",
        "key learnings & patterns over a period, only for you (admins and declarers may post it in the channel)",
        _report_ack,
        _private_report,
    ),
}


def handle_triage(ack: Ack, command: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext) -> None:
    name, _, args = (command.get("text") or "").strip().partition(" ")
    if not name:
        ack()  # at once: the form needs nothing read first, and opens after the response (`answer_after_ack`)
        trigger_id, channel_id = command["trigger_id"], command["channel_id"]
        answer_after_ack(
            context,
            respond,
            command,
            lambda: open_form_after_ack(context, client, respond, trigger_id=trigger_id, channel_id=channel_id),
        )
        return
    services = services_of(context)
    if name.lower() == "declare":
        open_declare_modal(ack, context, client, respond, command, args.strip())
        return
    if name.lower() == "settings":
        handle_settings_command(ack, command, client, context)
        return
    subcommand = SUBCOMMANDS.get(name.lower())
    if subcommand is None:
        ack(text=f"I don't know `{escape_mrkdwn(name[:40])}`. Try `/triage help`.")
        return
    request = CommandRequest(
        args=args.strip(),
        user_id=command["user_id"],
        channel_id=command.get("channel_id", ""),
        request_key=request_key(command),
    )
    try:
        if subcommand is not SUBCOMMANDS["help"]:
            permitted(services, Action.VIEW, request.user_id)
        blocks = subcommand.answer(services, request)
    except DomainError as exc:
        ack(text=str(exc))
        return
    except SQLAlchemyError:
        logger.exception("/triage %s could not be answered: database error", name)
        ack(text=DATABASE_UNREACHABLE)
        return
    ack(text=f"/triage {name}", blocks=blocks)
    after_ack = subcommand.after_ack
    if after_ack is not None:
        answer_after_ack(context, respond, command, lambda: after_ack(services, request, respond))


def open_declare_modal(
    ack: Ack, context: BoltContext, client: WebClient, respond: Respond, command: dict[str, Any], reference: str
) -> None:
    """`/triage declare INC-7`: refused at once (ephemeral) unless the person may declare it."""
    try:
        incident_id = parse_incident_key(reference)
        if incident_id is None:
            raise DomainError("Usage: `/triage declare INC-7`")
        view = declare_form(services_of(context), incident_id, command["user_id"])
    except DomainError as exc:
        ack(text=str(exc))
        return
    ack()
    trigger_id, again = command["trigger_id"], f"`/triage declare INC-{incident_id}`"
    answer_after_ack(context, respond, command, lambda: open_form(client, respond, trigger_id, view, again=again))


def open_form(client: WebClient, respond: Respond, trigger_id: str, view: View | dict[str, Any], *, again: str) -> None:
    """Open a form after the acknowledgement; one Slack refuses is explained to the person (only they see it)."""
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as exc:
        error = exc.response.get("error")
        logger.warning("views.open failed: %s", error)
        respond(text=f"I couldn't open the form ({error}). Please type {again} again.")


def open_form_after_ack(
    context: BoltContext, client: WebClient, respond: Respond, *, trigger_id: str, channel_id: str
) -> None:
    """The new-incident form, once Slack has its acknowledgement; a database outage is told to the person."""
    try:
        open_new_incident_modal(services_of(context), client, respond, trigger_id=trigger_id, channel_id=channel_id)
    except SQLAlchemyError:  # the workspace's settings or installation could not be read
        logger.exception("/triage could not open the form: database error")
        respond(text=DATABASE_UNREACHABLE, response_type="ephemeral", replace_original=False)


def open_new_incident_modal(
    services: Services, client: WebClient, respond: Respond, *, trigger_id: str, channel_id: str
) -> None:
    """The form, asking up front for a channel to post in when the bot can't post where /triage was typed."""
    reach = reach_for_form(services, channel_id)
    view = new_incident_modal(channel_id=channel_id, unreachable=None if reach.usable else reach)
    open_form(client, respond, trigger_id, view, again="`/triage`")


def register(app: App) -> None:
    # On the request's thread: every branch acknowledges, then hands what follows to `answer_after_ack`.
    app.command("/triage", middleware=[ON_REQUEST_THREAD])(handle_triage)
