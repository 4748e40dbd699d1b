"""Finding 1: a request without a valid Slack signature does nothing.

The probe: `X-Slack-Signature` with non-ASCII characters made Bolt's verifier raise, and the error handler then
called `respond()` with the unverified body's `response_url` (blind SSRF, and a worker held for WebhookClient's
30 s). Each test sends the request as the attacker would and asserts what must not happen: no request reaches the
attacker's server, nothing is asked of Slack, nothing is stored, and the refusal comes at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest
from slack_bolt.request import BoltRequest

from bot.app import build_bolt_app
from bot.models import Incident
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.platform import SlackPlatform
from tests.e2e.conftest import AGENT, SUPPORT, Stack
from tests.e2e.test_open_incident_flow import count
from tests.e2e.test_run_command import BIN, _clean_env, _free_port, _wait_for_health
from tests.security.attacker import Attacker, listening_attacker, raw_post

REFUSED_WITHIN_SECONDS = 1.0
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def attacker() -> Iterator[Attacker]:
    with listening_attacker() as running:
        yield running


def command_body(emulator: SlackEmulator, response_url: str) -> bytes:
    """A `/triage` slash command as Slack would send it, except for the response_url, which is the attacker's."""
    fields = {
        "token": "x",
        "team_id": emulator.team_id,
        "channel_id": SUPPORT,
        "user_id": AGENT,
        "command": "/triage",
        "text": "",
        "response_url": response_url,
        "trigger_id": emulator.new_trigger_id(AGENT),
    }
    return urlencode(fields).encode()


def now() -> str:
    return str(int(time.time()))


def hex_signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return f"v0={digest}"


# (signature, timestamp) headers as an attacker may send them; None leaves the header out.
FORGED_HEADERS: dict[str, tuple[str | bytes | None, str | bytes | None]] = {
    "non-ASCII signature": ("v0=" + "é" * 64, None),
    "non-ASCII signature (UTF-8 bytes)": (("v0=" + "ü" * 64).encode(), None),
    "no signature": (None, None),
    "no timestamp": ("v0=" + "0" * 64, b""),
    "non-ASCII timestamp": ("v0=" + "0" * 64, "\uff11\uff17\uff10\uff10\uff10\uff10\uff10\uff10\uff10\uff10".encode()),
    "timestamp that is not a number": ("v0=" + "0" * 64, "soon"),
    "another signature version": ("v1=" + "0" * 64, None),
    "truncated signature": ("v0=" + "0" * 63, None),
    "upper-case signature": ("V0=" + "A" * 64, None),
}


def forged_headers(signature: str | bytes | None, timestamp: str | bytes | None) -> dict[str, str | bytes]:
    headers: dict[str, str | bytes] = {"Content-Type": FORM}
    if signature is not None:
        headers["X-Slack-Signature"] = signature
    if timestamp != b"":
        headers["X-Slack-Request-Timestamp"] = timestamp if timestamp is not None else now()
    return headers


def unverified_count(stack: Stack) -> float:
    """How many Slack requests `/metrics` reports as refused unverified."""
    with urllib.request.urlopen(f"{stack.bot_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    prefix = 'triage_slack_ack_seconds_count{request_type="unverified"} '
    return next((float(line.removeprefix(prefix)) for line in text.splitlines() if line.startswith(prefix)), 0.0)


@pytest.mark.parametrize("case", list(FORGED_HEADERS))
def test_malformed_signature_headers_are_refused_at_once_and_nothing_is_called(
    stack: Stack, attacker: Attacker, case: str
) -> None:
    body = command_body(stack.emulator, f"{attacker.url}/collect")
    refused_before = unverified_count(stack)

    answer = raw_post(f"{stack.bot_url}/slack/events", body, forged_headers(*FORGED_HEADERS[case]))

    assert answer.status == 401
    assert answer.elapsed < REFUSED_WITHIN_SECONDS
    assert unverified_count(stack) == refused_before + 1, "counted in the metrics as unverified"
    stack.finish_work()
    assert attacker.seen() == [], "no request may reach a URL named by an unverified body"
    assert stack.emulator.calls() == [], "an unverified request asks nothing of Slack"
    assert count(stack, Incident) == 0


def test_a_request_bolt_fails_to_verify_is_never_answered_at_its_response_url(stack: Stack, attacker: Attacker) -> None:
    """Behind the HTTP check: Bolt itself given a signature its verifier raises on (the error handler's path)."""
    app = build_bolt_app(stack.services, listener_executor=stack.listeners)
    request = BoltRequest(
        body=command_body(stack.emulator, f"{attacker.url}/collect").decode(),
        headers={"content-type": FORM, "x-slack-signature": "v0=" + "é" * 64, "x-slack-request-timestamp": now()},
    )

    response = app.dispatch(request)

    assert response.status >= 400
    stack.finish_work()
    assert attacker.seen() == []
    assert stack.emulator.calls() == []


def test_a_signed_request_whose_response_url_is_not_slacks_gets_no_answer_there(
    stack: Stack, attacker: Attacker, caplog: pytest.LogCaptureFixture
) -> None:
    """Even a verified request: respond() posts only to Slack's hosts (here: the emulator's), never elsewhere."""
    payload = {
        "type": "block_actions",
        "team": {"id": stack.emulator.team_id, "domain": stack.emulator.team_domain},
        "user": {"id": AGENT, "username": "agent", "team_id": stack.emulator.team_id},
        "api_app_id": stack.emulator.app_id,
        "token": "x",
        "trigger_id": stack.emulator.new_trigger_id(AGENT),
        "container": {"type": "message", "message_ts": "1.000001", "channel_id": SUPPORT},
        "channel": {"id": SUPPORT, "name": "support"},
        "actions": [{"type": "button", "action_id": "incident_acknowledge", "block_id": "b", "value": "gone"}],
        "response_url": f"{attacker.url}/collect",
    }

    answer = stack.platform.post(urlencode({"payload": json.dumps(payload)}), FORM)

    assert answer.status == 200
    stack.finish_work()
    assert attacker.seen() == [], "the stale-button answer must not go to a host that is not Slack's"
    assert any("response_url is not on Slack's hosts" in r.getMessage() for r in caplog.records)


ATTACKS = 20
HOLD_SECONDS = 10.0  # the attacker's server keeps each call this long (WebhookClient would wait 30 s)


def test_twenty_unsigned_requests_reach_no_one_and_do_not_delay_a_real_triage(tmp_path: Path) -> None:
    """The reported probe against `triage-bot run` (gunicorn, its 16 threads): twenty requests with a non-ASCII
    signature and the attacker's response_url, then a real `/triage` that must still be acknowledged in time."""
    emulator = SlackEmulator()
    emulator.add_user(AGENT, "agent")
    emulator.add_channel("support", id=SUPPORT, members=[AGENT, emulator.bot_user_id])
    port = _free_port()
    with emulator.serve() as api, listening_attacker(hold_seconds=HOLD_SECONDS) as attacker:
        env = _clean_env(
            SLACK_BOT_TOKEN=emulator.bot_token,
            SLACK_SIGNING_SECRET="probe-secret",
            SLACK_API_URL=f"{api.url}/api/",
            PORT=str(port),
            LOG_LEVEL="WARNING",
        )
        process = subprocess.Popen(
            [str(BIN), "run", "--host", "127.0.0.1"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
        )
        try:
            _wait_for_health(f"http://127.0.0.1:{port}/healthz", process)
            bot = f"http://127.0.0.1:{port}/slack/events"
            headers = forged_headers(*FORGED_HEADERS["non-ASCII signature"])
            with ThreadPoolExecutor(max_workers=ATTACKS) as pool:
                probes = [
                    pool.submit(raw_post, bot, command_body(emulator, f"{attacker.url}/collect"), headers)
                    for _ in range(ATTACKS)
                ]
                # Either every probe is answered, or they hold the workers (as they did): then /triage comes.
                emulator.wait_for(lambda: all(p.done() for p in probes) or len(attacker.seen()) >= 16, timeout=15)
                triage = SlackPlatform(emulator, bot, "probe-secret").slash_command(AGENT, SUPPORT)
                attacker.released.set()
                answers = [p.result() for p in probes]
        finally:
            process.terminate()
            process.wait(timeout=15)

    assert attacker.seen() == [], "no probe made the bot call the attacker's URL"
    assert [a.status for a in answers] == [401] * ATTACKS
    assert max(a.elapsed for a in answers) < REFUSED_WITHIN_SECONDS
    assert triage.status == 200 and triage.acked_in_time, f"/triage acknowledged after {triage.elapsed:.1f} s"
    assert emulator.current_modal(AGENT) is not None, "the real /triage opened the form"
