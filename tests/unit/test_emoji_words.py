"""Every emoji that carries meaning also has words: the messages read right without an emoji font, and aloud.

The builders' output for a worked incident (root message, checklist, card, summary, audit trail, list, report,
thread replies) is cut into segments at the separators the messages use (` · `, ` — `, line ends); a segment
with an emoji must say something in words besides it. Severity dots name the severity, checklist marks say
done / to do, the deadline's alarm clock says soon, and the bot is named.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from blocks.escalation import internal_notice, lead_line, major_brief
from blocks.incident import Dashboard, Message, checklist_text, incident_card, oncall_reply, root_message
from blocks.lists import incident_list_blocks
from blocks.replies import (
    channel_escalation,
    correlation_reply,
    deadline_reminder,
    escalation_page,
    update_due_reminder,
)
from blocks.report import report_messages
from blocks.resolution import resolved_reply
from blocks.summary import audit_messages, summary_messages
from bot.domain.correlation import Correlation, CorrelationItem
from bot.domain.glossary import BOT_NAME, DONE, TO_DO
from bot.domain.triage import StepView
from bot.models import Event, FollowUp, IncidentStatus, Severity, TriageStep
from tests.builders import an_incident
from tests.conftest import T0
from tests.unit.report_samples import busy_report
from tests.unit.test_summary_formats import a_summary, a_trail

UTC = ZoneInfo("UTC")
EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u231a\u231b\u23e9-\u23fa]\ufe0f?")
SEPARATORS = re.compile(r" · | — |\n|  +| \| ")
SEVERITY_DOTS = {"🔴": Severity.SEV1, "🟠": Severity.SEV2, "🟡": Severity.SEV3, "🔵": Severity.SEV4}
WORD = re.compile(r"[A-Za-z]{2,}")


def _readable(text: str) -> str:
    """Slack's tokens as a reader sees them: `<@U1>` a name, `<url|label>` its label, a date its fallback."""
    text = re.sub(r"<[@#!][^|>]*\|([^>]*)>", r"\1", text)
    text = re.sub(r"<@[^>]*>", "@someone", text)
    text = re.sub(r"<#[^>]*>", "#channel", text)
    text = re.sub(r"<!subteam\^[^>]*>", "@group", text)
    return re.sub(r"<(https?://[^|>]*)\|([^>]*)>", r"\2", text)


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "text" and isinstance(inner, str):
                yield inner
            else:
                yield from _texts(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _texts(inner)


def _message_texts(messages: Iterable[Message]) -> Iterator[str]:
    for message in messages:
        yield message.text
        for block in message.blocks:
            yield from _texts(block.to_dict())


def _segments(texts: Iterable[str]) -> Iterator[str]:
    for text in texts:
        for segment in SEPARATORS.split(_readable(text)):
            if EMOJI.search(segment):
                yield segment.strip()


def _steps() -> list[StepView]:
    return [
        StepView(TriageStep.GATHER, "Immediate Action", True, "UREP", T0, None),
        StepView(TriageStep.INVESTIGATE, "Investigate", True, "bot", T0, None),
        StepView(TriageStep.ISOLATE, "Isolate", False, None, None, None),
        StepView(TriageStep.ESCALATE, "Escalate", False, None, None, None),
    ]


def _builder_output() -> list[str]:
    now = T0 + timedelta(minutes=30)
    incident = an_incident(
        deadline_at=T0 + timedelta(hours=1), deadline_context="court filing", is_major=True, lead_id="ULEAD"
    )
    dashboard = Dashboard(steps=_steps(), major_line=lead_line(incident), workaround_lines=["🔁 Retry cycle · owner"])
    bot_event = Event(at=T0, actor_id="bot", kind="correlation_checked", summary="Correlation checked")
    correlation = Correlation(
        items=[
            CorrelationItem("deployment", "uploader 2.4.1", None, T0, timedelta(minutes=5)),
            CorrelationItem("status_page", "S3 degraded", None, T0, timedelta(minutes=9)),
            CorrelationItem("incident", "INC-3 Acme: Slow", None, T0, timedelta(minutes=20)),
        ],
        status_page_available=True,
        window=timedelta(hours=6),
    )
    follow_up = FollowUp(description="Size check", owner_id="UOPS", due_on=None, wants_ticket=True)
    messages = [
        root_message(incident, now=now, zone=UTC, dashboard=dashboard),
        oncall_reply(incident, now=now, zone=UTC),
        *summary_messages(a_summary(), zone=UTC),
        *audit_messages(a_trail(), zone=UTC),
        *report_messages(busy_report(), zone=UTC),
        correlation_reply(incident, correlation),
        escalation_page(incident, mentions=["UONCALL"], waited_minutes=5, level=1),
        channel_escalation(incident, "Details in the incident thread.", 10),
        deadline_reminder(incident, now=now, zone=UTC, raised=True),
        update_due_reminder(incident, now, UTC),
        resolved_reply(incident, "UREP", [follow_up], 2, 1, jira_configured=False),
        internal_notice(incident, now=now, zone=UTC),
        major_brief(incident, lead_id="ULEAD", related=["INC-3"], now=now, zone=UTC),
    ]
    card = incident_card(incident, events=[bot_event], pending_deliveries=["root message"], now=now, zone=UTC)
    listed = incident_list_blocks(
        [an_incident(id=n, severity=s, status=IncidentStatus.NEW) for n, s in enumerate(Severity, 1)], now=now, zone=UTC
    )
    return [
        *_message_texts(messages),
        *(text for block in [*card, *listed] for text in _texts(block.to_dict())),
    ]


OUTPUT = _builder_output()
SEGMENTS = list(_segments(OUTPUT))


def test_the_corpus_has_the_meaningful_emoji() -> None:
    joined = "\n".join(OUTPUT)
    assert all(mark in joined for mark in ["✅", "⬜", "⏰", "🤖", *SEVERITY_DOTS]), "the test looks at them all"


@pytest.mark.parametrize("segment", SEGMENTS)
def test_an_emoji_never_stands_for_words(segment: str) -> None:
    assert WORD.search(EMOJI.sub("", segment)), f"only an emoji says this: {segment!r}"


def test_severity_dots_name_the_severity() -> None:
    for text in OUTPUT:
        for found in re.finditer("[🔴🟠🟡🔵]", text):
            after = text[found.end() : found.end() + 8].lstrip(" *")
            assert after.startswith(SEVERITY_DOTS[found[0]].value), f"{found[0]} without its name in {text!r}"


def test_checklist_marks_say_done_or_to_do_and_the_bot_is_named() -> None:
    checklist = checklist_text(_steps(), UTC)
    parts = checklist.removeprefix("*Triage*  ").split("  ·  ")
    assert parts[0].startswith(f"✅ *Immediate Action* {DONE} by <@UREP> ")
    assert parts[1].startswith(f"✅ *Investigate* {DONE} by {BOT_NAME} ")
    assert parts[2:] == [f"⬜ Isolate ({TO_DO})", f"⬜ Escalate ({TO_DO})"]
    for text in OUTPUT:
        assert all(text[m.end() :].startswith(f" {BOT_NAME}") for m in re.finditer("🤖", text)), text


def test_the_deadline_alarm_clock_says_soon() -> None:
    deadlines = [text for text in OUTPUT if "⏰" in text and "acknowledged" not in text]
    assert deadlines, "a close deadline is in the corpus"
    assert all("⏰ soon, in " in text for text in deadlines)
