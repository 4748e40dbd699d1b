"""`/triage report` as Slack messages: within Block Kit's limits however much there is, typed text inert."""

from __future__ import annotations

import json
from typing import Any

import pytest

from blocks.incident import Message
from blocks.report import report_messages
from tests.unit.report_samples import busy_report, empty_report, feedback_only_report


def _dicts(message: Message) -> list[dict[str, Any]]:
    """The blocks as Slack receives them; slack_sdk raises here on any limit it knows (header, section, fields)."""
    return [block.to_dict() for block in message.blocks]


def _texts(value: object) -> list[str]:
    if isinstance(value, dict):
        return [v for k, v in value.items() if k == "text" and isinstance(v, str)] + [
            t for k, v in value.items() for t in _texts(v)
        ]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


def _assert_within_limits(messages: list[Message]) -> None:
    for message in messages:
        blocks = _dicts(message)
        assert 0 < len(blocks) <= 50
        assert sum(len(t) for t in _texts(blocks)) <= 12_000
        for block in blocks:
            if block["type"] == "section":
                assert len(block.get("text", {}).get("text", "")) <= 3000
                assert len(block.get("fields", [])) <= 10
                assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
            if block["type"] == "header":
                assert len(block["text"]["text"]) <= 150


def _all_text(messages: list[Message]) -> str:
    return "\n".join(m.text + "\n" + json.dumps(_dicts(m), ensure_ascii=False) for m in messages)


def test_a_busy_period_fits_one_message_with_every_part() -> None:
    messages = report_messages(busy_report())

    _assert_within_limits(messages)
    assert len(messages) == 1
    text = _all_text(messages)
    for part in ("Incidents opened", "By client", "Time to acknowledge", "Deadlines", "Recurring themes"):
        assert part in text
    for part in ("Product feedback filed", "*Stability* (2)", "*Messaging* (2)", "Key learnings"):
        assert part in text
    assert "60 (↑12 from 48)" in text
    assert "<https://jira.example.com/browse/PROD-1|PROD-1>" in text


@pytest.mark.parametrize(
    ("themes", "feedback", "learnings", "long_text"),
    [(300, 400, 300, 0), (100, 200, 200, 2500), (5, 1000, 0, 4000)],
)
def test_hundreds_of_themes_feedback_items_and_learnings_stay_within_block_kit_limits(
    themes: int, feedback: int, learnings: int, long_text: int
) -> None:
    report = busy_report(themes=themes, feedback_per_track=feedback, learnings=learnings, long_text=long_text)

    messages = report_messages(report)

    _assert_within_limits(messages)
    text = _all_text(messages)
    assert "more themes" in text or themes <= 15
    assert f"…and {feedback - 25} more items" in text
    assert "`triage-bot report --format md`" in text


def test_messages_after_the_first_say_they_continue() -> None:
    messages = report_messages(busy_report(themes=100, feedback_per_track=100, learnings=100, long_text=2500))

    assert len(messages) > 1
    for number, message in enumerate(messages[1:], start=2):
        first = _dicts(message)[0]
        assert first["type"] == "context"
        assert f"(continued, {number}/{len(messages)})" in first["elements"][0]["text"]
        assert message.text.endswith(f"({number}/{len(messages)})")


def test_typed_text_can_never_ping_or_forge_a_link() -> None:
    text = _all_text(report_messages(busy_report(themes=3, feedback_per_track=3, learnings=3)))

    assert "<!channel>" not in text and "<@U123" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt; &amp; &lt;@U123|boss&gt;" in text


def test_an_empty_period_says_so() -> None:
    messages = report_messages(empty_report())

    _assert_within_limits(messages)
    assert len(messages) == 1
    assert "No incidents opened in the last 30 days" in _all_text(messages)
    assert "No incidents opened in the last 30 days" in messages[0].text


def test_an_empty_day_says_the_last_day() -> None:
    assert "No incidents opened in the last day" in report_messages(empty_report(days=1))[0].text


def test_feedback_without_incidents_says_nothing_was_opened_and_lists_the_feedback() -> None:
    messages = report_messages(feedback_only_report())

    text = _all_text(messages)
    assert "No incidents opened in the last 30 days." in text
    assert "*Stability* (1)" in text and "PROD-1" in text
    assert "Recurring themes" not in text
