"""ORM models. Times are UTC; every domain change appends an `Event` (the audit trail)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.db import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON().with_variant(JSONB(), "postgresql")}


class Severity(enum.StrEnum):
    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"
    SEV4 = "SEV4"


class IncidentStatus(enum.StrEnum):
    NEW = "new"
    INVESTIGATING = "investigating"
    ESCALATED = "escalated"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    CLOSED = "closed"


class ClientTier(enum.StrEnum):
    PREMIUM = "premium"
    STANDARD = "standard"


class TriageStep(enum.StrEnum):
    """The playbook's Triage & Investigation Steps, in order."""

    GATHER = "gather"
    INVESTIGATE = "investigate"
    ISOLATE = "isolate"
    ESCALATE = "escalate"


class StepState(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"


class Scope(enum.StrEnum):
    """How far an incident reaches, as the Isolate step decides."""

    ACCOUNT = "account"
    REGION = "region"
    WORKFLOW = "workflow"
    SYSTEMIC = "systemic"


class EscalationKind(enum.StrEnum):
    """The playbook's four escalation paths."""

    INTERNAL = "internal"
    ENGINEERING = "engineering"
    PRODUCT_FEEDBACK = "product_feedback"
    INCIDENT_MANAGEMENT = "incident_management"


class EscalationState(enum.StrEnum):
    PENDING = "pending"
    FILED = "filed"
    FAILED = "failed"
    NOT_CONFIGURED = "not_configured"


class FeedbackTrack(enum.StrEnum):
    """The playbook's three product-feedback tracks."""

    STABILITY = "stability"
    MESSAGING = "messaging"
    MONITORING = "monitoring"


class WorkaroundKind(enum.StrEnum):
    """The playbook's time-boxed workarounds."""

    RETRY_CYCLE = "retry_cycle"
    BATCHING = "batching"
    FORMAT_CHANGE = "format_change"
    MANUAL_OVERRIDE = "manual_override"


class WorkaroundState(enum.StrEnum):
    ACTIVE = "active"
    WORKED = "worked"
    STOPPED = "stopped"


class AttemptOutcome(enum.StrEnum):
    WORKED = "worked"
    STILL_FAILING = "still_failing"
    ERROR_CHANGED = "error_changed"


class OutboxState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SUPERSEDED = "superseded"


def _enum(cls: type[enum.Enum]) -> Enum:
    """Enums stored as short strings (no native PostgreSQL type) so migrations stay simple on both dialects."""
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True, doc="lower-cased name for lookups")
    tier: Mapped[ClientTier] = mapped_column(_enum(ClientTier), default=ClientTier.STANDARD)
    created_at: Mapped[datetime]

    incidents: Mapped[list[Incident]] = relationship(back_populates="client")


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_status_deadline", "status", "deadline_at"),
        Index("ix_incidents_opened_at", "opened_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    severity: Mapped[Severity] = mapped_column(_enum(Severity))
    status: Mapped[IncidentStatus] = mapped_column(_enum(IncidentStatus), default=IncidentStatus.NEW)
    scope: Mapped[str | None] = mapped_column(String(20))
    workflow: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(100))
    blocker: Mapped[str] = mapped_column(Text)
    deadline_at: Mapped[datetime | None]
    deadline_context: Mapped[str | None] = mapped_column(String(300))
    team_id: Mapped[str | None] = mapped_column(
        String(32), index=True, doc="Slack workspace (T…) it was opened in; None before workspaces were recorded"
    )
    channel_id: Mapped[str] = mapped_column(String(40), doc="channel where the incident was opened")
    root_ts: Mapped[str | None] = mapped_column(String(40), doc="ts of the root message once posted")
    root_permalink: Mapped[str | None] = mapped_column(String(500), doc="link to the root message and its thread")
    source_link: Mapped[str | None] = mapped_column(String(500), doc="the message it was opened from, if any")
    reporter_id: Mapped[str] = mapped_column(String(40))
    owner_id: Mapped[str | None] = mapped_column(String(40))
    oncall_id: Mapped[str | None] = mapped_column(String(40), doc="who was paged when it opened")
    oncall_team: Mapped[str | None] = mapped_column(String(100), doc="rotation that was on call when it opened")
    lead_id: Mapped[str | None] = mapped_column(String(40))
    is_major: Mapped[bool] = mapped_column(Boolean, default=False)
    major_channel_id: Mapped[str | None] = mapped_column(String(40))
    opened_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    mitigated_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    next_update_due_at: Mapped[datetime | None]
    root_cause: Mapped[str | None] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]
    idempotency_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    client: Mapped[Client] = relationship(back_populates="incidents", lazy="joined")
    environment: Mapped[Environment | None] = relationship(
        back_populates="incident", uselist=False, lazy="joined", cascade="all, delete-orphan"
    )
    events: Mapped[list[Event]] = relationship(
        back_populates="incident", order_by="Event.id", cascade="all, delete-orphan"
    )

    @property
    def key(self) -> str:
        """The human key shown in every message: INC-<number>."""
        return f"INC-{self.id}"

    @property
    def is_open(self) -> bool:
        return self.status not in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED)


class Environment(Base):
    """The client's environment — the playbook's Immediate Action, recorded before troubleshooting."""

    __tablename__ = "environments"
    __table_args__ = (Index("ix_environments_incident_browser_os", "incident_id", "browser", "os"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), unique=True)
    file_size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    file_size_text: Mapped[str | None] = mapped_column(String(50))
    browser: Mapped[str | None] = mapped_column(String(100), doc="browser family, e.g. Chrome")
    browser_version: Mapped[str | None] = mapped_column(String(50))
    os: Mapped[str | None] = mapped_column(String(100))
    started_text: Mapped[str | None] = mapped_column(String(300))
    frequency: Mapped[str | None] = mapped_column(String(30))
    already_tried: Mapped[str | None] = mapped_column(Text)

    incident: Mapped[Incident] = relationship(back_populates="environment")


class Event(Base):
    """One audit-trail entry. Append-only: a correction is a new event that refers to the old one."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_incident_at", "incident_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    actor_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    refers_to_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))

    incident: Mapped[Incident] = relationship(back_populates="events")


class OutboxMessage(Base):
    """An outbound call that must not be lost: kept until delivered, retried with backoff."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_state_next", "state", "next_attempt_at"),
        # The claim orders pending rows by id; without this it scans and sorts the whole backlog per row.
        Index(
            "ix_outbox_pending_id",
            "id",
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
        # The claim takes the most urgent due row first (a new incident's root and page before routine check-ins).
        Index(
            "ix_outbox_pending_priority_id",
            "priority",
            "id",
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
        Index("ix_outbox_lane", "lane"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    target: Mapped[str] = mapped_column(String(20), doc="slack or jira")
    operation: Mapped[str] = mapped_column(String(60), doc="e.g. chat.postMessage")
    purpose: Mapped[str] = mapped_column(String(40), doc="root_message, root_update, thread_reply, ...")
    payload: Mapped[dict[str, Any]]
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    state: Mapped[OutboxState] = mapped_column(_enum(OutboxState), default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    priority: Mapped[int] = mapped_column(Integer, default=5, server_default=text("5"), doc="1 urgent … 9 routine")
    lane: Mapped[str | None] = mapped_column(String(80), doc="the channel budget it is paced by (workspace:channel)")
    limited_until: Mapped[datetime | None] = mapped_column(doc="waiting for Slack's rate limit until then")


class SlackDelivery(Base):
    """Slack deliveries already handled, so a retried delivery (X-Slack-Retry-Num) is acknowledged, not redone."""

    __tablename__ = "slack_deliveries"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)


class TriageStepRecord(Base):
    """State of one playbook step for one incident, with who completed it and when."""

    __tablename__ = "triage_steps"
    __table_args__ = (UniqueConstraint("incident_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    step: Mapped[TriageStep] = mapped_column(_enum(TriageStep))
    state: Mapped[StepState] = mapped_column(_enum(StepState), default=StepState.PENDING)
    done_by: Mapped[str | None] = mapped_column(String(40))
    done_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)


class IncidentLink(Base):
    """Two incidents found to share a cause (stored once per direction)."""

    __tablename__ = "incident_links"
    __table_args__ = (UniqueConstraint("incident_id", "related_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    related_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(300))
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]


class Deployment(Base):
    """A deployment reported by a CI/CD pipeline through `POST /hooks/deployments`."""

    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(primary_key=True)
    service: Mapped[str] = mapped_column(String(120))
    version: Mapped[str] = mapped_column(String(120))
    environment: Mapped[str] = mapped_column(String(60))
    deployed_at: Mapped[datetime] = mapped_column(index=True)
    link: Mapped[str | None] = mapped_column(String(500))
    received_at: Mapped[datetime]


class OncallTeam(Base):
    """A rotation: members take turns, handing off at a local time every `rotation_days` days."""

    __tablename__ = "oncall_teams"
    __table_args__ = (
        UniqueConstraint("workspace", "name"),
        # A single-workspace install's rotations have no workspace; their names are unique among themselves too.
        Index(
            "uq_oncall_teams_name_without_workspace",
            "name",
            unique=True,
            postgresql_where=text("workspace IS NULL"),
            sqlite_where=text("workspace IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace: Mapped[str | None] = mapped_column(
        String(32), doc="Slack workspace (T…) whose incidents it pages; None: a single-workspace install"
    )
    name: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(60), default="UTC")
    handoff_time: Mapped[str] = mapped_column(String(5), default="09:00", doc="HH:MM in the team's zone")
    rotation_days: Mapped[int] = mapped_column(Integer, default=7)
    starts_on: Mapped[str] = mapped_column(String(10), doc="YYYY-MM-DD of the first handoff to member 0")
    escalation_channel_id: Mapped[str | None] = mapped_column(String(40))
    leads: Mapped[list[str]] = mapped_column(
        JSON, default=list, server_default=text("'[]'"), doc="Slack user ids who may override it besides members"
    )
    created_at: Mapped[datetime]

    members: Mapped[list[OncallMember]] = relationship(
        order_by="OncallMember.position", cascade="all, delete-orphan", lazy="selectin"
    )


class OncallMember(Base):
    __tablename__ = "oncall_members"
    __table_args__ = (UniqueConstraint("team_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("oncall_teams.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[str] = mapped_column(String(40))


class OncallOverride(Base):
    """Someone covering a team's rotation for a period."""

    __tablename__ = "oncall_overrides"
    __table_args__ = (Index("ix_oncall_overrides_team_period", "team_id", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("oncall_teams.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(40))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]
    cancelled_by: Mapped[str | None] = mapped_column(String(40), doc="who ended it early (its end moved to then)")
    cancelled_at: Mapped[datetime | None]


class Timer(Base):
    """Every timed behaviour (acknowledgement escalation, update reminders, check-ins, …) as one due row.

    The scheduler's tick claims due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and hands each to the
    domain, which re-checks that the work is still wanted before anything is posted.
    """

    __tablename__ = "timers"
    __table_args__ = (
        Index("ix_timers_due", "done_at", "due_at"),
        Index(
            "ix_timers_pending_due",
            "due_at",
            "id",
            postgresql_where=text("done_at IS NULL"),
            sqlite_where=text("done_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    due_at: Mapped[datetime]
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    workaround_id: Mapped[int | None] = mapped_column(Integer)
    sequence: Mapped[int] = mapped_column(Integer, default=1, doc="attempt number or escalation level")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]


class Escalation(Base):
    """One escalation of an incident along one path, and where it stands with the outside system."""

    __tablename__ = "escalations"
    __table_args__ = (Index("ix_escalations_incident_kind", "incident_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[EscalationKind] = mapped_column(_enum(EscalationKind))
    state: Mapped[EscalationState] = mapped_column(_enum(EscalationState), default=EscalationState.PENDING)
    requested_by: Mapped[str] = mapped_column(String(40))
    requested_at: Mapped[datetime]
    filed_at: Mapped[datetime | None]
    external_ref: Mapped[str | None] = mapped_column(String(120), doc="Jira key, channel id, or message ts")
    external_url: Mapped[str | None] = mapped_column(String(500))
    external_status: Mapped[str | None] = mapped_column(String(100), doc="last status seen in the outside system")
    last_error: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)


class Feedback(Base):
    """Product feedback filed from an incident, in one of the playbook's three tracks."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    escalation_id: Mapped[int | None] = mapped_column(ForeignKey("escalations.id", ondelete="SET NULL"))
    track: Mapped[FeedbackTrack] = mapped_column(_enum(FeedbackTrack))
    area: Mapped[str] = mapped_column(String(100))
    pm_user_id: Mapped[str | None] = mapped_column(String(40))
    use_case: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(index=True)


class Workaround(Base):
    """A time-boxed way to keep the client moving while the fix is not there."""

    __tablename__ = "workarounds"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[WorkaroundKind] = mapped_column(_enum(WorkaroundKind))
    state: Mapped[WorkaroundState] = mapped_column(_enum(WorkaroundState), default=WorkaroundState.ACTIVE)
    description: Mapped[str] = mapped_column(Text)
    client_expectation: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime]
    ends_at: Mapped[datetime] = mapped_column(doc="end of the time box")
    interval_minutes: Mapped[int | None] = mapped_column(Integer, doc="retry cycles: minutes between check-ins")
    batches_done: Mapped[int | None] = mapped_column(Integer)
    batches_total: Mapped[int | None] = mapped_column(Integer)
    failing_element: Mapped[str | None] = mapped_column(String(300))
    progress_note: Mapped[str | None] = mapped_column(Text, doc="status of a format change or manual override")
    last_error: Mapped[str | None] = mapped_column(Text, doc="the error as last reported, to notice when it changes")
    stopped_at: Mapped[datetime | None]
    stop_reason: Mapped[str | None] = mapped_column(String(300))


class Attempt(Base):
    """One answered retry check-in: what happened, and whether the error changed."""

    __tablename__ = "attempts"
    __table_args__ = (UniqueConstraint("workaround_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workaround_id: Mapped[int] = mapped_column(ForeignKey("workarounds.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    actor_id: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[AttemptOutcome] = mapped_column(_enum(AttemptOutcome))
    error_text: Mapped[str | None] = mapped_column(Text)
    error_changed: Mapped[bool] = mapped_column(Boolean, default=False)


class FollowUp(Base):
    """Work that comes out of a resolved incident: an owner, maybe a due date, maybe a Jira ticket."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[str] = mapped_column(String(40))
    due_on: Mapped[date | None]
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]
    wants_ticket: Mapped[bool] = mapped_column(Boolean, default=False, doc="turn into a Jira ticket")
    ticket_key: Mapped[str | None] = mapped_column(String(40))
    ticket_url: Mapped[str | None] = mapped_column(String(500))


class Learning(Base):
    """A key learning recorded at resolution, for the incident's summary and the period report."""

    __tablename__ = "learnings"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(index=True)


class OutboxSend(Base):
    """A `chat.postMessage` about to be made, committed on its own before the call.

    If the process dies after Slack accepted the post but before the delivery committed, the row is still
    pending and this record says a post may already exist: the next attempt looks for it in Slack (by the
    outbox key in the message's metadata) before posting again. Deleted when the delivery commits.
    """

    __tablename__ = "outbox_sends"

    outbox_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False, doc="no foreign key: see 0008")
    started_at: Mapped[datetime]
    worker: Mapped[str] = mapped_column(String(120))


class JiraTicket(Base):
    """A Jira issue the bot files, by its dedupe label: the key kept the moment Jira answers a create.

    Jira Cloud's search is eventually consistent, so a label search can miss an issue created a moment ago: the
    key kept here is the first line against filing twice. On PostgreSQL it is committed on a connection of its own
    as soon as Jira answers, so a crash before the delivery commits does not lose it. `attempted_at` without a key
    says a create was sent and its answer lost: Jira may have filed it, and its search may not show it yet.
    """

    __tablename__ = "jira_tickets"

    label: Mapped[str] = mapped_column(String(255), primary_key=True)
    project: Mapped[str] = mapped_column(String(100))
    key: Mapped[str | None] = mapped_column(String(120))
    issue_id: Mapped[str | None] = mapped_column(String(40))
    attempted_at: Mapped[datetime | None]
    filed_at: Mapped[datetime | None] = mapped_column(index=True)


class WorkspaceSettings(Base):
    """A workspace's own settings, set in Slack (`/triage settings`): environment names → values, over the defaults
    the environment gives. `team_id` "" is a single-workspace install. `version` grows with every save, so every
    replica sees a change at once (bot.services.workspace_settings)."""

    __tablename__ = "workspace_settings"

    team_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(40))


class SettingsChange(Base):
    """One setting changed in Slack: who, when, old → new (append-only, like the audit trail)."""

    __tablename__ = "settings_changes"
    __table_args__ = (Index("ix_settings_changes_team_at", "team_id", "changed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(20))
    setting: Mapped[str] = mapped_column(String(60))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(String(40))
    changed_at: Mapped[datetime]


class ClientChannel(Base):
    """A client's own (Slack Connect) channel in one workspace: where client updates may be sent, and whose
    messages open incidents for that client."""

    __tablename__ = "client_channels"
    __table_args__ = (UniqueConstraint("team_id", "channel_id", name="uq_client_channels_team_channel"),)

    team_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(20))
    set_by: Mapped[str] = mapped_column(String(40))
    set_at: Mapped[datetime]

    client: Mapped[Client] = relationship()


class SandboxClockState(Base):
    """How far `triage-bot sandbox` has fast-forwarded its clock (one row, written on every move), so the CLI reads
    the sandbox's database at the sandbox's time. Only a sandbox writes it: no row in a real bot's database."""

    __tablename__ = "sandbox_clock"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    offset_us: Mapped[int] = mapped_column(BigInteger, doc="sandbox time minus real time, in microseconds (never < 0)")
    updated_at: Mapped[datetime] = mapped_column(doc="real time of the last move")


class SlackName(Base):
    """What Slack calls a person, user group or channel (by id, per workspace), so exports and the CLI can name them
    without asking Slack. Filled as the bot meets ids (users.info, usergroups.list, conversations.info); `name` is
    None when Slack said it does not know the id. Asked again once `updated_at` is a day old."""

    __tablename__ = "slack_names"

    team_id: Mapped[str] = mapped_column(
        String(32), primary_key=True, doc="Slack workspace (T…) the id was looked up in; '' for a single workspace"
    )
    slack_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), doc="user, usergroup or channel")
    name: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(index=True)


class RateBudget(Base):
    """A token bucket pacing Slack calls, shared by every replica (bot.integrations.rate_budgets)."""

    __tablename__ = "rate_budgets"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime]
    paused_until: Mapped[datetime | None]
