"""Messages about one incident: the root message, thread replies, and the `/triage show` card."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from blocks.budget import SECTION_SAFE, lines_within
from blocks.ids import EscalationAction, IncidentAction
from blocks.text import link, mention, message_text_length, quoted, said, slack_time, time_left, typed
from bot.domain.escalations import KIND_LABELS
from bot.domain.glossary import BOT_NAME, DONE, SEVERITY_MEANINGS, TO_DO, status_label
from bot.domain.incidents import environment_details
from bot.domain.message_intake import SourceMessage
from bot.domain.names import event_refs, shown_summary
from bot.domain.summary import DeadlineOutcome, first_relief, incident_deadline_outcome, milestones_of
from bot.domain.triage import StepView
from bot.models import ClientTier, Escalation, Event, Incident, Severity

SEVERITY_ICONS = {Severity.SEV1: "🔴", Severity.SEV2: "🟠", Severity.SEV3: "🟡", Severity.SEV4: "🔵"}
BOT_ACTOR = f"🤖 {BOT_NAME}"  # the emoji decorates, the name says who (no emoji font, screen readers)
DEADLINE_CLOSE_SECONDS = 2 * 3600
NO_DEADLINE = "no deadline given"
DEADLINE_OUTCOME_LABELS = {
    DeadlineOutcome.MET: "✅ *met*",
    DeadlineOutcome.MISSED: "❌ *missed*",
    DeadlineOutcome.PENDING: "⏳ *pending*",
    DeadlineOutcome.NONE: "no deadline",
}
# Shares of the root message, so that with every part at its longest it stays well inside what Slack takes.
BLOCKER_CHARS = SECTION_SAFE
ENVIRONMENT_CHARS = 1200
DASHBOARD_LIST_CHARS = 1500
RETRY_BUTTONS = 5  # on `/triage show`; each failure notice in the thread has its own
CARD_TEXT = 10_000  # `/triage show`: the root message plus as much of the audit trail as fits


@dataclass(frozen=True)
class NextCheckin:
    """The next timed thing that will happen on the incident, shown on its root message."""

    label: str
    at: datetime


@dataclass(frozen=True)
class Dashboard:
    """Everything on the root message that is not a column of the incident itself."""

    steps: Sequence[StepView] = ()
    next_checkin: NextCheckin | None = None
    linked_keys: Sequence[str] = ()
    escalation_lines: Sequence[str] = ()
    major_line: str | None = None
    workaround_lines: Sequence[str] = ()


@dataclass(frozen=True)
class Message:
    """What chat.postMessage/chat.update need: notification text and blocks."""

    text: str
    blocks: Sequence[Block]

    def as_args(self) -> dict[str, object]:
        return {"text": self.text, "blocks": [b.to_dict() for b in self.blocks]}


def client_label(incident: Incident) -> str:
    star = " · ⭐ Premium" if incident.client.tier == ClientTier.PREMIUM else ""
    return f"{typed(incident.client.name, 200)}{star}"


def deadline_label(incident: Incident, *, now: datetime, zone: ZoneInfo) -> str:
    """A countdown while the deadline is at stake; once it is met or missed (the summary's rule), which, and when
    the client was unblocked: nothing that goes stale on a message no longer edited."""
    if incident.deadline_at is None:
        return "None given"
    outcome = incident_deadline_outcome(incident, now)
    if outcome == DeadlineOutcome.PENDING:
        remaining = time_left(incident.deadline_at, now)
        close = (incident.deadline_at - now).total_seconds() < DEADLINE_CLOSE_SECONDS
        label = f"{slack_time(incident.deadline_at, zone)} ({'⏰ soon, ' if close else ''}{remaining})"
    else:
        relieved = first_relief(milestones_of(incident))
        how = f"client unblocked {slack_time(relieved, zone)}" if relieved else "client not unblocked by then"
        label = f"{slack_time(incident.deadline_at, zone)} · {DEADLINE_OUTCOME_LABELS[outcome]} — {how}"
    if incident.deadline_context:
        label += f"\n_{typed(incident.deadline_context, 200)}_"
    return label


def deadline_in_brief(incident: Incident, *, now: datetime) -> str:
    """`deadline in 1 h 55 min`, `deadline met`, `deadline missed` or `no deadline`, for one-line lists."""
    if incident.deadline_at is None:
        return "no deadline"
    outcome = incident_deadline_outcome(incident, now)
    if outcome == DeadlineOutcome.PENDING:
        return f"deadline {time_left(incident.deadline_at, now)}"
    return f"deadline {DEADLINE_OUTCOME_LABELS[outcome]}"


def environment_line(incident: Incident) -> str:
    """One line of what is known about the client's environment."""
    details = environment_details(incident.environment)
    details.pop("Already tried", None)
    if not details:
        return "Environment: not recorded yet"
    share = ENVIRONMENT_CHARS // len(details) - 20
    return " · ".join(f"{label}: {typed(value, share)}" for label, value in details.items())


def severity_badge(severity: Severity) -> str:
    """`🔴 SEV1`: the colour for the eye, the name for everyone (no emoji font, screen readers)."""
    return f"{SEVERITY_ICONS[severity]} {severity.value}"


def headline(incident: Incident) -> str:
    """The header: plain text (never parsed for mentions), escaped like every other typed text."""
    prefix = f"{severity_badge(incident.severity)} · {incident.key} · "
    return prefix + typed(incident.title, 150 - len(prefix))


def notification_text(incident: Incident) -> str:
    what = typed(f"{incident.client.name}: {incident.title}", 400)
    return f"{incident.key} {incident.severity.value} · {what} ({incident.status.value})"


def _fields(incident: Incident, *, now: datetime, zone: ZoneInfo) -> list[MarkdownTextObject]:
    owner = mention(incident.owner_id) if incident.owner_id else "_Unassigned_"
    oncall = mention(incident.oncall_id) if incident.oncall_id else "_None configured_"
    where = " / ".join(typed(p, 100) for p in (incident.workflow, incident.region) if p) or "_Not given_"
    pairs = [
        ("Status", status_label(incident.status)),
        ("Severity", f"{incident.severity.value} — {SEVERITY_MEANINGS[incident.severity]}"),
        ("Client", client_label(incident)),
        ("Deadline", deadline_label(incident, now=now, zone=zone)),
        ("Owner", owner),
        ("On-call", oncall),
        ("Workflow / region", where),
        ("Reported by", mention(incident.reporter_id)),
    ]
    return [MarkdownTextObject(text=f"*{label}*\n{value}") for label, value in pairs]


def blocker_quote(incident: Incident) -> str:
    """The blocker as typed, quoted line by line: cut to fit a section before it is escaped and quoted."""
    title = "*Blocker*\n"
    return title + quoted(incident.blocker, BLOCKER_CHARS - len(title))


def root_message(incident: Incident, *, now: datetime, zone: ZoneInfo, dashboard: Dashboard | None = None) -> Message:
    """The incident's one channel message, edited in place as the incident changes: its live dashboard."""
    dashboard = dashboard or Dashboard()
    blocks: list[Block] = [
        HeaderBlock(text=headline(incident)),
        SectionBlock(fields=_fields(incident, now=now, zone=zone)),
        SectionBlock(text=blocker_quote(incident)),
        ContextBlock(elements=[MarkdownTextObject(text=environment_line(incident))]),
    ]
    if dashboard.major_line:
        blocks.insert(1, SectionBlock(text=dashboard.major_line))
    if dashboard.steps:
        blocks.append(SectionBlock(text=checklist_text(dashboard.steps, zone)))
    if dashboard.workaround_lines:
        listed = lines_within(dashboard.workaround_lines, DASHBOARD_LIST_CHARS, separator="\n")
        blocks.append(SectionBlock(text="*Workarounds*\n" + listed))
    if dashboard.escalation_lines:
        listed = lines_within(dashboard.escalation_lines, DASHBOARD_LIST_CHARS, separator="  ·  ")
        blocks.append(SectionBlock(text="*Escalations*  " + listed))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=_status_line(incident, dashboard, now, zone))]))
    buttons = incident_buttons(incident, has_workaround=bool(dashboard.workaround_lines))
    if buttons:
        blocks.append(ActionsBlock(block_id=f"incident_actions_{incident.id}", elements=buttons))
    return Message(text=notification_text(incident), blocks=blocks)


def checklist_text(steps: Sequence[StepView], zone: ZoneInfo) -> str:
    """`*Triage*  ✅ *Immediate Action* done by <@U1> 09:41  ·  ⬜ Investigate (to do)  ·  …`"""
    parts = []
    for step in steps:
        if step.done and step.done_at is not None:
            parts.append(step_done(f"*{step.title}*", step.done_by, slack_time(step.done_at, zone)))
        else:
            parts.append(step_to_do(step.title))
    return "*Triage*  " + "  ·  ".join(parts)


def step_done(title: str, done_by: str | None, when: str) -> str:
    """`✅ Investigate done by <@U1> 09:41`: the mark, and the words that say it."""
    who = mention(done_by) if done_by and done_by != "bot" else BOT_NAME
    return f"✅ {title} {DONE} by {who} {when}"


def step_to_do(title: str) -> str:
    """`⬜ Isolate (to do)`."""
    return f"⬜ {title} ({TO_DO})"


def _status_line(incident: Incident, dashboard: Dashboard, now: datetime, zone: ZoneInfo) -> str:
    parts = [f"Opened {slack_time(incident.opened_at, zone)}"]
    if incident.scope:
        parts.append(f"Scope: *{incident.scope}*")
    if dashboard.linked_keys:
        parts.append("Linked: " + ", ".join(dashboard.linked_keys[:10]))
    if dashboard.next_checkin is not None and incident.is_open:
        checkin = dashboard.next_checkin
        parts.append(f"Next check-in: {checkin.label} {slack_time(checkin.at, zone)} ({time_left(checkin.at, now)})")
    parts.append("updates in the thread 🧵")
    return " · ".join(parts)


def _button(text: str, action: IncidentAction, incident: Incident, style: str | None = None) -> ButtonElement:
    return ButtonElement(text=text, action_id=action.value, value=str(incident.id), style=style)


def incident_buttons(incident: Incident, *, has_workaround: bool = False) -> list[ButtonElement]:
    """Only buttons whose flows work; none once the incident is closed."""
    if not incident.is_open:
        return []
    owner_button = (
        _button("Acknowledge", IncidentAction.ACKNOWLEDGE, incident, "primary")
        if incident.acknowledged_at is None
        else _button("Take ownership", IncidentAction.TAKE_OWNERSHIP, incident)
    )
    return [
        owner_button,
        _button("Add details", IncidentAction.ADD_DETAILS, incident),
        _button("Log a step", IncidentAction.LOG_STEP, incident),
        _button("Status / severity", IncidentAction.CHANGE_STATUS, incident),
        _button("Isolate", IncidentAction.ISOLATE, incident),
        _button("Escalate", IncidentAction.ESCALATE, incident, "danger"),
        _button("Workaround progress", IncidentAction.WORKAROUND_PROGRESS, incident)
        if has_workaround
        else _button("Start a workaround", IncidentAction.START_WORKAROUND, incident),
        _button("Client update", IncidentAction.CLIENT_UPDATE, incident),
        _button("Resolve", IncidentAction.RESOLVE, incident),
    ]


def environment_reply(incident: Incident) -> Message:
    """The first thread reply: everything the reporter recorded about the environment."""
    details = environment_details(incident.environment)
    lines = [
        f"*{label}:* {typed(value, 1200 if label == 'Already tried' else 200, one_line=False)}"
        for label, value in details.items()
    ]
    if lines:
        text = f"📋 Environment recorded by {mention(incident.reporter_id)} for {incident.key}\n" + "\n".join(lines)
    else:
        text = (
            f"📋 No environment recorded yet for {incident.key} — "
            "ask the client for file size, browser, OS and timing, then use *Add details*."
        )
    return Message(text=text, blocks=[SectionBlock(text=text)])


def source_reply(incident: Incident, source: SourceMessage) -> Message:
    """The first thread reply of an incident opened from a message: where that message is, and who wrote it."""
    where = f"<#{source.channel_id}>" if source.channel_id.startswith(("C", "G")) else "a conversation"
    message = link(source.link, "this message") if source.link else "a message"
    author = f" by {mention(source.author_id)}" if source.author_id else ""
    text = f"🔗 {incident.key} was opened from {message}{author} in {where}."
    return Message(text=text, blocks=[SectionBlock(text=text)])


def oncall_reply(incident: Incident, *, now: datetime, zone: ZoneInfo, note: str | None = None) -> Message:
    """Tags the on-call engineer with what they need to decide how fast to move.

    `note` says why this is not a fresh answer of the on-call source (the service was down, or not read yet).
    """
    deadline = (
        "deadline: " + deadline_label(incident, now=now, zone=zone).replace("\n", " — ")
        if incident.deadline_at is not None
        else NO_DEADLINE
    )
    facts = f"*{incident.severity.value}* for {client_label(incident)} · {deadline}"
    if incident.oncall_id:
        text = f"📟 {mention(incident.oncall_id)} you are on call for *{incident.key}*. {facts}"
    else:
        text = (
            f"📟 No on-call engineer is configured (set `ONCALL_SLACK_ID`). "
            f"{mention(incident.reporter_id)}, please page someone directly. {facts}"
        )
    blocks: list[Block] = [SectionBlock(text=text)]
    if note:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"⚠️ {typed(note, 600)}")]))
    return Message(text=text, blocks=blocks)


def event_line(event: Event, zone: ZoneInfo) -> str:
    actor = BOT_ACTOR if event.actor_id == "bot" else mention(event.actor_id)
    summary = shown_summary(event.kind, event.summary, event.details or {})
    return f"{slack_time(event.at, zone)} · {actor} · {said(summary, event_refs(event.details or {}), 300)}"


def retry_button(escalation: Escalation) -> ButtonElement:
    """Files a failed Jira escalation again (the listener checks the clicker, the workspace and the state)."""
    return ButtonElement(
        text=f"Retry the {KIND_LABELS[escalation.kind]}"[:75],
        action_id=EscalationAction.RETRY.value,
        value=str(escalation.id),
        style="primary",
    )


def incident_card(
    incident: Incident,
    *,
    events: Sequence[Event],
    pending_deliveries: Sequence[str],
    now: datetime,
    zone: ZoneInfo,
    failed: Sequence[Escalation] = (),
) -> list[Block]:
    """`/triage show INC-n`: the root message's facts, the latest audit entries and anything undelivered, with a
    Retry button for each failed Jira escalation in `failed` (the first few).

    The audit entries get what room the rest leaves in the message (`/triage audit` has them all).
    """
    blocks = list(root_message(incident, now=now, zone=zone).blocks)
    tail: list[Block] = []
    if pending_deliveries:
        # Each line carries an error as Slack or Jira wrote it: plain text, escaped like anything typed.
        pending = lines_within([typed(p, 300) for p in pending_deliveries], 1000, separator="\n")
        tail.append(ContextBlock(elements=[MarkdownTextObject(text="⏳ " + pending)]))
    if failed:
        # One block each: an action id is unique within its block, and every Retry button has the same one.
        tail += [ActionsBlock(block_id=f"retry_{e.id}", elements=[retry_button(e)]) for e in failed[:RETRY_BUTTONS]]
    room = min(SECTION_SAFE, CARD_TEXT - message_text_length([*blocks, *tail])) - 40  # 40: the title
    recent = [event_line(e, zone) for e in events[-8:]]
    while recent and len("\n".join(recent)) > room:
        recent = recent[1:]  # the oldest goes first
    if recent:
        trail = "\n".join(recent)
        blocks += [DividerBlock(), SectionBlock(text=f"*Audit trail (latest {len(recent)})*\n{trail}")]
    return [*blocks, *tail]
