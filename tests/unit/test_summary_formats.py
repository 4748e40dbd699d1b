"""The summary and audit-trail exports: Markdown, HTML (one printed page, well-formed) and JSON (stable shape)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import html5lib
import pytest

from bot.domain.summary import (
    AuditEntry,
    AuditTrail,
    Deadline,
    DeadlineOutcome,
    EscalationItem,
    FeedbackItem,
    FollowUpItem,
    IncidentSummary,
    Milestones,
    StepItem,
    WhatHappened,
    WorkaroundItem,
    durations,
)
from bot.exports import (
    ExportFormat,
    audit_html,
    audit_json,
    audit_markdown,
    render_audit,
    render_summary,
    summary_html,
    summary_json,
    summary_markdown,
)
from bot.exports.summary_formats import md_block, md_inline, md_link
from bot.models import (
    ClientTier,
    EscalationKind,
    EscalationState,
    FeedbackTrack,
    IncidentStatus,
    Severity,
    TriageStep,
    WorkaroundKind,
    WorkaroundState,
)
from tests.conftest import T0

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")


def minutes(n: float) -> Any:
    return T0 + timedelta(minutes=n)


def an_entry(number: int, summary: str = "", **changes: Any) -> AuditEntry:
    entry = AuditEntry(
        number=number,
        event_id=100 + number,
        at=minutes(number),
        actor_id="UOWNER",
        kind="step",
        summary=summary or f"Troubleshooting step {number} (inconclusive): checked the proxy logs",
        details={"n": number},
    )
    return replace(entry, **changes)


def many_entries(count: int) -> tuple[AuditEntry, ...]:
    return tuple(an_entry(n) for n in range(1, count + 1))


def a_summary(**changes: Any) -> IncidentSummary:
    """A resolved SEV1 incident INC-7 with a met deadline, one correction, and something in every section."""
    milestones = Milestones(opened_at=T0, acknowledged_at=minutes(4), mitigated_at=minutes(41), resolved_at=minutes(95))
    summary = IncidentSummary(
        incident_id=7,
        key="INC-7",
        title="Exhibit upload fails at 99%",
        client_name="Hartley & Moss LLP",
        client_tier=ClientTier.PREMIUM,
        severity=Severity.SEV1,
        status=IncidentStatus.RESOLVED,
        workflow="document upload",
        region="eu-west",
        scope="region",
        reporter_id="UREP",
        owner_id="UOWNER",
        lead_id=None,
        is_major=False,
        what_happened=WhatHappened(
            blocker="Uploading the 250 MB exhibit bundle stops at 99%.",
            file_size="250 MB",
            browser="Chrome 126",
            os="Windows 11",
            started="today 09:40",
            frequency="every time",
            already_tried="Retried twice; same error in Edge.",
        ),
        milestones=milestones,
        durations=durations(milestones),
        deadline=Deadline(minutes(120), "court filing", DeadlineOutcome.MET),
        root_cause="The upload proxy timed out after 60 s on large bundles.",
        resolution="Raised the proxy timeout to 10 minutes.",
        follow_ups=(
            FollowUpItem("Alert on proxy timeouts", "UOPS", date(2026, 12, 4), "ENG-57", "https://jira.example/ENG-57"),
            FollowUpItem("Document the retry workaround", "USUPPORT", None, None, None),
        ),
        learnings=("Check the proxy before the CDN.",),
        escalations=(
            EscalationItem(
                kind=EscalationKind.ENGINEERING,
                label="Engineering handoff (Jira)",
                state=EscalationState.FILED,
                requested_by="UOWNER",
                requested_at=minutes(18),
                ticket_key="ENG-42",
                ticket_url="https://jira.example/ENG-42",
                external_status="In Progress",
            ),
        ),
        feedback=(
            FeedbackItem(
                FeedbackTrack.MESSAGING,
                "Messaging — confusing UI or error text",
                "uploads",
                "UPM",
                "Says 'Network error'",
                None,
                None,
            ),
        ),
        workarounds=(
            WorkaroundItem(
                kind=WorkaroundKind.RETRY_CYCLE,
                label="Retry cycle",
                description="Re-upload every 10 minutes",
                state=WorkaroundState.WORKED,
                owner_id="UOWNER",
                started_at=minutes(20),
                ended_at=minutes(40),
                end_reason="attempt #2 worked",
                attempts=2,
            ),
        ),
        steps=(
            StepItem(TriageStep.GATHER, "Immediate Action", True, "UREP", T0),
            StepItem(TriageStep.INVESTIGATE, "Investigate", True, "UOWNER", minutes(10)),
            StepItem(TriageStep.ISOLATE, "Isolate", False, None, None),
            StepItem(TriageStep.ESCALATE, "Escalate", True, "UOWNER", minutes(18)),
        ),
        timeline=(
            an_entry(1, "INC-7 opened for Hartley & Moss LLP: Exhibit upload fails at 99%", kind="opened"),
            an_entry(2, "Hypothesis (ruled out): the CDN", kind="hypothesis", corrected_by=(3,)),
            an_entry(3, "Correction: it was the upload proxy", kind="correction", corrects=2),
        ),
        generated_at=minutes(180),
        names=NAMES,
    )
    return replace(summary, **changes)


# What the directory knows; USUPPORT is someone Slack could not name.
NAMES = {"UREP": "Rae Reporter", "UOWNER": "Owen Owner", "UOPS": "Ola Ops", "UPM": "Pat PM"}


def a_trail(entries: tuple[AuditEntry, ...] | None = None) -> AuditTrail:
    summary = a_summary()
    timeline = summary.timeline if entries is None else entries
    return AuditTrail(7, "INC-7", summary.title, summary.client_name, timeline, names=NAMES)


def parse_html(document: str) -> Any:
    """The parsed document; html5lib in strict mode raises on any parse error."""
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(document)


HOSTILE = "<script>alert(1)</script> <!channel> *bold* [x](https://evil.example) | pipe"


def test_json_has_the_documented_shape_with_utc_times_and_seconds() -> None:
    document = json.loads(summary_json(a_summary()))
    assert document["format"] == "triage-bot/incident-summary" and document["version"] == 1
    assert list(document) == [
        "format",
        "version",
        "generated_at",
        "incident",
        "what_happened",
        "milestones",
        "durations_seconds",
        "deadline",
        "root_cause",
        "resolution",
        "follow_ups",
        "learnings",
        "escalations",
        "product_feedback",
        "workarounds",
        "steps",
        "timeline",
    ]
    assert document["generated_at"] == "2026-11-30T12:00:00Z"
    assert document["milestones"]["acknowledged_at"] == "2026-11-30T09:04:00Z"
    assert document["durations_seconds"] == {"to_acknowledge": 240, "to_mitigate": 2460, "to_resolve": 5700}
    assert document["deadline"] == {"at": "2026-11-30T11:00:00Z", "context": "court filing", "outcome": "met"}
    assert document["incident"]["client"] == {"name": "Hartley & Moss LLP", "tier": "premium"}
    assert document["follow_ups"][0] == {
        "description": "Alert on proxy timeouts",
        "owner_id": "UOPS",
        "owner_name": "Ola Ops",
        "due_on": "2026-12-04",
        "ticket_key": "ENG-57",
        "ticket_url": "https://jira.example/ENG-57",
    }
    assert document["workarounds"][0]["attempts"] == 2
    assert [(e["number"], e["corrects"], e["corrected_by"]) for e in document["timeline"]] == [
        (1, None, []),
        (2, None, [3]),
        (3, 2, []),
    ]
    assert "details" not in document["timeline"][0], "the summary's timeline is the short form; the audit has details"


def test_json_reports_milestones_not_reached_as_null() -> None:
    milestones = Milestones(opened_at=T0)
    summary = a_summary(
        milestones=milestones,
        durations=durations(milestones),
        deadline=Deadline(None, None, DeadlineOutcome.NONE),
        root_cause=None,
    )
    document = json.loads(summary_json(summary))
    assert document["durations_seconds"] == {"to_acknowledge": None, "to_mitigate": None, "to_resolve": None}
    assert document["deadline"] == {"at": None, "context": None, "outcome": "none"}
    assert document["root_cause"] is None


def test_html_is_a_complete_well_formed_document_with_print_css() -> None:
    document = summary_html(a_summary(), zone=UTC_ZONE)
    tree = parse_html(document)
    assert document.startswith("<!DOCTYPE html>")
    assert tree.find("head/title").text == "INC-7 · Exhibit upload fails at 99%"
    assert tree.find("head/meta").get("charset") == "utf-8"
    css = tree.find("head/style").text
    assert "@media print" in css and "@page" in css
    rows = tree.findall(".//table[@class='timeline']/tbody/tr")
    assert [r.get("id") for r in rows] == ["entry-1", "entry-2", "entry-3"]
    links = {a.text: a.get("href") for a in tree.iter("a")}
    assert links["corrects #2"] == "#entry-2" and links["corrected by #3"] == "#entry-3"
    assert links["ENG-42"] == "https://jira.example/ENG-42"


def test_html_escapes_everything_typed() -> None:
    hostile = a_summary(
        title=HOSTILE,
        root_cause=HOSTILE,
        learnings=(HOSTILE,),
        timeline=(an_entry(1, HOSTILE),),
        what_happened=WhatHappened(blocker=HOSTILE, browser=HOSTILE),
    )
    document = summary_html(hostile, zone=UTC_ZONE)
    tree = parse_html(document)
    assert "<script>" not in document
    assert (
        document.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 7
    )  # title, h1, blocker, browser, root cause, learning, entry
    assert not [a for a in tree.iter("a") if a.get("href", "").startswith("https://evil")]


def test_only_http_links_become_links() -> None:
    summary = a_summary(
        follow_ups=(FollowUpItem("Fix it", "UOPS", None, "ENG-9", "javascript:alert(1)"),),
        escalations=(),
    )
    document = summary_html(summary, zone=UTC_ZONE)
    parse_html(document)
    assert "javascript:" not in document
    assert "ENG-9" in document
    assert md_link("ENG-9", "javascript:alert(1)") == "ENG-9"
    assert md_link("ENG-9", "https://jira.example/a_(b)") == "[ENG-9](https://jira.example/a_%28b%29)"


def test_markdown_makes_typed_text_inert() -> None:
    document = summary_markdown(a_summary(title=HOSTILE, timeline=(an_entry(1, HOSTILE),)), zone=UTC_ZONE)
    escaped = md_inline(HOSTILE)
    assert escaped == r"\<script\>alert(1)\</script\> \<!channel\> \*bold\* \[x\](https://evil.example) \| pipe"
    assert document.startswith(f"# INC-7 · {escaped}\n")
    assert f"| 1 | 2026-11-30 09:01 UTC | Owen Owner | step | {escaped} |" in document


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("1. not a list", r"1\. not a list"),
        ("- not a bullet", r"\- not a bullet"),
        ("# not a heading", r"\# not a heading"),
        ("issue #2 stays", "issue #2 stays"),
        ("two\nlines", "two lines"),
        ("a_b `c` ~d~", r"a\_b \`c\` \~d\~"),
    ],
)
def test_markdown_inline_escaping(typed: str, shown: str) -> None:
    assert md_inline(typed) == shown


def test_markdown_blocks_keep_their_lines() -> None:
    assert md_block("first\n- second\n3) third", "> ") == "> first  \n> \\- second  \n> 3\\) third"


def test_markdown_shows_every_section_and_correction_links() -> None:
    document = summary_markdown(a_summary(), zone=UTC_ZONE)
    headings = [line for line in document.splitlines() if line.startswith("## ")]
    assert headings == [
        "## What happened",
        "## Timeline",
        "## Root cause",
        "## Resolution",
        "## Follow-up items",
        "## Key learnings",
        "## Escalations",
        "## Product feedback",
        "## Workarounds",
        "## Playbook steps",
    ]
    assert "| **Deadline** | 2026-11-30 11:00 UTC — court filing · **met** |" in document
    assert "| **Time to mitigate** | 41 min |" in document and "| **Time to resolve** | 1 h 35 min |" in document
    assert "Hypothesis (ruled out): the CDN _(corrected by #3)_" in document
    assert "Correction: it was the upload proxy _(corrects #2)_" in document
    assert (
        "- Alert on proxy timeouts — owner Ola Ops, due 2026-12-04, ticket [ENG-57](https://jira.example/ENG-57)"
        in document
    )
    assert "- Retry cycle (worked): Re-upload every 10 minutes — 2 attempts" in document


def test_markdown_says_what_was_not_recorded() -> None:
    milestones = Milestones(opened_at=T0)
    bare = a_summary(
        milestones=milestones,
        durations=durations(milestones),
        deadline=Deadline(None, None, DeadlineOutcome.NONE),
        root_cause=None,
        resolution=None,
        follow_ups=(),
        learnings=(),
        escalations=(),
        feedback=(),
        workarounds=(),
        what_happened=WhatHappened(blocker="It fails."),
        timeline=(),
    )
    document = summary_markdown(bare, zone=UTC_ZONE)
    assert "| **Deadline** | none given |" in document
    assert "| **Time to acknowledge** | not reached |" in document
    assert "_The environment was not recorded._" in document
    assert "_No events recorded._" in document
    assert document.count("_Not recorded._") == 2 and document.count("_None._") == 3
    assert "## Product feedback" not in document
    parse_html(summary_html(bare, zone=UTC_ZONE))


def test_times_are_shown_in_the_display_zone_and_stay_utc_in_json() -> None:
    summary = a_summary()
    assert "| **Opened** | 2026-11-30 10:00 CET by Rae Reporter |" in summary_markdown(summary, zone=BERLIN)
    assert "| **Opened** | 2026-11-30 04:00 EST by Rae Reporter |" in summary_markdown(
        summary, zone=ZoneInfo("America/New_York")
    )
    assert "2026-11-30 10:00 CET" in summary_html(summary, zone=BERLIN)
    assert "Times in Europe/Berlin" in summary_markdown(summary, zone=BERLIN)
    assert json.loads(summary_json(summary))["milestones"]["opened_at"] == "2026-11-30T09:00:00Z"


def test_a_5000_event_timeline_is_complete_in_every_format() -> None:
    entries = many_entries(5000)
    summary = a_summary(timeline=entries)
    markdown = summary_markdown(summary, zone=UTC_ZONE)
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and "Troubleshooting step" in line]
    assert len(rows) == 5000 and rows[-1].startswith("| 5000 | ")
    tree = parse_html(summary_html(summary, zone=UTC_ZONE))
    assert len(tree.findall(".//table[@class='timeline']/tbody/tr")) == 5000
    assert [e["number"] for e in json.loads(summary_json(summary))["timeline"]] == list(range(1, 5001))
    trail = a_trail(entries)
    assert len([line for line in audit_markdown(trail, zone=UTC_ZONE).splitlines() if line.startswith("| ")]) == 5002
    assert len(parse_html(audit_html(trail, zone=UTC_ZONE)).findall(".//tbody/tr")) == 5000
    assert len(json.loads(audit_json(trail))["entries"]) == 5000


def test_audit_trail_exports_carry_every_entry_with_links_and_details() -> None:
    trail = a_trail()
    document = json.loads(audit_json(trail))
    assert document["format"] == "triage-bot/audit-trail" and document["version"] == 1
    assert document["incident"] == {"id": 7, "key": "INC-7", "title": trail.title, "client": "Hartley & Moss LLP"}
    assert document["entries"][1] == {
        "number": 2,
        "event_id": 102,
        "at": "2026-11-30T09:02:00Z",
        "actor_id": "UOWNER",
        "actor_name": "Owen Owner",
        "kind": "hypothesis",
        "summary": "Hypothesis (ruled out): the CDN",
        "details": {"n": 2},
        "corrects": None,
        "corrected_by": [3],
    }
    markdown = audit_markdown(trail, zone=UTC_ZONE)
    assert markdown.startswith("# Audit trail · INC-7 · Exhibit upload fails at 99%\n")
    assert "3 entries, oldest first" in markdown and "_(corrects #2)_" in markdown
    tree = parse_html(audit_html(trail, zone=UTC_ZONE))
    assert tree.find("head/title").text == "Audit trail · INC-7 · Exhibit upload fails at 99%"


@pytest.mark.parametrize("export_format", list(ExportFormat))
def test_render_dispatches_on_the_format(export_format: ExportFormat) -> None:
    summary, trail = a_summary(), a_trail()
    expected_summary = {
        ExportFormat.MARKDOWN: summary_markdown(summary, zone=BERLIN),
        ExportFormat.HTML: summary_html(summary, zone=BERLIN),
        ExportFormat.JSON: summary_json(summary),
    }
    expected_audit = {
        ExportFormat.MARKDOWN: audit_markdown(trail, zone=BERLIN),
        ExportFormat.HTML: audit_html(trail, zone=BERLIN),
        ExportFormat.JSON: audit_json(trail),
    }
    assert render_summary(summary, export_format, zone=BERLIN) == expected_summary[export_format]
    assert render_audit(trail, export_format, zone=BERLIN) == expected_audit[export_format]
