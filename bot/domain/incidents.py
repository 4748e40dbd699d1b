"""Opening and finding incidents: the playbook's first minutes, recorded before troubleshooting begins."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import insert_once
from bot.domain.audit import record_event
from bot.domain.errors import DomainError, IncidentNotFound
from bot.domain.names import person_token
from bot.domain.sizes import format_file_size, parse_file_size
from bot.domain.workspaces import in_workspace, visible_in
from bot.models import Client, ClientTier, Environment, Incident, IncidentStatus, Severity

FREQUENCIES = ("every time", "intermittently", "happened once", "not sure")


class ReportField(enum.StrEnum):
    """The fields of a new-incident report, as the domain validates them."""

    CLIENT = "client"
    TITLE = "title"
    SEVERITY = "severity"
    DEADLINE = "deadline"
    DEADLINE_CONTEXT = "deadline_context"
    BLOCKER = "blocker"
    WORKFLOW = "workflow"
    REGION = "region"
    FILE_SIZE = "file_size"
    BROWSER = "browser"
    OS = "os"
    STARTED = "started"
    FREQUENCY = "frequency"
    ALREADY_TRIED = "already_tried"


# Longest accepted text per field; chosen so the root message stays inside Slack's block limits.
TEXT_LIMITS: dict[ReportField, int] = {
    ReportField.CLIENT: 150,
    ReportField.TITLE: 120,
    ReportField.DEADLINE_CONTEXT: 200,
    ReportField.BLOCKER: 2500,
    ReportField.WORKFLOW: 100,
    ReportField.REGION: 60,
    ReportField.FILE_SIZE: 40,
    ReportField.BROWSER: 80,
    ReportField.OS: 80,
    ReportField.STARTED: 200,
    ReportField.ALREADY_TRIED: 2000,
}


@dataclass(frozen=True)
class EnvironmentReport:
    """The client's environment, as typed: the playbook's Immediate Action."""

    file_size: str | None = None
    browser: str | None = None
    os: str | None = None
    started: str | None = None
    frequency: str | None = None
    already_tried: str | None = None


@dataclass(frozen=True)
class DetailsReport:
    """Where the problem happens and the client's environment: asked when opening, completed with Add details."""

    workflow: str | None = None
    region: str | None = None
    environment: EnvironmentReport = field(default_factory=EnvironmentReport)

    def text_of(self, report_field: ReportField) -> str | None:
        env = self.environment
        texts = {
            ReportField.WORKFLOW: self.workflow,
            ReportField.REGION: self.region,
            ReportField.FILE_SIZE: env.file_size,
            ReportField.BROWSER: env.browser,
            ReportField.OS: env.os,
            ReportField.STARTED: env.started,
            ReportField.ALREADY_TRIED: env.already_tried,
        }
        return texts.get(report_field)


@dataclass(frozen=True)
class IncidentReport:
    client_name: str | None
    title: str | None
    severity: Severity | None
    blocker: str | None
    premium: bool = False
    deadline_at: datetime | None = None
    deadline_context: str | None = None
    workflow: str | None = None
    region: str | None = None
    environment: EnvironmentReport = field(default_factory=EnvironmentReport)

    @property
    def details(self) -> DetailsReport:
        return DetailsReport(workflow=self.workflow, region=self.region, environment=self.environment)

    def text_of(self, report_field: ReportField) -> str | None:
        """The raw text the person typed into a field, wherever it lives in the report."""
        texts = {
            ReportField.CLIENT: self.client_name,
            ReportField.TITLE: self.title,
            ReportField.DEADLINE_CONTEXT: self.deadline_context,
            ReportField.BLOCKER: self.blocker,
        }
        return texts[report_field] if report_field in texts else self.details.text_of(report_field)


@dataclass(frozen=True)
class OpenedIncident:
    incident: Incident
    created: bool


def validate_report(report: IncidentReport, *, now: datetime) -> dict[ReportField, str]:
    """Problems per field, worded for the person who typed them; empty when the report can be opened."""
    problems: dict[ReportField, str] = {}
    required = {
        ReportField.CLIENT: "Name the client or account.",
        ReportField.TITLE: "Give the incident a short title.",
        ReportField.BLOCKER: "Describe the blocker in the client's words.",
    }
    for report_field, message in required.items():
        if not (report.text_of(report_field) or "").strip():
            problems[report_field] = message
    if report.severity is None:
        problems[ReportField.SEVERITY] = "Choose a severity."
    for report_field in (ReportField.CLIENT, ReportField.TITLE, ReportField.DEADLINE_CONTEXT, ReportField.BLOCKER):
        text = report.text_of(report_field)
        if text is not None and len(text) > TEXT_LIMITS[report_field]:
            problems[report_field] = f"Keep this under {TEXT_LIMITS[report_field]} characters (it has {len(text)})."
    if report.deadline_at is not None and report.deadline_at <= now:
        problems[ReportField.DEADLINE] = "The deadline is in the past. Pick a future date and time, or leave it empty."
    return {**problems, **validate_details(report.details)}


def validate_details(details: DetailsReport) -> dict[ReportField, str]:
    """Problems in the workflow, region and environment fields."""
    problems: dict[ReportField, str] = {}
    for report_field, limit in TEXT_LIMITS.items():
        text = details.text_of(report_field)
        if text is not None and len(text) > limit:
            problems[report_field] = f"Keep this under {limit} characters (it has {len(text)})."
    size_text = details.environment.file_size
    if size_text and size_text.strip() and ReportField.FILE_SIZE not in problems:
        try:
            parse_file_size(size_text)
        except ValueError:
            problems[ReportField.FILE_SIZE] = "Enter a size such as 250 MB, 1.2GB, 3 GiB or 800k."
    freq = details.environment.frequency
    if freq is not None and freq not in FREQUENCIES:
        problems[ReportField.FREQUENCY] = "Choose how often it happens."
    return problems


_BROWSER = re.compile(r"^(?P<family>.*?)[\s/]*v?(?P<version>\d[\w.]*)\s*$")


def split_browser(text: str) -> tuple[str, str | None]:
    """`Chrome 126.0.1` -> ('Chrome', '126.0.1'); a browser with no version keeps its whole name."""
    match = _BROWSER.match(text.strip())
    if match and match.group("family"):
        return match.group("family").strip(), match.group("version")
    return text.strip(), None


def _clean(text: str | None) -> str | None:
    stripped = (text or "").strip()
    return stripped or None


def find_or_create_client(*, session: Session, name: str, premium: bool, now: datetime) -> Client:
    """The client by case-insensitive name; marking it premium upgrades it, never downgrades it."""
    name_key = name.strip().casefold()
    fresh = Client(name=name.strip(), name_key=name_key, tier=ClientTier.STANDARD, created_at=now)
    client, _ = insert_once(session, fresh, match=Client.name_key == name_key)
    if premium and client.tier != ClientTier.PREMIUM:
        client.tier = ClientTier.PREMIUM
    return client


def _environment_from(report: EnvironmentReport) -> Environment:
    size_text = _clean(report.file_size)
    browser_text = _clean(report.browser)
    family, version = split_browser(browser_text) if browser_text else (None, None)
    return Environment(
        file_size_text=size_text,
        file_size_bytes=parse_file_size(size_text) if size_text else None,
        browser=family,
        browser_version=version,
        os=_clean(report.os),
        started_text=_clean(report.started),
        frequency=report.frequency,
        already_tried=_clean(report.already_tried),
    )


def environment_details(environment: Environment | None) -> dict[str, str]:
    """The recorded environment as label -> value, only what is known."""
    if environment is None:
        return {}
    browser = " ".join(p for p in (environment.browser, environment.browser_version) if p)
    size = environment.file_size_text
    if environment.file_size_bytes is not None and format_file_size(environment.file_size_bytes) != size:
        size = f"{environment.file_size_text} ({format_file_size(environment.file_size_bytes)})"
    pairs = {
        "File size": size,
        "Browser": browser or None,
        "OS": environment.os,
        "Started": environment.started_text,
        "Frequency": environment.frequency,
        "Already tried": environment.already_tried,
    }
    return {label: value for label, value in pairs.items() if value}


def open_incident(
    *,
    session: Session,
    report: IncidentReport,
    reporter_id: str,
    channel_id: str,
    oncall_id: str | None,
    idempotency_key: str,
    now: datetime,
) -> OpenedIncident:
    """Store a validated report as a new incident; the same idempotency key always yields the same incident."""
    existing = session.scalar(select(Incident).where(Incident.idempotency_key == idempotency_key))
    if existing is not None:
        return OpenedIncident(existing, created=False)
    try:
        with session.begin_nested():
            incident = _new_incident(session, report, reporter_id, channel_id, oncall_id, idempotency_key, now)
    except IntegrityError:
        duplicate = session.scalars(select(Incident).where(Incident.idempotency_key == idempotency_key)).one()
        return OpenedIncident(duplicate, created=False)
    return OpenedIncident(incident, created=True)


def _new_incident(
    session: Session,
    report: IncidentReport,
    reporter_id: str,
    channel_id: str,
    oncall_id: str | None,
    idempotency_key: str,
    now: datetime,
) -> Incident:
    assert report.client_name and report.title and report.severity and report.blocker, "validate_report first"
    client = find_or_create_client(session=session, name=report.client_name, premium=report.premium, now=now)
    incident = Incident(
        title=report.title.strip(),
        client=client,
        severity=report.severity,
        status=IncidentStatus.NEW,
        workflow=_clean(report.workflow),
        region=_clean(report.region),
        blocker=report.blocker.strip(),
        deadline_at=report.deadline_at,
        deadline_context=_clean(report.deadline_context),
        channel_id=channel_id,
        reporter_id=reporter_id,
        oncall_id=oncall_id,
        opened_at=now,
        updated_at=now,
        idempotency_key=idempotency_key,
        environment=_environment_from(report.environment),
    )
    session.add(incident)
    session.flush()
    _record_opening(session, incident, now)
    return incident


def _record_opening(session: Session, incident: Incident, now: datetime) -> None:
    details = {
        "client": incident.client.name,
        "tier": incident.client.tier.value,
        "title": incident.title,
        "severity": incident.severity.value,
        "blocker": incident.blocker,
        "deadline_at": incident.deadline_at.isoformat() if incident.deadline_at else None,
        "deadline_context": incident.deadline_context,
        "workflow": incident.workflow,
        "region": incident.region,
        "channel_id": incident.channel_id,
    }
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id=incident.reporter_id,
        kind="opened",
        summary=f"{incident.key} opened for {incident.client.name}: {incident.title}",
        details=details,
    )
    environment = environment_details(incident.environment)
    record_event(
        session=session,
        incident=incident,
        at=now,
        actor_id=incident.reporter_id,
        kind="environment_recorded",
        summary="Environment recorded: " + (", ".join(environment) if environment else "nothing given yet"),
        details=environment,
    )
    if incident.oncall_id:
        record_event(
            session=session,
            incident=incident,
            at=now,
            actor_id="bot",
            kind="oncall_paged",
            summary=f"On-call {person_token(incident.oncall_id)} paged",
            details={"oncall_id": incident.oncall_id},
            refs=[incident.oncall_id],
        )


_KEY = re.compile(r"^\s*(?:inc-?)?(\d{1,9})\s*$", re.IGNORECASE)


def parse_incident_key(reference: str) -> int | None:
    """`INC-7`, `inc7` or `7` -> 7; anything else -> None."""
    match = _KEY.match(reference)
    return int(match.group(1)) if match else None


def load_incident(session: Session, incident_id: int, workspace: str | None = None) -> Incident:
    """INC-`incident_id`, if `workspace` may see it (see `visible_in`); IncidentNotFound otherwise."""
    incident = session.get(Incident, incident_id)
    if incident is None or not visible_in(incident, workspace):
        raise IncidentNotFound(f"INC-{incident_id}")
    return incident


def load_incident_by_key(*, session: Session, reference: str, workspace: str | None = None) -> Incident:
    """The incident a person named (`INC-7`, `inc7`, `7`), as `load_incident`."""
    number = parse_incident_key(reference)
    if number is None:
        raise IncidentNotFound(reference.strip() or "(none given)")
    return load_incident(session, number, workspace)


FINISHED = (IncidentStatus.RESOLVED, IncidentStatus.CLOSED)


def list_open_incidents(*, session: Session, limit: int | None = 50, workspace: str | None = None) -> list[Incident]:
    """Open incidents (of `workspace`), the nearest deadline first; those with no deadline after, newest first."""
    query = (
        select(Incident)
        .where(Incident.status.not_in(FINISHED), in_workspace(workspace))
        .order_by(Incident.deadline_at.asc().nulls_last(), Incident.opened_at.desc())
        .limit(limit)
    )
    return list(session.scalars(query).unique())


def list_finished_incidents(*, session: Session, workspace: str | None = None) -> list[Incident]:
    """Resolved and closed incidents (of `workspace`), the latest opened first."""
    query = (
        select(Incident)
        .where(Incident.status.in_(FINISHED), in_workspace(workspace))
        .order_by(Incident.opened_at.desc(), Incident.id.desc())
    )
    return list(session.scalars(query).unique())


def update_details(
    *, session: Session, incident: Incident, actor_id: str, details: DetailsReport, now: datetime
) -> list[str]:
    """Apply the workflow, region and environment as now known; returns the labels of what changed."""
    if not incident.is_open:
        raise DomainError(f"{incident.key} is {incident.status.value}; its details can't change any more.")
    before = environment_details(incident.environment) | {
        "Workflow": incident.workflow or "",
        "Region": incident.region or "",
    }
    incident.workflow, incident.region = _clean(details.workflow), _clean(details.region)
    fresh = _environment_from(details.environment)
    if incident.environment is None:
        incident.environment = fresh
    else:
        for attr in (
            "file_size_text",
            "file_size_bytes",
            "browser",
            "browser_version",
            "os",
            "started_text",
            "frequency",
            "already_tried",
        ):
            setattr(incident.environment, attr, getattr(fresh, attr))
    after = environment_details(incident.environment) | {
        "Workflow": incident.workflow or "",
        "Region": incident.region or "",
    }
    changed = [label for label in after.keys() | before.keys() if before.get(label, "") != after.get(label, "")]
    changed.sort()
    if changed:
        incident.updated_at = now
        record_event(
            session=session,
            incident=incident,
            at=now,
            actor_id=actor_id,
            kind="details_added",
            summary="Details updated: " + ", ".join(changed),
            details={label: after.get(label, "") for label in changed},
        )
    return changed
