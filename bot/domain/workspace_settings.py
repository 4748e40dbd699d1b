"""A workspace's own settings, set in Slack: which settings those are, and recording a change (who, when, old → new).

The environment gives every setting its default; a workspace's saved values override some of them. Values are
kept as the environment would hold them (`SEV1=5,SEV2=15,…`), so one set of validators (bot.config) reads both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.incidents import find_or_create_client
from bot.models import Client, ClientChannel, ClientTier, SettingsChange, WorkspaceSettings

SINGLE_WORKSPACE = ""  # the key of a single-workspace install's settings


class SettingKind(StrEnum):
    CHANNEL = "channel"
    TEXT = "text"
    USERS = "users"


@dataclass(frozen=True)
class Settable:
    """A setting a workspace's admins may change in Slack."""

    field: str  # the Settings field (its environment variable, upper-cased)
    label: str
    kind: SettingKind
    hint: str

    @property
    def env_name(self) -> str:
        return self.field.upper()


SETTABLE: tuple[Settable, ...] = (
    Settable(
        "support_channel_id", "Support channel", SettingKind.CHANNEL, "Where incidents opened from a message post."
    ),
    Settable("internal_channel_id", "Internal-notice channel", SettingKind.CHANNEL, "Escalation notices for the team."),
    Settable(
        "escalation_channel_id", "Escalation channel", SettingKind.CHANNEL, "Unacknowledged incidents are raised here."
    ),
    Settable(
        "oncall_source",
        "On-call source",
        SettingKind.TEXT,
        "rotation:<team>, usergroup:S…, pagerduty:<escalation policy id> or opsgenie:<schedule name>.",
    ),
    Settable(
        "major_incident_declarers",
        "Declarers",
        SettingKind.USERS,
        "May declare incident management, change these settings and post reports.",
    ),
    Settable(
        "product_areas",
        "Product areas and their product managers",
        SettingKind.TEXT,
        "area=U… (the PM's Slack id), comma separated: uploads=U0PM1,billing=U0PM2.",
    ),
    Settable("ack_windows", "Acknowledgement windows (minutes)", SettingKind.TEXT, "SEV1=5,SEV2=15,SEV3=60,SEV4=240"),
    Settable(
        "client_update_cadence",
        "Client-update cadence (minutes)",
        SettingKind.TEXT,
        "SEV1=30,SEV2=60,SEV3=240,SEV4=1440",
    ),
    Settable("deadline_reminders", "Deadline reminders (minutes before)", SettingKind.TEXT, "120,60,30,10"),
    Settable("jira_project", "Jira project for engineering handoffs", SettingKind.TEXT, "A project key, e.g. ENG."),
    Settable(
        "jira_product_project", "Jira project for product feedback", SettingKind.TEXT, "A project key, e.g. PROD."
    ),
    Settable("jira_priorities", "Jira priority per severity", SettingKind.TEXT, "SEV1=Highest,SEV2=High,…"),
)
SETTABLE_BY_FIELD = {s.field: s for s in SETTABLE}


@dataclass(frozen=True)
class SettingChange:
    field: str
    old: str | None
    new: str | None


def saved_values(session: Session, team_id: str) -> tuple[int, dict[str, str]]:
    """(version, the workspace's saved values by field); (0, {}) when it never saved any."""
    row = session.get(WorkspaceSettings, team_id)
    if row is None:
        return 0, {}
    return row.version, {k: str(v) for k, v in row.values.items() if k in SETTABLE_BY_FIELD}


def saved_version(session: Session, team_id: str) -> int:
    return int(session.scalar(select(WorkspaceSettings.version).where(WorkspaceSettings.team_id == team_id)) or 0)


def changes_between(current: Mapping[str, str | None], wanted: Mapping[str, str | None]) -> list[SettingChange]:
    """What differs, in SETTABLE's order; None (or "") means "back to the environment's default"."""
    found = []
    for settable in SETTABLE:
        if settable.field not in wanted:
            continue
        old, new = current.get(settable.field) or None, wanted[settable.field] or None
        if old != new:
            found.append(SettingChange(settable.field, old, new))
    return found


def save_changes(
    session: Session, *, team_id: str, changes: list[SettingChange], by: str, now: datetime
) -> WorkspaceSettings | None:
    """Store the changes and a log entry for each (who, when, old → new); None when there is nothing to change.

    The version check makes two admins saving at once end with one winner: the loser's save raises
    StaleDataError and is retried on the fresh values by the caller.
    """
    if not changes:
        return None
    row = session.get(WorkspaceSettings, team_id, with_for_update=True)
    if row is None:
        row = WorkspaceSettings(team_id=team_id, values={}, version=0, updated_at=now, updated_by=by)
        session.add(row)
    values = dict(row.values)
    for change in changes:
        if change.new is None:
            values.pop(change.field, None)
        else:
            values[change.field] = change.new
        session.add(
            SettingsChange(
                team_id=team_id,
                setting=SETTABLE_BY_FIELD[change.field].env_name,
                old_value=change.old,
                new_value=change.new,
                changed_by=by,
                changed_at=now,
            )
        )
    row.values, row.version, row.updated_at, row.updated_by = values, row.version + 1, now, by
    return row


def recent_changes(session: Session, team_id: str, limit: int = 5) -> list[SettingsChange]:
    query = (
        select(SettingsChange)
        .where(SettingsChange.team_id == team_id)
        .order_by(SettingsChange.changed_at.desc(), SettingsChange.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def map_client(
    session: Session, *, team_id: str, name: str, tier: ClientTier, channel_id: str | None, by: str, now: datetime
) -> SettingChange:
    """Set a client's tier and (in this workspace) its own channel; the change is logged like a setting's."""
    client = find_or_create_client(session=session, name=name, premium=False, now=now)
    mapping = session.get(ClientChannel, (team_id, client.id))
    old = f"{client.tier.value}, channel {mapping.channel_id}" if mapping else client.tier.value
    client.tier = tier
    if channel_id is not None:
        taken = session.scalar(
            select(ClientChannel).where(ClientChannel.team_id == team_id, ClientChannel.channel_id == channel_id)
        )
        if taken is not None and taken.client_id != client.id:
            session.delete(taken)  # a channel belongs to one client
            session.flush()
        if mapping is None:
            mapping = ClientChannel(team_id=team_id, client_id=client.id, channel_id=channel_id, set_by=by, set_at=now)
            session.add(mapping)
        else:
            mapping.channel_id, mapping.set_by, mapping.set_at = channel_id, by, now
    new = f"{tier.value}, channel {channel_id}" if channel_id else tier.value
    change = SettingChange(f"client {client.name}", old, new)
    session.add(
        SettingsChange(
            team_id=team_id,
            setting=f"CLIENT {client.name}"[:60],
            old_value=old,
            new_value=new,
            changed_by=by,
            changed_at=now,
        )
    )
    return change


def mapped_clients(session: Session, team_id: str) -> list[tuple[str, ClientTier, str]]:
    """(name, tier, channel) of every client with a channel in this workspace, by name."""
    query = (
        select(Client.name, Client.tier, ClientChannel.channel_id)
        .join(ClientChannel, ClientChannel.client_id == Client.id)
        .where(ClientChannel.team_id == team_id)
        .order_by(Client.name_key)
    )
    return [(name, tier, channel) for name, tier, channel in session.execute(query)]


def client_of_channel(session: Session, team_id: str, channel_id: str) -> Client | None:
    """The client whose own channel this is, in this workspace."""
    query = (
        select(Client)
        .join(ClientChannel)
        .where(ClientChannel.team_id == team_id, ClientChannel.channel_id == channel_id)
    )
    return session.scalar(query)


def channel_of_client(session: Session, team_id: str, client_id: int) -> str | None:
    mapping = session.get(ClientChannel, (team_id, client_id))
    return mapping.channel_id if mapping else None
