"""The emulator's Block Kit check: each limit Slack enforces, answered with Slack's error code and a JSON pointer."""

from __future__ import annotations

from typing import Any

import pytest

from bot.sandbox.emulator.blockkit import (
    MAX_BLOCK_TEXT,
    Problem,
    block_text_length,
    check_message,
    check_view,
)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def button(text: str = "Go", **extra: Any) -> dict[str, Any]:
    return {"type": "button", "text": plain(text), "action_id": "go", **extra}


def option(text: str = "one", value: str = "1") -> dict[str, Any]:
    return {"text": plain(text), "value": value}


def modal(blocks: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"type": "modal", "title": plain("New incident"), "submit": plain("Open"), "blocks": blocks, **extra}


def text_input(**element: Any) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": "blocker",
        "label": plain("Blocker"),
        "element": {"type": "plain_text_input", "action_id": "blocker", **element},
    }


def pointers(problems: list[Problem]) -> list[str]:
    return [p.pointer for p in problems]


def test_a_message_within_every_limit_passes() -> None:
    blocks = [
        {"type": "header", "text": plain("h" * 150)},
        section("s" * 3000),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2000}] * 10},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 10},
        {"type": "actions", "elements": [button("b" * 75, value="v" * 2000, action_id=f"a{i}") for i in range(25)]},
        {"type": "divider", "block_id": "d" * 255},
    ]
    # Each block is at its limit; together they hold more text than a chat.postMessage may (a response_url's may).
    assert check_message("fallback", blocks, via_response_url=True) == []
    assert [p.error for p in check_message("fallback", blocks)] == ["msg_blocks_too_long"]


@pytest.mark.parametrize(
    ("block", "pointer", "message"),
    [
        (section("s" * 3001), "/blocks/0/text/text", "must be less than 3001 characters"),
        ({"type": "header", "text": plain("h" * 151)}, "/blocks/0/text/text", "must be less than 151 characters"),
        (
            {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11},
            "/blocks/0/fields",
            "no more than 10 items allowed",
        ),
        (
            {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]},
            "/blocks/0/fields/0/text",
            "must be less than 2001 characters",
        ),
        (
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11},
            "/blocks/0/elements",
            "no more than 10 items allowed",
        ),
        (
            {"type": "actions", "elements": [button(action_id=f"a{i}") for i in range(26)]},
            "/blocks/0/elements",
            "no more than 25 items allowed",
        ),
        ({"type": "actions", "elements": [button("b" * 76)]}, "/blocks/0/elements/0/text/text", "less than 76"),
        (
            {"type": "actions", "elements": [button(value="v" * 2001)]},
            "/blocks/0/elements/0/value",
            "must be less than 2001 characters",
        ),
        (
            {"type": "actions", "elements": [button(action_id="a" * 256)]},
            "/blocks/0/elements/0/action_id",
            "must be less than 256 characters",
        ),
        ({"type": "divider", "block_id": "d" * 256}, "/blocks/0/block_id", "must be less than 256 characters"),
        (
            {"type": "section", "text": {"type": "mrkdwn", "text": "x"}, "accessory": {
                "type": "static_select", "action_id": "pick", "placeholder": plain("Pick"),
                "options": [option(value=str(i)) for i in range(101)],
            }},
            "/blocks/0/accessory/options",
            "no more than 100 items allowed",
        ),
        (
            {"type": "actions", "elements": [{
                "type": "static_select", "action_id": "pick", "placeholder": plain("Pick"),
                "options": [option("o" * 76)],
            }]},
            "/blocks/0/elements/0/options/0/text/text",
            "must be less than 76 characters",
        ),
        (
            {"type": "actions", "elements": [{
                "type": "overflow", "action_id": "more", "options": [option(value="v" * 151), option()],
            }]},
            "/blocks/0/elements/0/options/0/value",
            "must be less than 151 characters",
        ),
        (section(""), "/blocks/0/text/text", "must be more than 0 characters"),
        ({"type": "section", "text": "bare text"}, "/blocks/0/text", "must provide an object"),
        ({"text": "no type"}, "/blocks/0", "must provide an object with a type"),
    ],
)
def test_each_message_limit_is_refused_as_invalid_blocks_at_its_pointer(
    block: dict[str, Any], pointer: str, message: str
) -> None:
    problems = check_message("fallback", [block])
    assert problems and problems[0].error == "invalid_blocks"
    assert problems[0].pointer == pointer and message in problems[0].message
    assert str(problems[0]).startswith("[ERROR] ") and str(problems[0]).endswith(f"[json-pointer:{pointer}]")


def test_more_than_fifty_blocks_in_a_message_and_a_hundred_in_a_view() -> None:
    assert pointers(check_message("x", [section("s")] * 50)) == []
    assert "/blocks" in pointers(check_message("x", [section("s")] * 51))
    assert check_view({"type": "home", "blocks": [section("s")] * 100}) == []
    problems = check_view({"type": "home", "blocks": [section("s")] * 101})
    assert problems[0].error == "invalid_arguments" and problems[0].pointer == "/view/blocks"


def test_a_repeated_block_id_is_refused() -> None:
    blocks = [{**section("a"), "block_id": "same"}, {**section("b"), "block_id": "same"}]
    assert pointers(check_message("x", blocks)) == ["/blocks/1/block_id"]


def test_slack_sdk_model_validation_runs_on_each_block() -> None:
    """A rule only slack_sdk's models know (an image without its alt_text) is refused too."""
    problems = check_message("x", [{"type": "image", "image_url": "https://example.com/a.png"}])
    assert problems and problems[0].pointer == "/blocks/0"


def test_message_text_over_forty_thousand_characters_is_msg_too_long() -> None:
    assert check_message("t" * 40_000) == []
    assert [p.error for p in check_message("t" * 40_001)] == ["msg_too_long"]


def test_too_much_text_in_the_blocks_is_msg_blocks_too_long_except_through_a_response_url() -> None:
    blocks = [section("s" * 2500) for _ in range(5)]
    assert block_text_length(blocks) == 12_500 > MAX_BLOCK_TEXT
    assert [p.error for p in check_message("x", blocks)] == ["msg_blocks_too_long"]
    assert check_message("x", blocks, via_response_url=True) == []
    assert check_message("x", blocks[:4]) == []


def test_block_text_counts_every_text_string() -> None:
    blocks = [
        {"type": "header", "text": plain("abc")},
        {"type": "actions", "elements": [button("de"), {"type": "static_select", "options": [option("fgh")]}]},
        {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": "ij"}]}]},
    ]
    assert block_text_length(blocks) == 3 + 2 + 3 + 2


@pytest.mark.parametrize(
    ("view", "pointer"),
    [
        (modal([section("x")], title=plain("t" * 25)), "/view/title/text"),
        (modal([section("x")], submit=plain("s" * 25)), "/view/submit/text"),
        (modal([section("x")], close=plain("c" * 25)), "/view/close/text"),
        (modal([section("x")], private_metadata="m" * 3001), "/view/private_metadata"),
        (modal([section("x")], callback_id="c" * 256), "/view/callback_id"),
        (modal([text_input(max_length=3001)]), "/view/blocks/0/element/max_length"),
        (modal([text_input(max_length=10, initial_value="i" * 11)]), "/view/blocks/0/element/initial_value"),
        (modal([text_input(initial_value="i" * 3001)]), "/view/blocks/0/element/initial_value"),
        ({"type": "modal", "blocks": [text_input()], "title": plain("No submit")}, "/view/submit"),
        ({"type": "modal", "blocks": [section("x")]}, "/view/title"),
    ],
)
def test_each_view_limit_is_refused_as_invalid_arguments_at_its_pointer(view: dict[str, Any], pointer: str) -> None:
    problems = check_view(view)
    assert problems and {p.error for p in problems} == {"invalid_arguments"}
    assert pointer in pointers(problems)


def test_a_modal_within_its_limits_passes() -> None:
    view = modal(
        [text_input(max_length=3000, initial_value="i" * 3000)],
        title=plain("t" * 24),
        submit=plain("s" * 24),
        close=plain("c" * 24),
        private_metadata="m" * 3000,
    )
    assert check_view(view) == []
