"""JSON on orjson (`bot.jsontext`, for the emulator and the bot's Slack client): the standard library's answer
wherever orjson would differ."""

from __future__ import annotations

import json

import pytest

from bot import jsontext


@pytest.mark.parametrize(
    "value",
    [
        {"ok": True, "view": {"blocks": [{"type": "divider"}], "title": "Nouvel incident — ⚠️"}},
        {"big": 2**70},  # beyond orjson's 64-bit integers
        {1: "a non-string key"},
        "lone \ud800 surrogate",
    ],
)
def test_every_value_is_encoded_as_the_standard_library_reads_it(value: object) -> None:
    assert json.loads(jsontext.encoded(value)) == json.loads(json.dumps(value))


def test_text_the_standard_library_takes_is_still_taken() -> None:
    assert jsontext.decoded('{"n": NaN}')["n"] != jsontext.decoded('{"n": NaN}')["n"]  # NaN, as before
    assert jsontext.decoded('"\\ud800"') == "\ud800"


def test_text_the_standard_library_refuses_is_still_refused() -> None:
    for text in ('{"view": ', "{'single': 'quotes'}", "[1, 2,]"):
        with pytest.raises(json.JSONDecodeError):
            jsontext.decoded(text)


def test_a_copy_shares_nothing_with_the_original() -> None:
    original = {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]}
    copy = jsontext.copied(original)
    copy["blocks"][0]["text"]["text"] = "changed"
    assert original["blocks"][0]["text"]["text"] == "hi"
