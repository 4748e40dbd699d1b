"""The bot's words for the playbook's things, in one place.

Block builders, services and exports take their labels from here, and `docs/glossary.md` is generated from it
(`python -m bot.domain.glossary > docs/glossary.md`; a test keeps the two in step): what a person reads in Slack,
in an export and in the docs is the same word for the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.models import (
    EscalationKind,
    EscalationState,
    FeedbackTrack,
    IncidentStatus,
    Scope,
    Severity,
    TriageStep,
    WorkaroundKind,
)

BOT_NAME = "triage-bot"

# The playbook's fourth escalation path ("activate the broader incident management process and assign a dedicated
# incident lead"). The UI says "incident management" for the path, the channel and the process; it does not say
# "major incident" (the setting MAJOR_INCIDENT_DECLARERS keeps its name).
INCIDENT_MANAGEMENT = "incident management"
INCIDENT_LEAD = "incident lead"

SEVERITY_MEANINGS: dict[Severity, str] = {
    Severity.SEV1: "Critical: the client is blocked and a deadline is at risk",
    Severity.SEV2: "Major: a core workflow is degraded, no workaround yet",
    Severity.SEV3: "Minor: impaired, but a workaround exists",
    Severity.SEV4: "Low: a question, cosmetic issue or single report",
}

STATUS_MEANINGS: dict[IncidentStatus, str] = {
    IncidentStatus.NEW: "opened, nobody has acknowledged it yet",
    IncidentStatus.INVESTIGATING: "acknowledged: its owner is reproducing and investigating",
    IncidentStatus.ESCALATED: "handed to engineering (a Jira issue) or to incident management",
    IncidentStatus.MITIGATED: "the client is unblocked (a workaround worked, say); the permanent fix is still to come",
    IncidentStatus.RESOLVED: "fixed: root cause, resolution and follow-ups recorded (it can be reopened)",
    IncidentStatus.CLOSED: "finished; nothing more will happen on it",
}

TRIAGE_STEPS: dict[TriageStep, str] = {
    TriageStep.GATHER: "Immediate Action",
    TriageStep.INVESTIGATE: "Investigate",
    TriageStep.ISOLATE: "Isolate",
    TriageStep.ESCALATE: "Escalate",
}
TRIAGE_STEP_MEANINGS: dict[TriageStep, str] = {
    TriageStep.GATHER: "file size, browser, OS and timing recorded before troubleshooting",
    TriageStep.INVESTIGATE: "a reproduction attempt logged; status pages and deployments checked",
    TriageStep.ISOLATE: "scope decided: one account, a region, a workflow, or systemic",
    TriageStep.ESCALATE: "the right team told, on one of the four escalation paths",
}

ESCALATION_PATHS: dict[EscalationKind, str] = {
    EscalationKind.INTERNAL: "internal notice",
    EscalationKind.ENGINEERING: "engineering handoff (Jira)",
    EscalationKind.PRODUCT_FEEDBACK: "product feedback",
    EscalationKind.INCIDENT_MANAGEMENT: INCIDENT_MANAGEMENT,
}
ESCALATION_PATH_MEANINGS: dict[EscalationKind, str] = {
    EscalationKind.INTERNAL: "Post a concise notice in the support/engineering channel and tag on-call",
    EscalationKind.ENGINEERING: "Create a Jira issue with reproduction, environment, impact and deadline",
    EscalationKind.PRODUCT_FEEDBACK: "A workflow pattern: file feedback for the area's product manager",
    EscalationKind.INCIDENT_MANAGEMENT: "Systemic (outage, region-wide, security): own channel and an incident lead",
}
ESCALATION_STATES: dict[EscalationState, str] = {
    EscalationState.PENDING: "in progress",
    EscalationState.FILED: "filed",
    EscalationState.FAILED: "failed",
    EscalationState.NOT_CONFIGURED: "recorded, not filed (not configured)",
}

WORKAROUND_KINDS: dict[WorkaroundKind, str] = {
    WorkaroundKind.RETRY_CYCLE: "Retry cycle",
    WorkaroundKind.BATCHING: "Batching",
    WorkaroundKind.FORMAT_CHANGE: "Format change",
    WorkaroundKind.MANUAL_OVERRIDE: "Manual override",
}
WORKAROUND_KIND_MEANINGS: dict[WorkaroundKind, str] = {
    WorkaroundKind.RETRY_CYCLE: "Try again every few minutes; each attempt is logged",
    WorkaroundKind.BATCHING: "Split into smaller batches to isolate the failing one",
    WorkaroundKind.FORMAT_CHANGE: "Convert to a format that bypasses the failing pipeline",
    WorkaroundKind.MANUAL_OVERRIDE: "Process it by hand where automation is blocked",
}

FEEDBACK_TRACKS: dict[FeedbackTrack, str] = {
    FeedbackTrack.STABILITY: "Stability",
    FeedbackTrack.MESSAGING: "Messaging",
    FeedbackTrack.MONITORING: "Monitoring",
}
FEEDBACK_TRACK_MEANINGS: dict[FeedbackTrack, str] = {
    FeedbackTrack.STABILITY: "crashes, timeouts",
    FeedbackTrack.MESSAGING: "confusing UI or error text",
    FeedbackTrack.MONITORING: "missing alerts or observability gaps",
}

SCOPES: dict[Scope, str] = {
    Scope.ACCOUNT: "One account (this client only)",
    Scope.REGION: "A region",
    Scope.WORKFLOW: "A specific workflow",
    Scope.SYSTEMIC: "Systemic (many accounts)",
}

# Checklist marks: the emoji is decoration, the word says it (no emoji font, screen readers).
DONE, TO_DO = "done", "to do"


def status_label(status: IncidentStatus) -> str:
    """`Investigating`: a status as a field value or at the start of a line."""
    return status.value.capitalize()


def path_title(kind: EscalationKind) -> str:
    """`Engineering handoff (Jira)`: a path's name starting a sentence, capitals inside kept."""
    label = ESCALATION_PATHS[kind]
    return label[:1].upper() + label[1:]


def track_with_meaning(track: FeedbackTrack) -> str:
    """`Stability — crashes, timeouts`, as the playbook puts it."""
    return f"{FEEDBACK_TRACKS[track]} — {FEEDBACK_TRACK_MEANINGS[track]}"


@dataclass(frozen=True)
class Section:
    title: str
    terms: tuple[tuple[str, str], ...]


def sections() -> tuple[Section, ...]:
    """The glossary as the docs show it: (term, meaning) pairs, grouped."""
    return (
        Section(
            "The incident",
            (
                ("incident", "one client's blocker, tracked from report to resolution as `INC-n`"),
                ("owner", "whoever acknowledged the incident or took ownership of it"),
                ("on-call", "the engineer paged when the incident opened"),
                (
                    INCIDENT_MANAGEMENT,
                    "the broader process for a systemic incident: its own channel, an incident lead, a pinned brief "
                    "(`/triage declare INC-n`). Anyone may start it, unless MAJOR_INCIDENT_DECLARERS names who may "
                    "(then they and workspace admins)",
                ),
                (INCIDENT_LEAD, f"who leads {INCIDENT_MANAGEMENT}, chosen when it starts"),
                ("deadline", "when the client needs to be unblocked (a court filing, a deployment)"),
                ("client update", "a plain-language message for the client: what we know, what we do, when next"),
                ("workaround", "a time-boxed way to keep the client moving while the fix is not there"),
                ("follow-up item", "work left after resolving, with an owner and maybe a due date"),
            ),
        ),
        Section("Severities", tuple((s.value, SEVERITY_MEANINGS[s]) for s in Severity)),
        Section("Statuses", tuple((status_label(s), STATUS_MEANINGS[s]) for s in IncidentStatus)),
        Section("Triage steps", tuple((TRIAGE_STEPS[t], TRIAGE_STEP_MEANINGS[t]) for t in TriageStep)),
        Section("Escalation paths", tuple((path_title(k), ESCALATION_PATH_MEANINGS[k]) for k in EscalationKind)),
        Section("Escalation states", tuple((ESCALATION_STATES[s], _STATE_MEANINGS[s]) for s in EscalationState)),
        Section("Workarounds", tuple((WORKAROUND_KINDS[k], WORKAROUND_KIND_MEANINGS[k]) for k in WorkaroundKind)),
        Section(
            "Product feedback tracks", tuple((FEEDBACK_TRACKS[t], FEEDBACK_TRACK_MEANINGS[t]) for t in FeedbackTrack)
        ),
        Section("Scopes", tuple((SCOPES[s], _SCOPE_MEANINGS[s]) for s in Scope)),
    )


_STATE_MEANINGS: dict[EscalationState, str] = {
    EscalationState.PENDING: "asked for; the bot is filing it (and retries when the other system is down)",
    EscalationState.FILED: "the other system has it: a Jira issue, a channel, a posted notice",
    EscalationState.FAILED: "could not be filed; the reason is shown",
    EscalationState.NOT_CONFIGURED: "recorded in the incident, but the system it goes to (Jira) is not configured",
}
_SCOPE_MEANINGS: dict[Scope, str] = {
    Scope.ACCOUNT: "only this client is affected",
    Scope.REGION: "clients in one region are affected",
    Scope.WORKFLOW: "one workflow is affected, for more than one client",
    Scope.SYSTEMIC: f"many accounts: an outage, region-wide degradation or security concern ({INCIDENT_MANAGEMENT})",
}


def markdown() -> str:
    """`docs/glossary.md`."""
    lines = [
        "# Glossary",
        "",
        f"The words {BOT_NAME} uses in Slack, in exports and in these docs. Generated from `bot/domain/glossary.py`",
        "(`python -m bot.domain.glossary > docs/glossary.md`); a test keeps the two in step.",
    ]
    for section in sections():
        lines += ["", f"## {section.title}", "", "| Term | Meaning |", "| --- | --- |"]
        lines += [f"| {term} | {meaning} |" for term, meaning in section.terms]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
