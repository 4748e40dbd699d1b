"""Slack ids by name: the references audit summaries carry, and the directory of names the bot keeps.

An audit summary names a person as `<@U…>` (a user group as `<!subteam^S…>`) and a channel as `<#C…>`, and lists
the ids it refers to in its details (`refs`). Slack shows the references as mentions and channel links; exports and
the CLI show the names kept in `slack_names`, which the bot fills from Slack as it meets ids. Only ids the event
itself lists are read as references: whatever someone typed into a summary stays text, however it looks.

Events recorded before references existed held bare ids (`On-call U0ONCALL paged`); those name the id in their
details too (`oncall_id`, `owner`, `where`), and a bare id that the details name is read as a reference.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.models import (
    Escalation,
    EscalationKind,
    Event,
    Feedback,
    FollowUp,
    Incident,
    SlackName,
    TriageStepRecord,
    Workaround,
)

USER, USERGROUP, CHANNEL = "user", "usergroup", "channel"
REFRESH_AFTER = timedelta(days=1)  # a name older than this is asked for again (people rename, channels too)
BOT = "bot"  # the actor of what the bot did on its own
NO_TEAM = ""  # the directory's workspace for incidents that name none (a single-workspace install)

_ID_SHAPE = re.compile(r"[UWSCGD][A-Z0-9]{2,31}")
_KINDS = {"U": USER, "W": USER, "S": USERGROUP, "C": CHANNEL, "G": CHANNEL, "D": CHANNEL}
_REFERENCE = re.compile(
    r"<@(?P<user>[UW][A-Z0-9]{2,31})(?:\|[^<>]*)?>"
    r"|<!subteam\^(?P<group>S[A-Z0-9]{2,31})(?:\|[^<>]*)?>"
    r"|<#(?P<channel>[CGD][A-Z0-9]{2,31})(?:\|[^<>]*)?>"
    r"|(?<![\w<@#^|])(?P<bare>[UWSCGD][A-Z0-9]{2,31})(?![\w>|])"
)
_SLACK_TS = re.compile(r"\d{9,10}\.\d{6}")
# Details keys that named an id before summaries carried references.
_LEGACY_KEYS = ("oncall_id", "owner", "where", "channel")
# The kinds of event that refer to someone or somewhere beyond their actor.
REFERRING_KINDS = (
    "oncall_paged",
    "follow_up_added",
    "escalation_filed",
    "major_declared",
    "ack_escalated",
    "owner_changed",
    "client_update_sent",
)


def kind_of(slack_id: str | None) -> str | None:
    """user, usergroup or channel for something shaped like a Slack id (`U0PM`, `S0ONCALL`, `C0SUPPORT`); else None."""
    if not slack_id or not _ID_SHAPE.fullmatch(slack_id):
        return None
    return _KINDS[slack_id[0]]


def person_token(slack_id: str) -> str:
    """How a summary names a person (`<@U…>`) or a user group (`<!subteam^S…>`)."""
    return f"<!subteam^{slack_id}>" if slack_id.startswith("S") else f"<@{slack_id}>"


def channel_token(channel_id: str) -> str:
    """How a summary names a channel: `<#C…>`."""
    return f"<#{channel_id}>"


@dataclass(frozen=True)
class Ref:
    """A reference to a person, user group or channel inside a summary."""

    slack_id: str

    @property
    def kind(self) -> str:
        return _KINDS[self.slack_id[0]]


Piece = str | Ref


def pieces(text: str, refs: Collection[str]) -> list[Piece]:
    """`text` as written text and references, in order; only ids in `refs` become references."""
    found: list[Piece] = []
    written = 0
    for match in _REFERENCE.finditer(text):
        slack_id = match["user"] or match["group"] or match["channel"] or match["bare"]
        if slack_id not in refs:
            continue
        if match.start() > written:
            found.append(text[written : match.start()])
        found.append(Ref(slack_id))
        written = match.end()
    if written < len(text):
        found.append(text[written:])
    return found


def event_refs(details: Mapping[str, Any]) -> frozenset[str]:
    """The ids an event's summary may refer to: its `refs`, or for an older event the ids its details name."""
    listed = details.get("refs")
    if isinstance(listed, list):
        return frozenset(r for r in listed if isinstance(r, str) and kind_of(r))
    named: set[str] = set()
    for key in _LEGACY_KEYS:
        value = details.get(key)
        if not isinstance(value, str):
            continue
        if kind_of(value):
            named.add(value)
        else:  # `where`: `<#C…>`
            named.update(m["user"] or m["group"] or m["channel"] for m in _REFERENCE.finditer(value) if not m["bare"])
    return frozenset(named)


def shown_summary(kind: str, summary: str, details: Mapping[str, Any]) -> str:
    """The summary as shown: an older `… filed in <#C…>: 1796619852.226045` loses the message's raw timestamp (or
    the channel id repeated), which a person can do nothing with."""
    ref = details.get("ref")
    filed = kind == "escalation_filed" and isinstance(ref, str) and summary.endswith(f": {ref}")
    if filed and isinstance(ref, str) and (_SLACK_TS.fullmatch(ref) or kind_of(ref) == CHANNEL):
        return summary[: -len(ref) - 2]
    return summary


def display_name(slack_id: str | None, names: Mapping[str, str]) -> str:
    """The name to show for an id: its name in the directory, `bot` for the bot, else the id (Slack couldn't say)."""
    if slack_id is None:
        return "—"
    return names.get(slack_id) or slack_id


def plain_text(text: str, refs: Collection[str], names: Mapping[str, str]) -> str:
    """A summary with its references as names (for JSON and plain-text readers)."""
    return "".join(display_name(p.slack_id, names) if isinstance(p, Ref) else p for p in pieces(text, refs))


# --- the directory ----------------------------------------------------------------------------------------


def names_for(session: Session, ids: Iterable[str | None], *, team_id: str | None = None) -> dict[str, str]:
    """Known names of these ids; the workspace's own answer first, another workspace's when it has none."""
    wanted = sorted({i for i in ids if i and kind_of(i)})
    found: dict[str, str] = {}
    team = team_id or NO_TEAM
    for start in range(0, len(wanted), 500):
        query = select(SlackName.slack_id, SlackName.team_id, SlackName.name).where(
            SlackName.slack_id.in_(wanted[start : start + 500]), SlackName.name.is_not(None)
        )
        for slack_id, row_team, name in session.execute(query):
            if name and (slack_id not in found or row_team == team):
                found[slack_id] = name
    return found


def ids_to_learn(session: Session, ids: Iterable[str | None], *, team_id: str | None, now: datetime) -> list[str]:
    """The ids whose names the directory lacks for this workspace, or learned over a day ago."""
    wanted = sorted({i for i in ids if i and kind_of(i)})
    if not wanted:
        return []
    query = select(SlackName.slack_id).where(
        SlackName.team_id == (team_id or NO_TEAM),
        SlackName.slack_id.in_(wanted),
        SlackName.updated_at > now - REFRESH_AFTER,
    )
    fresh = set(session.scalars(query))
    return [i for i in wanted if i not in fresh]


def remember_name(session: Session, *, team_id: str | None, slack_id: str, name: str | None, now: datetime) -> None:
    """Keep what Slack calls `slack_id` (None: Slack does not know it), replacing an older answer."""
    kind = kind_of(slack_id)
    if kind is None:
        return
    row = {"team_id": team_id or NO_TEAM, "slack_id": slack_id, "kind": kind, "name": name, "updated_at": now}
    changes = {"kind": kind, "name": name, "updated_at": now}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(SlackName).values(**row)
    session.execute(statement.on_conflict_do_update(index_elements=["team_id", "slack_id"], set_=changes))


def incident_ids(session: Session, incident: Incident) -> set[str]:
    """Every Slack id the incident's records name: its people and channels, and whom its audit trail refers to."""
    ids: set[str | None] = {
        incident.reporter_id,
        incident.owner_id,
        incident.oncall_id,
        incident.lead_id,
        incident.channel_id,
        incident.major_channel_id,
    }
    of_incident = incident.id
    ids.update(session.scalars(select(FollowUp.owner_id).where(FollowUp.incident_id == of_incident)))
    ids.update(session.scalars(select(Feedback.pm_user_id).where(Feedback.incident_id == of_incident)))
    ids.update(session.scalars(select(Workaround.owner_id).where(Workaround.incident_id == of_incident)))
    ids.update(session.scalars(select(TriageStepRecord.done_by).where(TriageStepRecord.incident_id == of_incident)))
    for requested_by, kind, ref in session.execute(
        select(Escalation.requested_by, Escalation.kind, Escalation.external_ref).where(
            Escalation.incident_id == of_incident
        )
    ):
        ids.add(requested_by)
        if kind in (EscalationKind.INTERNAL, EscalationKind.INCIDENT_MANAGEMENT):
            ids.add(ref)
    ids.update(session.scalars(select(Event.actor_id).where(Event.incident_id == of_incident).distinct()))
    for details in session.scalars(
        select(Event.details).where(Event.incident_id == of_incident, Event.kind.in_(REFERRING_KINDS))
    ):
        ids.update(event_refs(details or {}))
    return {i for i in ids if i and kind_of(i)}
