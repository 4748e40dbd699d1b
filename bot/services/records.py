"""Records in Slack: the one-page summary, the audit trail page by page, the period report with its charts."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject
from sqlalchemy.orm import Session

from bot.blocks.incident import Message
from bot.blocks.replies import note
from bot.blocks.report import report_messages
from bot.blocks.summary import audit_messages, summary_messages
from bot.blocks.text import escape_mrkdwn, mention
from bot.blocks.view_state import whole_number
from bot.db import unit_of_work
from bot.domain.audit import record_correction
from bot.domain.errors import DomainError
from bot.domain.incidents import find_incident, parse_incident_key
from bot.domain.reports import build_report, parse_days
from bot.domain.summary import build_audit_trail, build_summary
from bot.integrations.slack import SlackCallError, Upload
from bot.models import Incident
from bot.services.changes import apply_change, deliver_pending
from bot.services.container import Services

logger = logging.getLogger(__name__)


def _incident_number(reference: str, usage: str) -> int:
    number = parse_incident_key(reference.split(" ", 1)[0]) if reference else None
    if number is None:
        raise DomainError(f"Usage: `{usage}`")
    return number


def incident_summary(services: Services, reference: str) -> list[Message]:
    """`/triage summary INC-12`: the one-page summary (a long timeline continues in further messages)."""
    number = _incident_number(reference, "/triage summary INC-12")
    with unit_of_work(services.session_factory) as session:
        find_incident(session, number, workspace=services.workspace)
        summary = build_summary(session=session, incident_id=number, now=services.clock.now())
    return summary_messages(summary, zone=services.settings.display_zone)


def audit_page(services: Services, reference: str) -> Message:
    """`/triage audit INC-12 [page]`: one page of the complete audit trail, with how to get the next."""
    number = _incident_number(reference, "/triage audit INC-12 [page]")
    typed_page = reference.split(" ", 1)[1].strip() if " " in reference else "1"
    if whole_number(typed_page) is None or int(typed_page) < 1:
        raise DomainError("The page is a number: `/triage audit INC-12 2`.")
    with unit_of_work(services.session_factory) as session:
        find_incident(session, number, workspace=services.workspace)
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

    def change(session: Session, incident: Incident, now: datetime) -> list[Message]:
        record_correction(session=session, incident=incident, number=entry, text=text, actor_id=actor_id, now=now)
        recorded.append(f"Recorded: a correction to entry #{entry} of {incident.key}'s audit trail.")
        quoted = escape_mrkdwn(text.strip()).replace("\n", "\n>")
        return [note(f"✏️ {mention(actor_id)} corrected audit entry #{entry} of *{incident.key}*:\n>{quoted}")]

    if not apply_change(services, number, change, purpose="correction", once=once):
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


def post_report(services: Services, request: ReportRequest) -> str | None:
    """Post the report in the channel, its charts in the report's thread; what went wrong, or None."""
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
    return None


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
