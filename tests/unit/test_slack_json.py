"""slack_sdk's JSON on orjson: the same documents as the standard library, its fallbacks, and where it is installed."""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
from collections.abc import Iterator

import pytest
import slack_sdk.web.base_client as slack_base_client

from blocks.new_incident import new_incident_modal
from bot.integrations import slack_json
from bot.integrations.slack import build_web_client
from bot.integrations.slack_json import OrjsonForSlackSdk


@pytest.fixture
def standard_library_json() -> Iterator[None]:
    """slack_sdk on the standard library's json for the test, as it was afterwards."""
    was_installed = slack_json.is_installed()
    slack_json.uninstall()
    yield
    if was_installed:
        slack_json.install()


def test_the_new_incident_form_encodes_to_the_same_document_compact_and_in_utf8() -> None:
    body = {"trigger_id": "123.456.abc", "view": new_incident_modal(channel_id="C1")}
    encoded = OrjsonForSlackSdk.dumps(body)
    assert isinstance(encoded, str)
    assert json.loads(encoded) == json.loads(json.dumps(body))
    assert '"type":"modal"' in encoded  # orjson's compact form, not the standard library's ", " and ": "
    assert "SEV1 \u2014 Critical" in encoded  # written as it is, not as a \u2014 escape


@pytest.mark.parametrize(
    "value",
    [
        {1: "a key that is not a string"},
        {"count": 2**70},  # over 64 bits
        {"text": "lone \ud800 surrogate"},
    ],
    ids=["int key", "big int", "lone surrogate"],
)
def test_what_orjson_refuses_is_encoded_by_the_standard_library(value: object) -> None:
    assert OrjsonForSlackSdk.dumps(value) == json.dumps(value)


def test_a_call_with_options_is_the_standard_librarys() -> None:
    value = {"b": 1, "a": [1, 2]}
    assert OrjsonForSlackSdk.dumps(value, indent=2, sort_keys=True) == json.dumps(value, indent=2, sort_keys=True)


@dataclasses.dataclass
class Point:
    x: int


@pytest.mark.parametrize("value", [datetime.datetime(2026, 12, 8, tzinfo=datetime.UTC), Point(1)])
def test_what_the_standard_library_refuses_is_still_refused(value: object) -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        OrjsonForSlackSdk.dumps({"value": value})


def test_decoding_gives_the_standard_librarys_objects_and_errors() -> None:
    answer = '{"ok": true, "view": {"id": "V1", "title": {"text": "New incident \u2014 \u2705"}}, "n": 1.5}'
    assert OrjsonForSlackSdk.loads(answer) == json.loads(answer)
    assert OrjsonForSlackSdk.loads(answer.encode()) == json.loads(answer)
    assert math.isnan(OrjsonForSlackSdk.loads('{"x": NaN}')["x"])  # orjson refuses NaN; the standard library reads it
    with pytest.raises(json.decoder.JSONDecodeError):  # what slack_sdk catches for a body that is not JSON
        OrjsonForSlackSdk.loads("<html>Bad gateway</html>")


def test_build_web_client_installs_it_once_and_uninstall_gives_the_standard_library_back(
    standard_library_json: None,
) -> None:
    assert slack_base_client.json is json
    build_web_client(token="xoxb-test", base_url="http://127.0.0.1:9/api/")
    build_web_client(token="xoxb-test", base_url="http://127.0.0.1:9/api/")
    assert slack_base_client.json is OrjsonForSlackSdk
    assert slack_json.is_installed()
    slack_json.uninstall()
    assert slack_base_client.json is json


def test_slack_sdk_still_looks_its_json_up_by_the_name_this_replaces() -> None:
    """Fails on a slack_sdk release that encodes or decodes some other way (the speed-up would be silently gone)."""
    base = slack_base_client.BaseClient
    for method in (base._perform_urllib_http_request, base._urllib_api_call):
        assert "json" in method.__code__.co_names, method.__qualname__
    assert slack_json.install()
