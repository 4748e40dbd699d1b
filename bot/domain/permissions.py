"""Who may do what: the roles of the playbook and the one rule per action, decided from plain facts.

Roles:
- a *member* of the workspace: anyone in it who is not a guest (single- or multi-channel guest) and not from
  another organisation (a Slack Connect channel);
- the incident's *owner*, *lead* and *reporter*, and the on-call engineer *paged* when it opened (a user, or a
  member of the user group paged);
- *declarers*: MAJOR_INCIDENT_DECLARERS (users, or members of its user groups); nobody when it is empty;
- workspace *admins* (Slack's admins and owners).

Services gather the facts (Slack's users.info and usergroups.users.list, the incident, the rotation) and ask
`decide`; nothing else decides who may do something.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from bot.domain.errors import DomainError, quoted
from bot.models import Incident


class Action(enum.StrEnum):
    """What a person may be allowed to do; the value completes "Only … may <value>"."""

    VIEW = "see incidents, reports and rotations"
    ACKNOWLEDGE = "acknowledge"
    TAKE_OWNERSHIP = "take ownership of"
    WORK = "work on"  # log steps, add details, isolate, client updates, escalate, workarounds, status short of resolved
    RESOLVE = "resolve or close"
    CHANGE_SEVERITY = "change the severity of"
    CORRECT_AUDIT = "correct the audit trail of"
    DECLARE = "start incident management or assign its incident lead"
    OVERRIDE_ONCALL = "override on-call for"
    POST_REPORT = "post the report in a channel"
    CHANGE_SETTINGS = "change settings"
    SEND_TO_CLIENT = "send this update to the client's channel"


@dataclass(frozen=True)
class Actor:
    """The person asking, as Slack describes them."""

    user_id: str
    is_admin: bool = False  # a workspace admin or owner
    is_guest: bool = False  # a guest account, or someone from another organisation
    groups: frozenset[str] = frozenset()  # the user groups (S…) they belong to, of those that name a role

    def is_one_of(self, slack_ids: Collection[str | None]) -> bool:
        """Whether they are one of these users, or in one of these user groups."""
        return any(
            slack_id is not None and (slack_id == self.user_id or slack_id in self.groups) for slack_id in slack_ids
        )


@dataclass(frozen=True)
class Policy:
    """What the deployment configured: MAJOR_INCIDENT_DECLARERS (users and user groups)."""

    declarers: tuple[str, ...] = ()  # in the order configured

    def is_declarer(self, actor: Actor) -> bool:
        return actor.is_one_of(self.declarers)


@dataclass(frozen=True)
class IncidentRoles:
    key: str
    owner_id: str | None = None
    lead_id: str | None = None
    reporter_id: str | None = None
    oncall_id: str | None = None  # paged when it opened: a user (U…) or a user group (S…)

    @classmethod
    def of(cls, incident: Incident) -> IncidentRoles:
        return cls(incident.key, incident.owner_id, incident.lead_id, incident.reporter_id, incident.oncall_id)


@dataclass(frozen=True)
class RotationRoles:
    team: str
    members: frozenset[str] = frozenset()
    leads: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Decision:
    allowed: bool
    who: str = ""  # who may, in words (with mentions), when refused

    def refusal(self, action: Action, subject: str) -> str:
        what = f"{action.value} {subject}".strip()
        return f"Only {self.who} may {what}. Ask one of them."


ALLOWED = Decision(True)


class NotPermitted(DomainError):
    """The person may not do this; the message (one line) says who may."""


_SLACK_ID = re.compile(r"^[UWS][A-Z0-9]{2,39}$")


def _mentions(slack_ids: Sequence[str | None]) -> str:
    """` (<@U1>, <!subteam^S2>)` for the Slack ids among these (the bot's own entries say `bot`); "" for none."""
    ids = dict.fromkeys(i for i in slack_ids if i and _SLACK_ID.match(i))
    shown = [f"<!subteam^{i}>" if i.startswith("S") else f"<@{i}>" for i in ids]
    return f" ({', '.join(shown)})" if shown else ""


def _one_of(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} or {parts[-1]}"


def _decide(allowed: bool, *who: str) -> Decision:
    return ALLOWED if allowed else Decision(False, _one_of([w for w in who if w]))


ADMINS = "a workspace admin"
MEMBERS = "full members of this workspace (not guests or people from other organisations)"


def _declarers(policy: Policy) -> str:
    return f"an incident-management declarer{_mentions(policy.declarers)}" if policy.declarers else ""


def _involved(incident: IncidentRoles) -> list[str]:
    people = _mentions([incident.owner_id, incident.lead_id, incident.reporter_id])
    return [
        f"the owner, lead or reporter of {incident.key}{people}",
        f"the on-call engineer paged{_mentions([incident.oncall_id])}",
    ]


def decide(
    action: Action,
    actor: Actor,
    policy: Policy,
    *,
    incident: IncidentRoles | None = None,
    entry_author: str | None = None,
    rotation: RotationRoles | None = None,
) -> Decision:
    """Whether `actor` may do `action` (on `incident`, its audit entry by `entry_author`, or `rotation`).

    Guests and people from other organisations may do nothing. Every member may see, acknowledge, take ownership
    and work on an incident; the other actions need one of the roles named in docs/security.md (## Roles).
    """
    if actor.is_guest:
        return Decision(False, MEMBERS)
    admin, declarer = actor.is_admin, policy.is_declarer(actor)
    if action in (Action.VIEW, Action.ACKNOWLEDGE, Action.TAKE_OWNERSHIP, Action.WORK):
        return ALLOWED
    if action in (Action.RESOLVE, Action.CHANGE_SEVERITY):
        assert incident is not None, f"{action} is decided on an incident"
        involved = actor.is_one_of([incident.owner_id, incident.lead_id, incident.reporter_id, incident.oncall_id])
        return _decide(involved or declarer or admin, *_involved(incident), _declarers(policy), ADMINS)
    if action == Action.CORRECT_AUDIT:
        assert incident is not None, "a correction is decided on an incident"
        involved = actor.is_one_of([entry_author, incident.owner_id, incident.lead_id])
        author = f"the author of the entry{_mentions([entry_author])}" if _mentions([entry_author]) else ""
        owner = f"the owner or lead of {incident.key}{_mentions([incident.owner_id, incident.lead_id])}"
        return _decide(involved or declarer or admin, author, owner, _declarers(policy), ADMINS)
    if action == Action.SEND_TO_CLIENT:
        assert incident is not None, "sending an update is decided on an incident"
        involved = actor.is_one_of([entry_author, incident.owner_id, incident.lead_id])
        author = f"who recorded it{_mentions([entry_author])}" if _mentions([entry_author]) else ""
        owner = f"the owner or lead of {incident.key}{_mentions([incident.owner_id, incident.lead_id])}"
        return _decide(involved or declarer or admin, owner, author, _declarers(policy), ADMINS)
    if action == Action.DECLARE:
        # As before roles were written down: with no declarers configured, every member may declare.
        return _decide(not policy.declarers or declarer or admin, _declarers(policy), ADMINS)
    if action == Action.OVERRIDE_ONCALL:
        assert rotation is not None, "an override is decided on a rotation"
        involved = actor.is_one_of(rotation.members | rotation.leads)
        people = f"the members and leads of the {quoted(rotation.team, 100)} rotation"
        return _decide(involved or declarer or admin, people, _declarers(policy), ADMINS)
    # POST_REPORT, CHANGE_SETTINGS
    return _decide(declarer or admin, _declarers(policy), ADMINS)


def require(
    action: Action,
    actor: Actor,
    policy: Policy,
    *,
    incident: IncidentRoles | None = None,
    entry_author: str | None = None,
    rotation: RotationRoles | None = None,
) -> None:
    """`decide`, raising NotPermitted (a one-line answer naming who may) when refused."""
    decision = decide(action, actor, policy, incident=incident, entry_author=entry_author, rotation=rotation)
    if decision.allowed:
        return
    if rotation is not None:
        subject = f"the {quoted(rotation.team, 100)} rotation"
    elif incident is not None and action not in (Action.DECLARE, Action.VIEW):
        subject = incident.key
    else:
        subject = ""
    raise NotPermitted(decision.refusal(action, subject))


@dataclass(frozen=True)
class ChannelFacts:
    """What Slack says about a channel the report would be posted in."""

    is_channel: bool  # a public or private channel (not a direct message or group DM)
    shared: bool  # shared with another workspace or organisation (Slack Connect), or about to be
    outsiders: int  # members who are guests or from another organisation
    too_big_to_check: bool = False  # more members than the bot checks one by one


def report_channel_refusal(channel: ChannelFacts) -> str | None:
    """Why the workspace's client report may not be posted in this channel; None when it may.

    The report names clients, their blockers and deadlines: it stays among full members of the workspace.
    """
    if not channel.is_channel:
        return "The report can only be posted in a channel, not in a direct message."
    if channel.shared:
        return "This channel is shared with another organisation, so the report isn't posted here."
    if channel.too_big_to_check:
        return "This channel has too many members for me to check it has no guests; post the report in a smaller one."
    if channel.outsiders:
        return "This channel has guests or people from another organisation, so the report isn't posted here."
    return None
