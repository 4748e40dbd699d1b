"""slack_sdk's JSON through orjson: every Web API call encodes its body and decodes Slack's answer in a fraction of
the CPU.

slack_sdk's `WebClient` encodes each JSON body and decodes each answer with the standard library's `json`, looked up
by that name in `slack_sdk.web.base_client`, and has no setting for another encoder. On a worker opening the
new-incident form (18 blocks, 6.6 kB, and Slack's answer repeats the whole view) that was the largest single cost
after the acknowledgement: the standard library took about twice the CPU of orjson for the form's `views.open`
(`benchmarks/form_cost.py --compare-json`, docs/benchmarks.md).

`install()` points that name at `OrjsonForSlackSdk`, which gives slack_sdk what the standard library would
(`bot.jsontext`: orjson, and the standard library for anything orjson refuses), and the standard library itself
for any call with options.

Only slack_sdk's Web API client is pointed at it; nothing else in the process changes. Should a slack_sdk release
stop looking `json` up by that name, the calls stay correct and only the speed-up is gone: `is_installed()` says
so, and a test fails on the upgrade.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import slack_sdk.web.base_client as slack_base_client

from bot import jsontext

_lock = threading.Lock()


class OrjsonForSlackSdk:
    """The part of the `json` module slack_sdk's Web API client uses, on orjson."""

    decoder = json.decoder
    JSONDecodeError = json.JSONDecodeError

    @staticmethod
    def dumps(obj: Any, **options: Any) -> str:
        return json.dumps(obj, **options) if options else jsontext.as_text(obj)

    @staticmethod
    def loads(text: str | bytes, **options: Any) -> Any:
        return json.loads(text, **options) if options else jsontext.decoded(text)


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
