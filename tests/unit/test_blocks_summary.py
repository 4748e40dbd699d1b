"""The summary and the audit trail in Slack: escaped, inside Block Kit's limits, split rather than cut."""

from __future__ import annotations

import json
import re
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import HeaderBlock, SectionBlock

from blocks.incident import Message
from blocks.summary import MAX_BLOCKS, MESSAGE_TEXT_BUDGET, audit_messages, entry_line, summary_messages
from blocks.text import message_text_length, typed
from bot.domain.summary import Deadline, DeadlineOutcome, FollowUpItem, WhatHappened
from tests.conftest import T0
from tests.unit.test_summary_formats import HOSTILE, a_summary, a_trail, an_entry, many_entries

UTC_ZONE = ZoneInfo("UTC")


def assert_within_limits(message: Message) -> None:
    """What Slack enforces: 50 blocks, 3,000 per section text, 150 per header, ~12,000 characters in all."""
    assert 0 < len(message.blocks) <= MAX_BLOCKS
    assert message_text_length(message.blocks) <= MESSAGE_TEXT_BUDGET
    for block in message.blocks:
        payload = block.to_dict()  # slack_sdk validates the per-block limits here
        if isinstance(block, SectionBlock) and block.text is not None:
            assert len(payload["text"]["text"]) <= 3000
        if isinstance(block, HeaderBlock):
            assert len(payload["text"]["text"]) <= 150


def headers(messages: list[Message]) -> list[str]:
    return [b.to_dict()["text"]["text"] for m in messages for b in m.blocks if isinstance(b, HeaderBlock)]


def entry_numbers(messages: list[Message]) -> list[int]:
    text = "\n".join(json.dumps(m.as_args()["blocks"]) for m in messages)
    return [int(n) for n in re.findall(r"\*#(\d+)\*", text)]


def test_a_normal_incident_is_one_message_with_its_timeline() -> None:
    [message] = summary_messages(a_summary(), zone=UTC_ZONE)
    assert_within_limits(message)
    payload = json.dumps(message.as_args(), ensure_ascii=False)
    assert headers([message]) == ["📋 🔴 SEV1 · INC-7 · Exhibit upload fails at 99%"]
    for expected in (
        "*Client*\\nHartley &amp; Moss LLP · ⭐ Premium",
        "✅ *met*",
        "*Time to acknowledge*\\n4 min",
        "*Time to mitigate*\\n41 min",
        "*Time to resolve*\\n1 h 35 min",
        "*Root cause*\\nThe upload proxy timed out",
        "<https://jira.example/ENG-57|ENG-57>",
        "• Check the proxy before the CDN.",
        "• Engineering handoff (Jira): filed · <https://jira.example/ENG-42|ENG-42> (In Progress)",
        "• Retry cycle (worked): Re-upload every 10 minutes — 2 attempts, <@UOWNER>",
        "*Timeline* (3 entries)",
        "_(corrected by #3)_",
        "_(corrects #2)_",
    ):
        assert expected in payload
    assert entry_numbers([message]) == [1, 2, 3]


def test_a_500_event_timeline_is_split_over_messages_not_cut() -> None:
    small = summary_messages(a_summary(), zone=UTC_ZONE)[0]
    messages = summary_messages(a_summary(timeline=many_entries(500)), zone=UTC_ZONE)
    assert len(messages) > 2
    for message in messages:
        assert_within_limits(message)
    pages = len(messages) - 1
    assert headers(messages)[1:] == [f"Timeline ({n}/{pages}) · INC-7" for n in range(1, pages + 1)]
    assert [m.text for m in messages[1:]] == [f"INC-7 timeline ({n}/{pages})" for n in range(1, pages + 1)]
    assert entry_numbers(messages) == list(range(1, 501)), "every entry once, in order"
    first = messages[0]
    kinds = [type(b).__name__ for b in first.blocks]
    assert kinds[:-1] == [type(b).__name__ for b in small.blocks][:-2], "the summary keeps its shape"
    assert f"500 entries, in the next {pages} messages" in json.dumps(first.as_args())


def test_a_500_event_audit_trail_is_split_over_messages() -> None:
    messages = audit_messages(a_trail(many_entries(500)), zone=UTC_ZONE)
    assert len(messages) > 1
    for message in messages:
        assert_within_limits(message)
    pages = len(messages)
    assert headers(messages) == [f"🧾 Audit trail (1/{pages}) · INC-7 · Exhibit upload fails at 99%"] + [
        f"Audit trail ({n}/{pages}) · INC-7" for n in range(2, pages + 1)
    ]
    assert entry_numbers(messages) == list(range(1, 501))


def test_a_short_audit_trail_is_one_message_with_correction_links() -> None:
    [message] = audit_messages(a_trail(), zone=UTC_ZONE)
    assert_within_limits(message)
    payload = json.dumps(message.as_args(), ensure_ascii=False)
    assert headers([message]) == ["🧾 Audit trail · INC-7 · Exhibit upload fails at 99%"]
    assert "3 entries, oldest first" in payload
    assert "Hypothesis (ruled out): the CDN _(corrected by #3)_" in payload
    assert "Correction: it was the upload proxy _(corrects #2)_" in payload


def test_an_empty_audit_trail_says_so() -> None:
    [message] = audit_messages(a_trail(()), zone=UTC_ZONE)
    assert_within_limits(message)
    assert "_No events recorded._" in json.dumps(message.as_args())


def test_everything_typed_is_escaped() -> None:
    hostile = a_summary(
        title=HOSTILE,
        client_name=HOSTILE,
        workflow=HOSTILE,
        root_cause=HOSTILE,
        resolution=HOSTILE,
        learnings=(HOSTILE,),
        follow_ups=(FollowUpItem(HOSTILE, "UOPS", None, HOSTILE, None),),
        what_happened=WhatHappened(blocker=HOSTILE, browser=HOSTILE, already_tried=HOSTILE),
        timeline=(an_entry(1, HOSTILE),),
    )
    messages = summary_messages(hostile, zone=UTC_ZONE) + audit_messages(
        a_trail((an_entry(1, HOSTILE),)), zone=UTC_ZONE
    )
    for message in messages:
        assert_within_limits(message)
        payload = json.dumps(message.as_args(), ensure_ascii=False)
        assert "<!channel>" not in payload and "<script>" not in payload
        assert "<https://evil" not in payload
        assert "&lt;!channel&gt;" in payload


def test_oversized_fields_keep_the_shape_and_count_what_is_left_out() -> None:
    long_text = "Proxy & CDN <timeouts> " * 300
    huge = a_summary(
        title="T" * 500,
        client_name="C" * 150,
        root_cause=long_text,
        resolution=long_text,
        what_happened=WhatHappened(
            blocker=long_text,
            file_size="9" * 40,
            browser="B" * 80,
            os="O" * 80,
            started="S" * 200,
            frequency="intermittently",
            already_tried=long_text,
        ),
        deadline=Deadline(T0, "D" * 200, DeadlineOutcome.MISSED),
        follow_ups=tuple(
            FollowUpItem(f"{n} " + long_text, "UOPS", None, "ENG-1", "https://j.example/ENG-1") for n in range(100)
        ),
        learnings=tuple(f"{n} {long_text}" for n in range(100)),
        timeline=many_entries(3),
    )
    [message] = summary_messages(huge, zone=UTC_ZONE)
    assert_within_limits(message)
    normal = summary_messages(a_summary(), zone=UTC_ZONE)[0]
    assert [type(b) for b in message.blocks] == [type(b) for b in normal.blocks]
    payload = json.dumps(message.as_args(), ensure_ascii=False)
    assert re.search(r"…and 9\d more in `triage-bot export INC-7`", payload), "follow-ups left out are counted"
    assert payload.count("more in `triage-bot export INC-7`") == 2
    assert "&am…" not in payload and "&lt…" not in payload


def test_typed_cuts_visibly_and_never_inside_an_entity() -> None:
    assert typed("a & b", 20) == "a &amp; b"
    assert typed("&&&&&&", 9) == "&amp;…"
    cut = typed("x" * 10 + "<" * 10, 14)
    assert cut == "xxxxxxxxxx…" and len(cut) <= 14
    assert typed("one\n two", 50) == "one two"
    assert typed("one\ntwo", 50, one_line=False) == "one\ntwo"


def test_entry_lines_name_the_actor_and_cut_long_summaries() -> None:
    line = entry_line(an_entry(4, "x" * 1000, actor_id="bot"), UTC_ZONE)
    assert line.startswith("*#4* <!date^") and " · 🤖 triage-bot · " in line
    assert line.endswith("…") and len(line) < 450
    assert " · <@UOWNER> · " in entry_line(an_entry(5), UTC_ZONE)
