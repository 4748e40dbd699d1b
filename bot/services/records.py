"""Records in Slack: the one-page summary, the audit trail page by page, the period report with its charts."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject
from sqlalchemy.orm import Session

from blocks.budget import page_number
from blocks.incident import Message
from blocks.replies import note
from blocks.report import report_messages, report_sharing
from blocks.summary import audit_messages, summary_command_messages
from blocks.text import mention, quoted
from blocks.view_state import whole_number
from bot.db import unit_of_work
from bot.domain.audit import audit_entry, record_correction
from bot.domain.errors import DomainError
from bot.domain.incidents import load_incident, parse_incident_key
from bot.domain.permissions import Action, ChannelFacts, decide, report_channel_refusal
from bot.domain.reports import build_report, last_days, parse_days
from bot.domain.summary import build_audit_trail, build_summary
from bot.integrations.slack import SlackCallError, Upload
from bot.models import Incident
from bot.services.changes import apply_change, deliver_pending
from bot.services.container import Services
from bot.services.roles import actor_of, allow_correction, is_member, permitted, person, policy_of

logger = logging.getLogger(__name__)


def _incident_number(reference: str, usage: str) -> int:
    number = parse_incident_key(reference.split(" ", 1)[0]) if reference else None
    if number is None:
        raise DomainError(f"Usage: `{usage}`")
    return number


RESPONSES_PER_COMMAND = 5  # a response_url takes five messages; the command's own answer is not one of them
SUMMARY_USAGE = "/triage summary INC-12 [page]"


def summary_for_command(services: Services, args: str) -> list[Message]:
    """`/triage summary INC-12 [page]`: the answer, then at most five more messages (all one response_url takes);
    a timeline longer than that says which command shows the rest."""
    number = _incident_number(args, SUMMARY_USAGE)
    typed_page = args.split(" ", 1)[1] if " " in args.strip() else ""
    page = page_number(typed_page, f"/triage summary INC-{number}") if typed_page.strip() else None
    with unit_of_work(services.session_factory) as session:
        load_incident(session, number, workspace=services.workspace)
        summary = build_summary(session=session, incident_id=number, now=services.clock.now())
    zone = services.settings.display_zone
    return summary_command_messages(summary, zone=zone, page=page, follow_ups=RESPONSES_PER_COMMAND)


def audit_page(services: Services, reference: str) -> Message:
    """`/triage audit INC-12 [page]`: one page of the complete audit trail, with how to get the next."""
    number = _incident_number(reference, "/triage audit INC-12 [page]")
    typed_page = reference.split(" ", 1)[1].strip() if " " in reference else "1"
    if whole_number(typed_page) is None or int(typed_page) < 1:
        raise DomainError("The page is a number: `/triage audit INC-12 2`.")
    with unit_of_work(services.session_factory) as session:
        load_incident(session, number, workspace=services.workspace)
        trail = build_audit_trail(session=session, incident_id=number)
    pages = audit_messages(trail, zone=services.settings.display_zone)
    page = min(int(typed_page), len(pages))
    message = pages[page - 1]
    if page < len(pages):
        hint = f"Page {page} of {len(pages)} — `/triage audit INC-{number} {page + 1}` for the next."
        blocks: list[Block] = [*message.blocks, ContextBlock(elements=[MarkdownTextObject(text=hint)])]
        return Message(text=message.text, blocks=blocks)
    return message


CORRECT_USAGE = "/triage correct INC-12 9 what it should say"


def correct_entry(services: Services, args: str, actor_id: str, *, once: str | None = None) -> str:
    """`/triage correct INC-12 9 text`: append a correction to entry #9 (the thread is told); the answer line.

    `once` is the command's identity: the same command arriving again appends nothing and says so.
    """
    parts = args.split(maxsplit=2)
    number = parse_incident_key(parts[0]) if parts else None
    entry = whole_number(parts[1].lstrip("#")) if len(parts) > 1 else None
    if number is None or entry is None:
        raise DomainError(f"Usage: `{CORRECT_USAGE}`")
    text = parts[2] if len(parts) > 2 else ""
    recorded: list[str] = []

    actor = actor_of(services, actor_id)

    def change(session: Session, incident: Incident, now: datetime) -> list[Message]:
        entry_author = audit_entry(session=session, incident=incident, number=entry).actor_id
        allow_correction(services, actor, incident, entry_author)
        record_correction(session=session, incident=incident, number=entry, text=text, actor_id=actor_id, now=now)
        recorded.append(f"Recorded: a correction to entry #{entry} of {incident.key}'s audit trail.")
        said = quoted(text, 2000)
        return [note(f"✏️ {mention(actor_id)} corrected audit entry #{entry} of *{incident.key}*:\n{said}")]

    if not apply_change(services, number, change, purpose="correction", actor=actor, action=Action.WORK, once=once):
        return f"That correction to entry #{entry} was already recorded; nothing was added."
    return recorded[-1]


def deliver_correction_notice(services: Services, args: str) -> None:
    """After the command is acknowledged: send the thread reply `correct_entry` queued."""
    number = parse_incident_key(args.split(maxsplit=1)[0]) if args.strip() else None
    if number is not None:
        deliver_pending(services, number)


@dataclass(frozen=True)
class ReportRequest:
    days: int
    channel_id: str


def report_request(args: str, channel_id: str) -> ReportRequest:
    """`/triage report [30d]`: the period in days (`30`, `30d`, `4w`; 30 days when not given)."""
    return ReportRequest(parse_days(args), channel_id)


PRIVATE_PARTS = 4  # a response_url takes five messages: four parts of the report and the closing one


def private_report(services: Services, days: int, user_id: str) -> list[Message]:
    """`/triage report`: the report for the person who asked only (its charts come when it is posted in a channel);
    closing with a button to post it, for those allowed to."""
    actor = actor_of(services, user_id)
    with unit_of_work(services.session_factory) as session:
        report = build_report(session, days=days, now=services.clock.now(), workspace=services.workspace)
    messages = report_messages(report, zone=services.settings.display_zone)
    may_post = decide(Action.POST_REPORT, actor, policy_of(services)).allowed
    shown = messages[:PRIVATE_PARTS]
    return [*shown, report_sharing(days, may_post=may_post, left_out=len(messages) - len(shown))]


MAX_MEMBERS_CHECKED = 200  # one page of conversations.members; each is looked up (users.info) once a minute


def post_report(services: Services, request: ReportRequest, user_id: str) -> str:
    """The button under a private report: post it in the channel, its charts in the report's thread.

    Only declarers and admins may, and never in a direct message, a channel shared with another organisation or
    one with guests. The answer line (what happened, or why not).
    """
    permitted(services, Action.POST_REPORT, user_id)
    refusal = report_channel_refusal(_channel_facts(services, request.channel_id))
    if refusal:
        raise DomainError(refusal)
    with unit_of_work(services.session_factory) as session:
        report = build_report(session, days=request.days, now=services.clock.now(), workspace=services.workspace)
    messages = report_messages(report, zone=services.settings.display_zone)
    from bot.exports.charts import render_charts  # matplotlib takes half a second to import: only when asked

    try:
        first_ts = _post(services, request.channel_id, messages)
        charts = render_charts(report)
        if charts:
            services.workspace_slack.upload_files(
                channel=request.channel_id,
                thread_ts=first_ts,
                comment=f"Charts for the last {request.days} days",
                files=[Upload(chart.filename, chart.title, chart.png) for chart in charts],
            )
    except SlackCallError as exc:
        logger.warning("Posting the report failed: %s", exc.error)
        return f"I couldn't post the report in this channel ({exc.error}). Invite me with `/invite` and try again."
    return f"Posted the report for {last_days(request.days)} in <#{request.channel_id}>."


def _channel_facts(services: Services, channel_id: str) -> ChannelFacts:
    """conversations.info and, member by member, users.info (kept a minute): is anyone there not a full member?"""
    slack = services.workspace_slack
    try:
        channel = slack.call("conversations.info", {"channel": channel_id}).get("channel") or {}
        is_channel = bool(channel.get("is_channel") or channel.get("is_group")) and not (
            channel.get("is_im") or channel.get("is_mpim")
        )
        shared = any(
            bool(channel.get(flag)) for flag in ("is_shared", "is_ext_shared", "is_org_shared", "is_pending_ext_shared")
        )
        if not is_channel or shared:
            return ChannelFacts(is_channel=is_channel, shared=shared, outsiders=0)
        page = slack.call("conversations.members", {"channel": channel_id, "limit": MAX_MEMBERS_CHECKED})
    except SlackCallError as exc:
        problem = f"I couldn't check this channel with Slack ({exc.error}), so the report isn't posted."
        raise DomainError(problem) from exc
    members = [m for m in page.get("members") or [] if isinstance(m, str)]
    more = bool((page.get("response_metadata") or {}).get("next_cursor"))
    outsiders = sum(1 for m in members if not is_member(services, person(services, m)))
    return ChannelFacts(is_channel=True, shared=False, outsiders=outsiders, too_big_to_check=more)


def _post(services: Services, channel_id: str, messages: list[Message]) -> str:
    """Post the messages in order; the first one's ts (the rest go in its thread)."""
    args = {"channel": channel_id, **messages[0].as_args()}
    try:
        first = services.workspace_slack.call("chat.postMessage", args)
    except SlackCallError as exc:
        if exc.error != "not_in_channel":
            raise
        services.workspace_slack.call("conversations.join", {"channel": channel_id})
        first = services.workspace_slack.call("chat.postMessage", args)
    for message in messages[1:]:
        args = {"channel": channel_id, "thread_ts": first["ts"], **message.as_args()}
        services.workspace_slack.call("chat.postMessage", args)
    return str(first["ts"])
