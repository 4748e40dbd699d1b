"""The one-page incident summary and the audit trail as Slack messages, inside Block Kit's limits.

The summary message keeps one shape: every section has a fixed share of the message, and a list that does not
fit says how many items are left out and where to read them. A long timeline or audit trail is never cut: it
is split over several messages, each titled "Timeline (2/4)".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from blocks.incident import BOT_ACTOR, DEADLINE_OUTCOME_LABELS, Message, severity_badge, step_done, step_to_do
from blocks.text import (
    escape_mrkdwn,
    link,
    mention,
    message_text_length,
    pack_lines,
    quoted,
    said,
    slack_time,
    typed,
)
from bot.domain.durations import humanize_duration
from bot.domain.glossary import ESCALATION_STATES, INCIDENT_MANAGEMENT, SEVERITY_MEANINGS, path_title, status_label
from bot.domain.summary import AuditEntry, AuditTrail, IncidentSummary
from bot.models import ClientTier, EscalationKind

MAX_BLOCKS = 50
HEADER_LIMIT = 150
# Slack rejects a message whose blocks hold more than about 12,000 characters of text in all
# (`msg_blocks_too_long`, not validated by slack_sdk); every message stays under this.
MESSAGE_TEXT_BUDGET = 10_000
# The timeline is packed into sections this long, and at most this many sections per message.
TIMELINE_SECTION_CHARS = 2900
TIMELINE_SECTIONS_PER_MESSAGE = 3
ENTRY_SUMMARY_LIMIT = 300
PRODUCT_FEEDBACK = path_title(EscalationKind.PRODUCT_FEEDBACK)
CORRECTIONS = "a correction is a new entry that refers to the one it corrects."


def summary_messages(summary: IncidentSummary, *, zone: ZoneInfo) -> list[Message]:
    """The summary, then (when it does not fit beside it) the timeline over as many messages as it needs."""
    blocks = _summary_blocks(summary, zone)
    lines = [entry_line(e, zone) for e in summary.timeline]
    sections = pack_lines(lines, TIMELINE_SECTION_CHARS)
    text = _summary_text(summary)
    inline: list[Block] = [SectionBlock(text=f"*Timeline* ({_entries(len(lines))})")]
    inline += [SectionBlock(text=s) for s in sections] or [SectionBlock(text="_No events recorded._")]
    if len(sections) <= TIMELINE_SECTIONS_PER_MESSAGE and _fits([*blocks, *inline]):
        return [Message(text=text, blocks=[*blocks, *inline])]
    pages = _pages(sections)
    pointer = f"🧾 *Timeline*: {_entries(len(lines))}, in the next {len(pages)} messages."
    first = Message(text=text, blocks=[*blocks, _context(pointer)])
    return [first, *_page_messages(pages, title="Timeline", key=summary.key)]


def summary_command_messages(
    summary: IncidentSummary, *, zone: ZoneInfo, page: int | None, follow_ups: int
) -> list[Message]:
    """What `/triage summary INC-12 [page]` sends: its answer and at most `follow_ups` more messages.

    Without a page, the summary and the first timeline pages; with one, the timeline from that page. Pages that
    don't fit are named, with the command that shows them, on the first and the last message sent: nothing is
    announced that isn't sent.
    """
    whole = summary_messages(summary, zone=zone)
    timeline = whole[1:] or _page_messages(_timeline_pages(summary, zone), title="Timeline", key=summary.key)
    if page is None:
        if len(whole) == 1 or len(timeline) <= follow_ups:
            return whole
        sent = timeline[:follow_ups]
        rest = _rest_of_timeline(summary.key, follow_ups + 1, len(timeline))
        pointer = (
            f"🧾 *Timeline*: {_entries(len(summary.timeline))} on {len(timeline)} pages; the next {len(sent)} follow."
        )
        first = Message(text=whole[0].text, blocks=[*whole[0].blocks[:-1], _context(f"{pointer} {rest}")])
        return [first, *sent[:-1], _with_note(sent[-1], rest)]
    start = min(page, len(timeline))
    sent = timeline[start - 1 : start + follow_ups]
    last = start - 1 + len(sent)
    if last < len(timeline):
        sent[-1] = _with_note(sent[-1], _rest_of_timeline(summary.key, last + 1, len(timeline)))
    return sent


def _timeline_pages(summary: IncidentSummary, zone: ZoneInfo) -> list[list[str]]:
    lines = [entry_line(e, zone) for e in summary.timeline]
    return _pages(pack_lines(lines, TIMELINE_SECTION_CHARS)) or [["_No events recorded._"]]


def _rest_of_timeline(key: str, first: int, count: int) -> str:
    pages = f"page {first}" if first == count else f"pages {first} to {count}"
    return f"Timeline {pages} of {count}: `/triage summary {key} {first}`"


def _with_note(message: Message, note: str) -> Message:
    return Message(text=message.text, blocks=[*message.blocks, _context(note)])


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def _summary_text(summary: IncidentSummary) -> str:
    return f"{summary.key} summary: {escape_mrkdwn(summary.title)} ({summary.status.value})"


def audit_messages(trail: AuditTrail, *, zone: ZoneInfo) -> list[Message]:
    """Every audit-trail entry with its correction links, over as many messages as it needs ("Audit trail (2/4)")."""
    lines = [entry_line(e, zone) for e in trail.entries]
    pages = _pages(pack_lines(lines, TIMELINE_SECTION_CHARS)) or [["_No events recorded._"]]
    part = f" (1/{len(pages)})" if len(pages) > 1 else ""
    intro = f"{_entries(len(lines))}, oldest first. Append-only: {CORRECTIONS}"
    first: list[Block] = [
        HeaderBlock(text=_header(f"🧾 Audit trail{part} · {trail.key} · ", trail.title)),
        ContextBlock(elements=[MarkdownTextObject(text=intro)]),
        *[SectionBlock(text=s) for s in pages[0]],
    ]
    text = f"{trail.key} audit trail: {escape_mrkdwn(trail.title)}"
    rest = _page_messages(pages, title="Audit trail", key=trail.key)[1:]
    return [Message(text=text, blocks=first), *rest]


def entry_line(entry: AuditEntry, zone: ZoneInfo) -> str:
    """`*#12* <time> · <@U1> · what happened (corrects #3)`; the summary is cut at 300 characters, the people and
    channels it names as mentions and channel links."""
    actor = BOT_ACTOR if entry.actor_id == "bot" else mention(entry.actor_id)
    summary = said(entry.summary, entry.refs, ENTRY_SUMMARY_LIMIT)
    line = f"*#{entry.number}* {slack_time(entry.at, zone)} · {actor} · {summary}"
    if entry.corrects is not None:
        line += f" _(corrects #{entry.corrects})_"
    if entry.corrected_by:
        line += " _(corrected by " + ", ".join(f"#{n}" for n in entry.corrected_by) + ")_"
    return line


def _entries(count: int) -> str:
    return f"{count} entr{'y' if count == 1 else 'ies'}"


def _fits(blocks: Sequence[Block]) -> bool:
    return len(blocks) <= MAX_BLOCKS and message_text_length(blocks) <= MESSAGE_TEXT_BUDGET


def _pages(sections: Sequence[str]) -> list[list[str]]:
    size = TIMELINE_SECTIONS_PER_MESSAGE
    return [list(sections[i : i + size]) for i in range(0, len(sections), size)]


def _page_messages(pages: Sequence[Sequence[str]], *, title: str, key: str) -> list[Message]:
    messages = []
    for number, page in enumerate(pages, start=1):
        label = f"{title} ({number}/{len(pages)}) · {key}"
        blocks: list[Block] = [HeaderBlock(text=label), *[SectionBlock(text=s) for s in page]]
        messages.append(Message(text=f"{key} {title.lower()} ({number}/{len(pages)})", blocks=blocks))
    return messages


def _header(prefix: str, title: str) -> str:
    return prefix + typed(title, HEADER_LIMIT - len(prefix))


# --- the one-page summary ---------------------------------------------------------------------------------


def _summary_blocks(summary: IncidentSummary, zone: ZoneInfo) -> list[Block]:
    s = summary
    return [
        HeaderBlock(text=_header(f"📋 {severity_badge(s.severity)} · {s.key} · ", s.title)),
        SectionBlock(fields=[MarkdownTextObject(text=f) for f in _fields(s, zone)]),
        SectionBlock(text=_what_happened(s)),
        SectionBlock(text=_paragraph("Root cause", s.root_cause)),
        SectionBlock(text=_paragraph("Resolution", s.resolution)),
        SectionBlock(text=_listing("Follow-up items", _follow_up_lines(s), limit=1200, key=s.key)),
        SectionBlock(text=_listing("Key learnings", [f"• {typed(t, 300)}" for t in s.learnings], limit=800, key=s.key)),
        SectionBlock(text=_listing("Escalations", _escalation_lines(s), limit=600, key=s.key)),
        SectionBlock(text=_listing("Workarounds", _workaround_lines(s), limit=600, key=s.key)),
        ContextBlock(elements=[MarkdownTextObject(text=_steps_line(s, zone))]),
    ]


def _paragraph(title: str, text: str | None) -> str:
    return f"*{title}*\n" + (typed(text, 1000, one_line=False) if text else "_Not recorded._")


def _fields(s: IncidentSummary, zone: ZoneInfo) -> list[str]:
    premium = " · ⭐ Premium" if s.client_tier == ClientTier.PREMIUM else ""
    where = " / ".join(typed(p, 100) for p in (s.workflow, s.region) if p) or "_Not given_"
    owner = mention(s.owner_id) if s.owner_id else "_Unassigned_"
    if s.lead_id:
        owner += f" · lead {mention(s.lead_id)}"
    d = s.durations
    pairs = [
        ("Client", typed(s.client_name, 150) + premium),
        ("Severity", f"{s.severity.value} — {SEVERITY_MEANINGS[s.severity]}"),
        ("Status", status_label(s.status) + (f" · {INCIDENT_MANAGEMENT}" if s.is_major else "")),
        ("Deadline", _deadline(s, zone)),
        ("Workflow / region", where),
        ("Owner", owner),
        ("Opened", f"{slack_time(s.milestones.opened_at, zone)} by {mention(s.reporter_id)}"),
        ("Time to acknowledge", _duration(d.to_acknowledge)),
        ("Time to mitigate", _duration(d.to_mitigate)),
        ("Time to resolve", _duration(d.to_resolve)),
    ]
    return [f"*{label}*\n{value}" for label, value in pairs]


def _deadline(s: IncidentSummary, zone: ZoneInfo) -> str:
    if s.deadline.at is None:
        return "None given"
    context = f"\n_{typed(s.deadline.context, 200)}_" if s.deadline.context else ""
    return f"{slack_time(s.deadline.at, zone)} · {DEADLINE_OUTCOME_LABELS[s.deadline.outcome]}{context}"


def _duration(delta: timedelta | None) -> str:
    return "_not reached_" if delta is None else humanize_duration(delta)


def _what_happened(s: IncidentSummary) -> str:
    w = s.what_happened
    blocker = quoted(w.blocker, 900)
    known = [
        ("File size", w.file_size, 100),
        ("Browser", w.browser, 150),
        ("OS", w.os, 100),
        ("Started", w.started, 200),
        ("Frequency", w.frequency, 50),
        ("Already tried", w.already_tried, 300),
    ]
    environment = " · ".join(f"*{label}:* {typed(value, limit)}" for label, value, limit in known if value)
    return f"*What happened*\n{blocker}\n" + (environment or "_The environment was not recorded._")


def _listing(title: str, lines: Sequence[str], *, limit: int, key: str) -> str:
    """A titled list within about `limit` characters; what does not fit is counted, never dropped silently."""
    if not lines:
        return f"*{title}*\n_None._"
    shown: list[str] = []
    used = 0
    for line in lines:
        if shown and used + len(line) + 1 > limit:
            break
        shown.append(line)
        used += len(line) + 1
    left = len(lines) - len(shown)
    more = f"\n_…and {left} more in `triage-bot export {key}`_" if left else ""
    return f"*{title}*\n" + "\n".join(shown) + more


def _follow_up_lines(s: IncidentSummary) -> list[str]:
    lines = []
    for f in s.follow_ups:
        line = f"• {typed(f.description, 200)} — {mention(f.owner_id)}"
        if f.due_on:
            line += f", due {f.due_on:%a %d %b %Y}"
        if f.ticket_key or f.ticket_url:
            line += " · " + link(f.ticket_url, (f.ticket_key or f.ticket_url or "")[:120])
        lines.append(line)
    return lines


def _escalation_lines(s: IncidentSummary) -> list[str]:
    """Each escalation once: product feedback as its track and area, with how its ticket stands."""
    lines = []
    for e in s.handoffs:
        line = f"• {e.label}: {ESCALATION_STATES[e.state]}"
        if e.channel_id:
            line += f" in <#{e.channel_id}>" + (f" ({link(e.ticket_url, 'message')})" if e.ticket_url else "")
        elif e.ticket_key or e.ticket_url:
            line += " · " + link(e.ticket_url, (e.ticket_key or e.ticket_url or "")[:120])
        if e.external_status:
            line += f" ({typed(e.external_status, 60)})"
        lines.append(line)
    for f in s.feedback:
        line = f"• {PRODUCT_FEEDBACK} · {f.track_label} · {typed(f.area, 60)}"
        if f.state is not None and not (f.ticket_key or f.ticket_url):
            line += f": {ESCALATION_STATES[f.state]}"
        if f.ticket_key or f.ticket_url:
            line += " · " + link(f.ticket_url, (f.ticket_key or f.ticket_url or "")[:120])
        lines.append(line)
    return lines


def _workaround_lines(s: IncidentSummary) -> list[str]:
    return [
        f"• {w.label} ({w.state.value}): {typed(w.description, 150)} — "
        f"{w.attempts} attempt{'' if w.attempts == 1 else 's'}, {mention(w.owner_id)}"
        for w in s.workarounds
    ]


def _steps_line(s: IncidentSummary, zone: ZoneInfo) -> str:
    parts = []
    for step in s.steps:
        if step.done and step.done_at is not None:
            parts.append(step_done(step.title, step.done_by, slack_time(step.done_at, zone)))
        else:
            parts.append(step_to_do(step.title))
    return "*Playbook*  " + "  ·  ".join(parts) if parts else "*Playbook* —"
