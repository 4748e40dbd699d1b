"""JSON with orjson where it can: the same values as the standard library, in a fraction of the time.

Two users, both measured: the Slack emulator, which shares the machine with the bot it stands in for (a 6.6 kB form
was encoded and decoded four times per `views.open`, about 0.3 ms of CPU), and the bot's own Slack client
(`bot.integrations.slack_json`). Anything orjson refuses goes to the standard library, which answers as it always
did: integers beyond 64 bits, non-string keys and lone surrogates are encoded as before, `NaN` and lone surrogates
in a text are decoded as before, and dataclasses and datetimes, which orjson would encode, are refused as before.
Two differences remain, in what nobody sends to Slack: a float `NaN` or infinity is encoded as `null` instead of
the invalid `NaN`, and enums that are not `str` or `int`, and UUIDs, as their values instead of an error. Text is
compact and UTF-8, not `\\uXXXX` escapes: the same document once decoded.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

REFUSED_AS_BEFORE = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


def encoded(value: Any) -> bytes:
    """UTF-8 JSON of `value`."""
    try:
        return orjson.dumps(value, option=REFUSED_AS_BEFORE)
    except TypeError:  # orjson.JSONEncodeError: too large an integer, a non-string key, a datetime, ...
        return json.dumps(value).encode()


def as_text(value: Any) -> str:
    """JSON text of `value`."""
    return encoded(value).decode()


def decoded(text: str | bytes) -> Any:
    """The value of JSON `text`; `json.JSONDecodeError` for text the standard library refuses too."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # NaN, a lone surrogate, ...: the standard library decides, as before
        return json.loads(text)


def copied(value: Any) -> Any:
    """A deep copy of JSON data."""
    return decoded(encoded(value))
