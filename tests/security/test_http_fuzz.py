"""The HTTP surface under random headers and bodies (Hypothesis), over real HTTP to the running app.

`/slack/events` and `/hooks/deployments`: never a 5xx; without a valid signature or secret nothing is stored and
nothing is called (not the Slack emulator, not the "attacker" server every response_url in the bodies names).
Validly signed random bodies may do what Slack's requests do, but still never a 5xx, and never a call to a host
that is not Slack's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import AGENT, SIGNING_SECRET, SUPPORT, Stack
from tests.e2e.hostile import table_counts
from tests.security.attacker import Attacker, listening_attacker, raw_post

HOOK_SECRET = "hook-secret"  # the stack's DEPLOY_HOOK_SECRET
FUZZ = settings(
    deadline=None,  # real HTTP on a shared machine: time is asserted where it matters, not per example
    derandomize=True,  # the same examples on every run: CI stays reproducible
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def attacker() -> Iterator[Attacker]:
    with listening_attacker() as running:
        yield running


def header_bytes() -> st.SearchStrategy[bytes]:
    """Any bytes a header value can carry on the wire (no line breaks), non-ASCII included."""
    return st.binary(max_size=90).filter(lambda value: b"\r" not in value and b"\n" not in value)


def signatures() -> st.SearchStrategy[str | bytes | None]:
    return st.one_of(
        st.none(),
        header_bytes(),
        st.from_regex(r"v[0-9]=[0-9a-fA-F]{60,68}", fullmatch=True),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=70).map(
            lambda t: ("v0=" + t).encode()  # as UTF-8 on the wire
        ),
    )


def timestamps() -> st.SearchStrategy[str | bytes | None]:
    recent = st.integers(min_value=-400, max_value=400).map(lambda offset: str(int(time.time()) + offset))
    return st.one_of(st.none(), recent, header_bytes(), st.integers().map(str))


CONTENT_TYPES = st.sampled_from(
    ["application/x-www-form-urlencoded", "application/json", "text/plain", "", "multipart/form-data; boundary=x"]
)
PAYLOAD_TYPES = st.sampled_from(
    ["block_actions", "view_submission", "view_closed", "shortcut", "message_action", "block_suggestion", "other"]
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)


def payload(response_url: str) -> st.SearchStrategy[dict[str, Any]]:
    """Interaction payloads: Slack's envelope keys with random values, the response_url the attacker's."""
    return st.fixed_dictionaries(
        {"type": PAYLOAD_TYPES, "response_url": st.just(response_url)},
        optional={
            "user": st.one_of(JSON, st.fixed_dictionaries({"id": st.text(max_size=12)})),
            "team": st.one_of(JSON, st.fixed_dictionaries({"id": st.text(max_size=12)})),
            "actions": st.one_of(JSON, st.lists(st.dictionaries(st.sampled_from(["action_id", "value"]), JSON))),
            "view": JSON,
            "trigger_id": st.text(max_size=20),
            "container": JSON,
        },
    )


def bodies(response_url: str) -> st.SearchStrategy[bytes]:
    """Slash-command forms (with the fields Slack always sends), interaction payloads, Events API JSON, noise."""
    command = st.fixed_dictionaries(
        {
            "command": st.sampled_from(["/triage", "/other", ""]),
            "response_url": st.just(response_url),
            "user_id": st.sampled_from([AGENT, "", "U\u00e9"]),
            "channel_id": st.sampled_from([SUPPORT, "C404"]),
            "team_id": st.text(max_size=12),
            "trigger_id": st.text(max_size=20),
        },
        optional={"text": st.text(max_size=60), "ssl_check": st.just("1")},
    ).map(lambda fields: urlencode(fields).encode())
    interaction = payload(response_url).map(lambda p: urlencode({"payload": json.dumps(p)}).encode())
    event = st.fixed_dictionaries(
        {"type": st.sampled_from(["event_callback", "url_verification", "app_rate_limited", "x"])},
        optional={
            "event": JSON,
            "event_id": st.text(max_size=12),
            "team_id": st.text(max_size=12),
            "challenge": st.text(max_size=20),
        },
    ).map(lambda e: json.dumps(e).encode())
    noise = st.one_of(st.binary(max_size=300), JSON.map(lambda j: json.dumps(j).encode()))
    return st.one_of(command, interaction, event, noise)


def slack_signature(timestamp: str, body: bytes) -> str:
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return f"v0={digest}"


def send(url: str, body: bytes, headers: dict[str, str | bytes | None]) -> int:
    sent = {name: value for name, value in headers.items() if value is not None}
    return raw_post(url, body, sent, timeout=15).status


def test_unsigned_slack_requests_store_nothing_and_call_no_one(stack: Stack, attacker: Attacker) -> None:
    url = f"{stack.bot_url}/slack/events"
    statuses: set[int] = set()

    @settings(FUZZ, max_examples=200)
    @given(st.data())
    def unsigned(data: st.DataObject) -> None:
        body = data.draw(bodies(f"{attacker.url}/collect"), label="body")
        headers = {
            "Content-Type": data.draw(CONTENT_TYPES, label="content type"),
            "X-Slack-Signature": data.draw(signatures(), label="signature"),
            "X-Slack-Request-Timestamp": data.draw(timestamps(), label="timestamp"),
        }
        before = table_counts(stack)

        status = send(url, body, headers)

        statuses.add(status)
        assert 400 <= status < 500, f"an unsigned request answered {status}"
        assert table_counts(stack) == before, "an unsigned request stored something"
        assert stack.emulator.calls() == [], "an unsigned request made the bot call Slack"

    unsigned()
    stack.finish_work()
    assert attacker.seen() == [], "an unsigned request made the bot call the URL it named"
    assert statuses <= {400, 401, 413}


def test_signed_random_slack_requests_never_fail_or_call_outside_slack(stack: Stack, attacker: Attacker) -> None:
    url = f"{stack.bot_url}/slack/events"
    statuses: Counter[int] = Counter()

    @settings(FUZZ, max_examples=120)
    @given(st.data())
    def signed(data: st.DataObject) -> None:
        body = data.draw(bodies(f"{attacker.url}/collect"), label="body")
        timestamp = str(int(time.time()))
        headers: dict[str, str | bytes | None] = {
            "Content-Type": data.draw(CONTENT_TYPES, label="content type"),
            "X-Slack-Signature": slack_signature(timestamp, body),
            "X-Slack-Request-Timestamp": timestamp,
        }

        status = send(url, body, headers)

        statuses[status] += 1
        assert status < 500, f"a signed request answered {status}"

    signed()
    stack.finish_work()
    assert 401 not in statuses and statuses[200] > 0, f"the signed requests reached the app: {statuses}"
    assert attacker.seen() == [], "a response_url on another host was posted to"


def test_the_deployment_hook_stores_only_with_the_secret(stack: Stack, attacker: Attacker) -> None:
    url = f"{stack.bot_url}/hooks/deployments"
    report = st.fixed_dictionaries(
        {"service": st.text(max_size=30)},
        optional={
            "version": st.text(max_size=20),
            "environment": st.text(max_size=20),
            "deployed_at": st.one_of(st.text(max_size=30), st.just("2026-11-30T08:45:00Z")),
            "url": st.just(f"{attacker.url}/collect"),
        },
    ).map(lambda r: json.dumps(r).encode())
    secrets = st.one_of(
        st.none(),
        header_bytes(),
        st.sampled_from([HOOK_SECRET, HOOK_SECRET + " ", HOOK_SECRET.upper(), HOOK_SECRET[:-1], "hook-secre\u00e9"]),
    )

    @settings(FUZZ, max_examples=150)
    @given(st.data())
    def deliver(data: st.DataObject) -> None:
        body = data.draw(st.one_of(report, st.binary(max_size=200), JSON.map(lambda j: json.dumps(j).encode())))
        bearer = data.draw(secrets, label="bearer")
        header = data.draw(secrets, label="X-Triage-Secret")
        headers: dict[str, str | bytes | None] = {
            "Content-Type": data.draw(CONTENT_TYPES, label="content type"),
            "Authorization": (b"Bearer " + (bearer.encode() if isinstance(bearer, str) else bearer))
            if bearer is not None
            else None,
            "X-Triage-Secret": header,
        }
        before = table_counts(stack)

        status = send(url, body, headers)

        assert status < 500, f"the deployment hook answered {status}"
        authorized = any(isinstance(v, str) and v.strip() == HOOK_SECRET for v in (bearer, header))
        if not authorized:
            assert status == 401
            assert table_counts(stack) == before, "an unauthorized deployment was stored"
        elif status != 201:
            assert status == 400 and table_counts(stack) == before

    deliver()
    assert stack.emulator.calls() == [] and attacker.seen() == [], "a deployment report made the bot call out"
