"""Deployments reported by CI/CD pipelines, kept so an incident can be correlated with what shipped before it."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from urllib.parse import urlsplit

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import Deployment

ISO_HINT = "must be an ISO-8601 date-time with offset, e.g. 2026-11-30T08:45:00Z"


class DeploymentReport(BaseModel):
    """One deployment as a pipeline reports it; `deployed_at` defaults to the time it is received."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    service: str = Field(min_length=1, max_length=120)
    version: str = Field(min_length=1, max_length=120)
    environment: str = Field(default="production", min_length=1, max_length=60)
    deployed_at: AwareDatetime | None = None
    link: str | None = Field(default=None, max_length=500)

    @field_validator("deployed_at", mode="before")
    @classmethod
    def _iso_text(cls, value: object) -> object:
        """Text only: epoch numbers are ambiguous between seconds and milliseconds."""
        if value is None or isinstance(value, datetime):
            return value
        if not isinstance(value, str) or value.strip().replace(".", "", 1).isdigit():
            raise ValueError(ISO_HINT)
        return value

    @field_validator("deployed_at")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    @field_validator("link")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
            raise ValueError("must be an http(s) URL")
        return value


def record_deployment(*, session: Session, report: DeploymentReport, now: datetime) -> Deployment:
    """Store the deployment; an identical repeated report returns the row already stored."""
    deployed_at = report.deployed_at or now
    _serialize_identical_reports(session, report, deployed_at)
    existing = session.scalar(
        select(Deployment)
        .where(
            Deployment.service == report.service,
            Deployment.version == report.version,
            Deployment.environment == report.environment,
            Deployment.deployed_at == deployed_at,
        )
        .order_by(Deployment.id)
        .limit(1)
    )
    if existing is not None:
        return existing
    deployment = Deployment(
        service=report.service,
        version=report.version,
        environment=report.environment,
        deployed_at=deployed_at,
        link=report.link,
        received_at=now,
    )
    session.add(deployment)
    session.flush()
    return deployment


def _serialize_identical_reports(session: Session, report: DeploymentReport, deployed_at: datetime) -> None:
    """On PostgreSQL, make concurrent identical reports wait for each other (the table has no unique key)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    identity = "\x1f".join((report.service, report.version, report.environment, deployed_at.isoformat()))
    lock_key = int.from_bytes(hashlib.sha256(identity.encode()).digest()[:8], "big", signed=True)
    session.execute(select(func.pg_advisory_xact_lock(lock_key)))
