"""Small builders for test data."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bot.domain.incidents import EnvironmentReport, IncidentReport
from bot.models import Severity


def a_report(now: datetime, **changes: Any) -> IncidentReport:
    """A complete, valid report: premium law firm, SEV1, court filing in two hours."""
    report = IncidentReport(
        client_name="Hartley & Moss LLP",
        premium=True,
        title="Exhibit upload fails at 99%",
        severity=Severity.SEV1,
        deadline_at=now + timedelta(hours=2),
        deadline_context="court filing",
        blocker="Uploading the 250 MB exhibit bundle stops at 99% with 'Network error'.",
        workflow="document upload",
        region="eu-west",
        environment=EnvironmentReport(
            file_size="250 MB",
            browser="Chrome 126.0.6478",
            os="Windows 11",
            started="today 09:40, after the second upload",
            frequency="every time",
            already_tried="Retried twice; same error in Edge.",
        ),
    )
    return replace(report, **changes)
