"""The incident summary and the audit trail as Markdown, HTML (one printed page) and JSON.

Markdown and HTML show times in the display zone they are given, and people and channels by name (the names
the bot keeps from Slack, bot.domain.names; an id only when Slack could not say). JSON is for machines and stable:

Summary (`"format": "triage-bot/incident-summary"`, `"version": 1`)::

    generated_at                 ISO-8601 UTC ("2026-11-30T09:00:00Z"), like every time below
    incident       {id, key, title, severity, status, scope, is_major, workflow, region,
                    client {name, tier}, reporter_id, owner_id, lead_id, reporter_name, owner_name, lead_name}
    what_happened  {blocker, environment {file_size, browser, os, started, frequency, already_tried}}
    milestones     {opened_at, acknowledged_at, mitigated_at, resolved_at, closed_at}
    durations_seconds {to_acknowledge, to_mitigate, to_resolve}       integers, null when not reached
    deadline       {at, context, outcome: met | missed | pending | none}
    root_cause, resolution                                             text or null
    follow_ups     [{description, owner_id, owner_name, due_on ("YYYY-MM-DD" or null), ticket_key, ticket_url}]
    learnings      [text]
    escalations    [{kind, label, state, requested_by, requested_by_name, requested_at, ticket_key, ticket_url,
                     external_status, channel_id, channel_name}]
    product_feedback [{track, track_label, area, pm_user_id, pm_name, use_case, ticket_key, ticket_url}]
    workarounds    [{kind, label, description, state, owner_id, owner_name, started_at, ended_at, end_reason,
                     attempts}]
    steps          [{step, title, done, done_by, done_by_name, done_at}]
    timeline       [{number, event_id, at, actor_id, actor_name, kind, summary, corrects, corrected_by}]

Audit trail (`"format": "triage-bot/audit-trail"`, `"version": 1`)::

    incident {id, key, title, client}
    entries  [{number, event_id, at, actor_id, actor_name, kind, summary, details, corrects, corrected_by}]

`number` is an entry's place in the incident's trail (1 = oldest); `corrects` is the number of the entry a
correction corrects (or null) and `corrected_by` the numbers of the corrections made to it. A `*_name` is what
Slack calls the id beside it (null when the bot does not know); `summary` names people and channels by name (by
id when the name is not known). Keys are never removed within a version; new keys may be added.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context

from bot.domain.durations import humanize_duration
from bot.domain.glossary import ESCALATION_STATES
from bot.domain.names import display_name, plain_text
from bot.domain.summary import AuditEntry, AuditTrail, EscalationItem, IncidentSummary, WorkaroundItem

SUMMARY_FORMAT = "triage-bot/incident-summary"
AUDIT_FORMAT = "triage-bot/audit-trail"
JSON_VERSION = 1


class ExportFormat(enum.StrEnum):
    MARKDOWN = "md"
    HTML = "html"
    JSON = "json"


# --- Markdown, HTML ---------------------------------------------------------------------------------------


def summary_markdown(summary: IncidentSummary, *, zone: ZoneInfo) -> str:
    return _render("summary.md", summary=summary, zone=zone, names=summary.names)


def summary_html(summary: IncidentSummary, *, zone: ZoneInfo) -> str:
    return _render("summary.html", summary=summary, zone=zone, names=summary.names)


def audit_markdown(trail: AuditTrail, *, zone: ZoneInfo) -> str:
    return _render("audit.md", trail=trail, zone=zone, names=trail.names)


def audit_html(trail: AuditTrail, *, zone: ZoneInfo) -> str:
    return _render("audit.html", trail=trail, zone=zone, names=trail.names)


def render_summary(summary: IncidentSummary, export_format: ExportFormat, *, zone: ZoneInfo) -> str:
    if export_format == ExportFormat.JSON:
        return summary_json(summary)
    return (
        summary_html(summary, zone=zone) if export_format == ExportFormat.HTML else summary_markdown(summary, zone=zone)
    )


def render_audit(trail: AuditTrail, export_format: ExportFormat, *, zone: ZoneInfo) -> str:
    if export_format == ExportFormat.JSON:
        return audit_json(trail)
    if export_format == ExportFormat.HTML:
        return audit_html(trail, zone=zone)
    return audit_markdown(trail, zone=zone)


def _render(template: str, **context: Any) -> str:
    return _environment().get_template(template).render(**context)


@cache
def _environment() -> Environment:
    """Templates in bot/exports/templates; `.html` ones are autoescaped, Markdown is escaped by its filters."""
    env = Environment(
        loader=PackageLoader("bot.exports", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        md=md_inline,
        md_block=md_block,
        md_link=md_link,
        when=display_time,
        duration=display_duration,
        web_url=web_url,
        kind=kind_label,
        escalation_state=ESCALATION_STATES.__getitem__,
        who=actor_label,
        said=entry_text,
    )
    return env


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
_MD_LINE_START = re.compile(r"^(\s*)(?:([-+=#])|(\d+)([.)]))", re.MULTILINE)


def _md_escape(text: str) -> str:
    """Backslash-escape what Markdown would read as markup, links or HTML, and list/heading markers at line start."""
    escaped = _MD_SPECIAL.sub(r"\\\1", text)
    return _MD_LINE_START.sub(lambda m: m[1] + (f"\\{m[2]}" if m[2] else f"{m[3]}\\{m[4]}"), escaped)


def md_inline(text: str | None) -> str:
    """Typed text made inert in Markdown, on one line (table cells, list items); `—` when there is none."""
    if text is None:
        return "—"
    return _md_escape(" ".join(text.split()))


def md_block(text: str, prefix: str = "") -> str:
    """Typed text made inert in Markdown, keeping its lines (each starting with `prefix`, e.g. `> `)."""
    lines = [_md_escape(line.rstrip()) for line in text.splitlines()]
    return "  \n".join(f"{prefix}{line}" for line in lines) or prefix


def web_url(url: str | None) -> str | None:
    """The URL when it is a plain http(s) link, else None (shown as text, never as a link)."""
    if not url or not url.startswith(("http://", "https://")) or any(c.isspace() or c in '<>"' for c in url):
        return None
    return url


def md_link(label: str | None, url: str | None) -> str:
    safe = web_url(url)
    if safe is None:
        return md_inline(label)
    shown = _MD_SPECIAL.sub(r"\\\1", " ".join((label or safe).split()))  # inside [...]: no line-start markers
    return f"[{shown}]({safe.replace('(', '%28').replace(')', '%29')})"


def display_time(moment: datetime | date | None, zone: ZoneInfo) -> str:
    """`2026-11-30 10:04 CET` in the display zone; dates as `2026-12-04`; `—` when unknown."""
    if moment is None:
        return "—"
    if isinstance(moment, datetime):
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    return moment.isoformat()


def display_duration(delta: timedelta | None) -> str:
    return "not reached" if delta is None else humanize_duration(delta)


def kind_label(kind: str) -> str:
    return kind.replace("_", " ")


@pass_context
def actor_label(context: Context, slack_id: str | None) -> str:
    """A person or channel by name (the template's `names`), `bot` for the bot, the id when no name is known."""
    return display_name(slack_id, context.get("names") or {})


@pass_context
def entry_text(context: Context, entry: AuditEntry) -> str:
    """An audit entry's summary with the people and channels it refers to by name (not yet escaped)."""
    return plain_text(entry.summary, entry.refs, context.get("names") or {})


# --- JSON -------------------------------------------------------------------------------------------------


def _name(slack_id: str | None, names: Mapping[str, str]) -> str | None:
    return names.get(slack_id) if slack_id else None


def summary_json(summary: IncidentSummary) -> str:
    return _dump(summary_document(summary))


def audit_json(trail: AuditTrail) -> str:
    return _dump(audit_document(trail))


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def iso(moment: datetime | None) -> str | None:
    """ISO-8601 in UTC with a `Z`: `2026-11-30T09:00:00Z`."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def seconds(delta: timedelta | None) -> int | None:
    return None if delta is None else round(delta.total_seconds())


def summary_document(summary: IncidentSummary) -> dict[str, Any]:
    """The summary as JSON-ready values, in the documented shape."""
    s = summary
    names = s.names
    return {
        "format": SUMMARY_FORMAT,
        "version": JSON_VERSION,
        "generated_at": iso(s.generated_at),
        "incident": _incident_part(s),
        "what_happened": _what_happened_part(s),
        "milestones": {
            "opened_at": iso(s.milestones.opened_at),
            "acknowledged_at": iso(s.milestones.acknowledged_at),
            "mitigated_at": iso(s.milestones.mitigated_at),
            "resolved_at": iso(s.milestones.resolved_at),
            "closed_at": iso(s.milestones.closed_at),
        },
        "durations_seconds": {
            "to_acknowledge": seconds(s.durations.to_acknowledge),
            "to_mitigate": seconds(s.durations.to_mitigate),
            "to_resolve": seconds(s.durations.to_resolve),
        },
        "deadline": {"at": iso(s.deadline.at), "context": s.deadline.context, "outcome": s.deadline.outcome.value},
        "root_cause": s.root_cause,
        "resolution": s.resolution,
        "follow_ups": [
            {
                "description": f.description,
                "owner_id": f.owner_id,
                "owner_name": _name(f.owner_id, names),
                "due_on": f.due_on.isoformat() if f.due_on else None,
                "ticket_key": f.ticket_key,
                "ticket_url": f.ticket_url,
            }
            for f in s.follow_ups
        ],
        "learnings": list(s.learnings),
        "escalations": [_escalation_part(e, names) for e in s.escalations],
        "product_feedback": [
            {
                "track": f.track.value,
                "track_label": f.track_label,
                "area": f.area,
                "pm_user_id": f.pm_user_id,
                "pm_name": _name(f.pm_user_id, names),
                "use_case": f.use_case,
                "ticket_key": f.ticket_key,
                "ticket_url": f.ticket_url,
            }
            for f in s.feedback
        ],
        "workarounds": [_workaround_part(w, names) for w in s.workarounds],
        "steps": [
            {
                "step": p.step.value,
                "title": p.title,
                "done": p.done,
                "done_by": p.done_by,
                "done_by_name": _name(p.done_by, names),
                "done_at": iso(p.done_at),
            }
            for p in s.steps
        ],
        "timeline": [_entry_part(e, names, with_details=False) for e in s.timeline],
    }


def audit_document(trail: AuditTrail) -> dict[str, Any]:
    """The audit trail as JSON-ready values, in the documented shape."""
    return {
        "format": AUDIT_FORMAT,
        "version": JSON_VERSION,
        "incident": {"id": trail.incident_id, "key": trail.key, "title": trail.title, "client": trail.client_name},
        "entries": [_entry_part(e, trail.names, with_details=True) for e in trail.entries],
    }


def _incident_part(s: IncidentSummary) -> dict[str, Any]:
    return {
        "id": s.incident_id,
        "key": s.key,
        "title": s.title,
        "severity": s.severity.value,
        "status": s.status.value,
        "scope": s.scope,
        "is_major": s.is_major,
        "workflow": s.workflow,
        "region": s.region,
        "client": {"name": s.client_name, "tier": s.client_tier.value},
        "reporter_id": s.reporter_id,
        "owner_id": s.owner_id,
        "lead_id": s.lead_id,
        "reporter_name": _name(s.reporter_id, s.names),
        "owner_name": _name(s.owner_id, s.names),
        "lead_name": _name(s.lead_id, s.names),
    }


def _what_happened_part(s: IncidentSummary) -> dict[str, Any]:
    w = s.what_happened
    environment = {
        "file_size": w.file_size,
        "browser": w.browser,
        "os": w.os,
        "started": w.started,
        "frequency": w.frequency,
        "already_tried": w.already_tried,
    }
    return {"blocker": w.blocker, "environment": environment}


def _escalation_part(e: EscalationItem, names: Mapping[str, str]) -> dict[str, Any]:
    return {
        "kind": e.kind.value,
        "label": e.label,
        "state": e.state.value,
        "requested_by": e.requested_by,
        "requested_by_name": _name(e.requested_by, names),
        "requested_at": iso(e.requested_at),
        "ticket_key": e.ticket_key,
        "ticket_url": e.ticket_url,
        "external_status": e.external_status,
        "channel_id": e.channel_id,
        "channel_name": _name(e.channel_id, names),
    }


def _workaround_part(w: WorkaroundItem, names: Mapping[str, str]) -> dict[str, Any]:
    return {
        "kind": w.kind.value,
        "label": w.label,
        "description": w.description,
        "state": w.state.value,
        "owner_id": w.owner_id,
        "owner_name": _name(w.owner_id, names),
        "started_at": iso(w.started_at),
        "ended_at": iso(w.ended_at),
        "end_reason": w.end_reason,
        "attempts": w.attempts,
    }


def _entry_part(e: AuditEntry, names: Mapping[str, str], *, with_details: bool) -> dict[str, Any]:
    part: dict[str, Any] = {
        "number": e.number,
        "event_id": e.event_id,
        "at": iso(e.at),
        "actor_id": e.actor_id,
        "actor_name": _name(e.actor_id, names),
        "kind": e.kind,
        "summary": plain_text(e.summary, e.refs, names),
    }
    if with_details:
        part["details"] = _jsonable(e.details)
    part["corrects"] = e.corrects
    part["corrected_by"] = list(e.corrected_by)
    return part


def _jsonable(value: Any) -> Any:
    """Event details as stored are JSON already; this only guards against a stray date or datetime."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return value
