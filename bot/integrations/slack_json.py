"""slack_sdk's JSON through orjson: every Web API call encodes its body and decodes Slack's answer in a fraction of
the CPU.

slack_sdk's `WebClient` encodes each JSON body and decodes each answer with the standard library's `json`, looked up
by that name in `slack_sdk.web.base_client`, and has no setting for another encoder. On a worker opening the
new-incident form (18 blocks, 6.6 KB, and Slack's answer repeats the whole view) that was the largest single cost
after the acknowledgement: the standard library took about twice the CPU of orjson for the form's `views.open`
(`benchmarks/form_cost.py --compare-json`, docs/benchmarks.md).

`install()` points that name at `OrjsonForSlackSdk`, which gives slack_sdk what the standard library would:
- `dumps(obj)` returns the same JSON (as `str`, compact, UTF-8 characters written as they are instead of `\\uXXXX`
  escapes: the same document once decoded). Anything orjson refuses and the standard library takes (keys that are
  not strings, integers over 64 bits, lone surrogates) and any call with keyword arguments goes to the standard
  library, so what encoded before still encodes; dataclasses and datetimes, which orjson would encode and the
  standard library refuses, are refused as before. (Two differences nobody sends to Slack: a float NaN or infinity
  becomes `null` instead of the invalid `NaN`, and enums of other types and UUIDs are written as their values.)
- `loads(text)` returns the same objects; what orjson refuses is decoded (or refused, with the standard library's
  `JSONDecodeError`, which slack_sdk catches as `json.decoder.JSONDecodeError`) by the standard library.

Only slack_sdk's Web API client is pointed at it; nothing else in the process changes. Should a slack_sdk release
stop looking `json` up by that name, the calls stay correct and only the speed-up is gone: `is_installed()` says
so, and a test fails on the upgrade.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import orjson
import slack_sdk.web.base_client as slack_base_client

ENCODE_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME  # refused, as json refuses them
_lock = threading.Lock()


class OrjsonForSlackSdk:
    """The part of the `json` module slack_sdk's Web API client uses, on orjson."""

    decoder = json.decoder
    JSONDecodeError = json.JSONDecodeError

    @staticmethod
    def dumps(obj: Any, **options: Any) -> str:
        if options:
            return json.dumps(obj, **options)
        try:
            return orjson.dumps(obj, option=ENCODE_OPTIONS).decode()
        except (orjson.JSONEncodeError, TypeError):
            return json.dumps(obj)

    @staticmethod
    def loads(text: str | bytes, **options: Any) -> Any:
        if options:
            return json.loads(text, **options)
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return json.loads(text)


def install() -> bool:
    """Have slack_sdk's Web API client use `OrjsonForSlackSdk` (idempotent); False if slack_sdk no longer looks
    its JSON up where this expects it (then nothing is changed)."""
    with _lock:
        current = getattr(slack_base_client, "json", None)
        if current is OrjsonForSlackSdk:
            return True
        if current is not json:
            return False
        slack_base_client.json = OrjsonForSlackSdk  # type: ignore[assignment]
        return True


def uninstall() -> None:
    """Give slack_sdk the standard library's `json` back (benchmarks compare the two)."""
    with _lock:
        if getattr(slack_base_client, "json", None) is OrjsonForSlackSdk:
            slack_base_client.json = json


def is_installed() -> bool:
    return getattr(slack_base_client, "json", None) is OrjsonForSlackSdk
