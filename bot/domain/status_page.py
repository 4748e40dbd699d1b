"""What a public status page says: recent incidents, or why it could not be read (the correlation step's input)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

NOT_CONFIGURED = "not configured"
RESOLVED_STATUSES = frozenset({"resolved", "postmortem", "completed"})


@dataclass(frozen=True)
class StatusPageIncident:
    name: str
    status: str
    impact: str
    started_at: datetime
    link: str | None = None

    @property
    def resolved(self) -> bool:
        return self.status in RESOLVED_STATUSES


@dataclass(frozen=True)
class StatusPageResult:
    available: bool
    incidents: list[StatusPageIncident] = field(default_factory=list)
    error: str | None = None
