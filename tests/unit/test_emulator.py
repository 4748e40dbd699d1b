"""The local Slack emulator: Web API over real HTTP, signed platform requests, and the WSGI server."""

from __future__ import annotations

import json
import threading
import time
import types
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from bot.config import BOT_SCOPES
from bot.sandbox.emulator import ManualClock, SlackEmulator, epoch_clock
from bot.sandbox.platform import SlackPlatform, build_state_values, sign_request
from bot.sandbox.wsgi_server import RunningServer, start_background_server

SECRET = "sandbox-signing-secret"
StartResponse = Callable[..., Any]


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


# The emulator's own features include methods the bot does not call, so its app holds their scopes too.
EMULATOR_SCOPES = (*BOT_SCOPES, "users:read.email", "pins:read", "reactions:write")


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[SlackEmulator]:
    emu = SlackEmulator(clock=clock, scopes=EMULATOR_SCOPES)
    emu.add_user("U1", "alice", "Alice Adams", tz="Europe/London", email="alice@example.com")
    emu.add_user("U2", "bob", "Bob Brown")
    emu.add_channel("general", id="CGENERAL", members=["U1", "U2", "UBOT"])
    emu.add_channel("secret", id="CSECRET", is_private=True, members=["U1"])
    emu.add_usergroup("S1", "oncall", ["U1", "U2"])
    server = emu.serve()
    yield emu
    server.stop()


@pytest.fixture
def client(emulator: SlackEmulator) -> WebClient:
    return WebClient(token=emulator.bot_token, base_url=emulator.api_url, timeout=5)


@dataclass
class Received:
    headers: dict[str, str]
    raw: str
    valid: bool
    data: dict[str, Any]


@dataclass
class RecordingBot:
    """A stand-in for the bot's /slack/events: verifies signatures and answers via ``reply``."""

    verifier: SignatureVerifier = field(default_factory=lambda: SignatureVerifier(SECRET))
    received: list[Received] = field(default_factory=list)
    reply: Callable[[Received], tuple[int, str]] = lambda _r: (200, "")

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode()
        headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
        headers["content-type"] = environ.get("CONTENT_TYPE", "")
        request = Received(headers, raw, self.verifier.is_valid_request(raw, headers), _parse(headers, raw))
        self.received.append(request)
        status, body = self.reply(request) if request.valid else (401, "invalid signature")
        content_type = "application/json" if body.startswith("{") else "text/plain"
        start_response(f"{status} X", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body.encode()]

    @property
    def last(self) -> Received:
        return self.received[-1]


def _parse(headers: dict[str, str], raw: str) -> dict[str, Any]:
    if "json" in headers["content-type"]:
        return dict(json.loads(raw))
    fields = dict(parse_qsl(raw, keep_blank_values=True))
    return dict(json.loads(fields["payload"])) if "payload" in fields else fields


@pytest.fixture
def bot() -> Iterator[RecordingBot]:
    yield RecordingBot()


@pytest.fixture
def platform(emulator: SlackEmulator, bot: RecordingBot) -> Iterator[SlackPlatform]:
    with start_background_server(bot) as server:
        yield SlackPlatform(emulator, f"{server.url}/slack/events", SECRET)


def _reply_json(body: dict[str, Any]) -> Callable[[Received], tuple[int, str]]:
    return lambda _r: (200, json.dumps(body))


def _error(excinfo: pytest.ExceptionInfo[SlackApiError]) -> str:
    return str(excinfo.value.response["error"])


# ------------------------------------------------------------------------------------------ wsgi server


def test_background_server_is_threaded_and_stoppable() -> None:
    def slow_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        time.sleep(0.2)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    with start_background_server(slow_app) as server:
        assert isinstance(server, RunningServer)
        assert server.url == f"http://127.0.0.1:{server.port}" and server.port > 0
        started = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            bodies = list(pool.map(lambda _: urllib.request.urlopen(server.url, timeout=5).read(), range(4)))
        assert bodies == [b"done"] * 4
        assert time.perf_counter() - started < 0.7  # four 0.2 s requests ran concurrently
    assert not server.running


# ------------------------------------------------------------------------------------------ auth / basics


def test_auth_test_and_token_checks(emulator: SlackEmulator, client: WebClient) -> None:
    resp = client.auth_test()
    assert resp["user_id"] == "UBOT" and resp["team_id"] == "T0SANDBOX" and resp["bot_id"] == "B0SANDBOX"
    assert resp["url"] == "https://sandbox.slack.local/"
    with pytest.raises(SlackApiError) as bad:
        WebClient(token="xoxb-wrong", base_url=emulator.api_url).auth_test()
    assert _error(bad) == "invalid_auth"
    with pytest.raises(SlackApiError) as missing:
        WebClient(base_url=emulator.api_url).auth_test()
    assert _error(missing) == "not_authed"
    with pytest.raises(SlackApiError) as unknown:
        client.api_call("chat.teleport")
    assert _error(unknown) == "unknown_method"
    assert [c.response["ok"] for c in emulator.calls("auth.test")] == [True, False, False]


# ------------------------------------------------------------------------------------------ chat


def test_post_message_threads_and_broadcast(emulator: SlackEmulator, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="CGENERAL", text="Incident opened", unfurl_links=False)
    assert parent["channel"] == "CGENERAL" and parent["message"]["text"] == "Incident opened"
    client.chat_postMessage(channel="CGENERAL", thread_ts=parent["ts"], text="first update")
    broadcast = client.chat_postMessage(
        channel="CGENERAL", thread_ts=parent["ts"], text="resolved", reply_broadcast=True
    )

    top = emulator.messages("CGENERAL")
    assert [m["text"] for m in top] == ["Incident opened", "resolved"]
    assert top[0]["reply_count"] == 2 and top[0]["latest_reply"] == broadcast["ts"]
    assert top[1]["subtype"] == "thread_broadcast"
    assert [m["text"] for m in emulator.replies("CGENERAL", parent["ts"])] == ["first update", "resolved"]

    history = client.conversations_history(channel="CGENERAL")
    assert [m["text"] for m in history["messages"]] == ["resolved", "Incident opened"]  # newest first
    thread = client.conversations_replies(channel="CGENERAL", ts=parent["ts"])
    assert [m["text"] for m in thread["messages"]] == ["Incident opened", "first update", "resolved"]

    with pytest.raises(SlackApiError) as bad_thread:
        client.chat_postMessage(channel="CGENERAL", thread_ts="1.000001", text="x")
    assert _error(bad_thread) == "invalid_thread_ts"


def test_ts_is_strictly_increasing_even_with_a_frozen_clock(emulator: SlackEmulator, client: WebClient) -> None:
    stamps = [client.chat_postMessage(channel="CGENERAL", text=str(i))["ts"] for i in range(5)]
    assert len(set(stamps)) == 5
    assert stamps == sorted(stamps, key=float)
    assert all(len(ts.split(".")[1]) == 6 for ts in stamps)


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_post_message_errors(emulator: SlackEmulator, client: WebClient) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"channel": "CNOPE", "text": "x"}, "channel_not_found"),
        ({"channel": "CSECRET", "text": "x"}, "channel_not_found"),  # private, bot not a member
        ({"channel": "CGENERAL"}, "no_text"),
        ({"channel": "CGENERAL", "blocks": [{"type": "divider"}] * 51}, "invalid_blocks"),
    ]
    for args, expected in cases:
        with pytest.raises(SlackApiError) as exc:
            client.chat_postMessage(**args)
        assert _error(exc) == expected
    assert emulator.messages("CGENERAL") == []


def test_form_encoded_json_fields_are_decoded(emulator: SlackEmulator, client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    client.api_call("chat.postMessage", data={"channel": "CGENERAL", "blocks": json.dumps(blocks)})
    stored = emulator.messages("CGENERAL")[0]
    assert stored["blocks"][0]["text"]["text"] == "*hi*" and stored["blocks"][0]["block_id"]
    assert emulator.calls("chat.postMessage")[0].args["blocks"][0]["type"] == "section"


def test_the_call_log_shows_what_was_sent_not_what_the_emulator_added(
    emulator: SlackEmulator, client: WebClient
) -> None:
    """A JSON body is logged as it arrived (decoded when read); ids Slack fills in are in the answer only."""
    view = _modal("Logged")
    opened = client.views_open(trigger_id=emulator.new_trigger_id("U1"), view=view)["view"]
    logged = emulator.calls("views.open")[0]
    assert logged.args["view"] == view, "as sent: no block_id or action_id the emulator generated"
    assert logged.response["view"]["id"] == opened["id"]
    assert all(block.get("block_id") for block in opened["blocks"])
    home = {"type": "home", "blocks": MODAL["blocks"]}
    client.api_call("views.publish", json={"user_id": "U1", "view": json.dumps(home)})
    assert emulator.calls("views.publish")[0].args["view"]["type"] == "home", "a JSON-encoded field is decoded"


def test_answers_and_stored_records_never_share_objects(emulator: SlackEmulator, client: WebClient) -> None:
    """Answers are made of stored records, encoded at once: what a caller does with one changes nothing stored,
    and a later change does not reach an answer already given."""
    posted = emulator.api("chat.postMessage", channel="CGENERAL", text="first")
    posted["message"]["text"] = "changed by the caller"
    emulator.api("chat.update", channel="CGENERAL", ts=posted["ts"], text="second")
    assert posted["message"]["text"] == "changed by the caller"
    assert emulator.message("CGENERAL", posted["ts"])["text"] == "second"  # type: ignore[index]
    view = _modal("Mine")
    opened = emulator.api("views.open", trigger_id=emulator.new_trigger_id("U1"), view=view)["view"]
    view["title"]["text"] = "changed after sending"
    opened["blocks"].clear()
    stored = emulator.view(opened["id"])
    assert stored is not None and stored["title"]["text"] == "Mine" and stored["blocks"]


def test_dm_by_user_id(emulator: SlackEmulator, client: WebClient) -> None:
    resp = client.chat_postMessage(channel="U1", text="You are on call")
    assert resp["channel"] == emulator.dm_channel("U1") and resp["channel"].startswith("D")
    assert emulator.messages(resp["channel"])[0]["text"] == "You are on call"


def test_update_keeps_replies_and_marks_edited(emulator: SlackEmulator, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="CGENERAL", text="SEV2", blocks=[{"type": "divider"}])
    client.chat_postMessage(channel="CGENERAL", thread_ts=parent["ts"], text="reply")
    updated = client.chat_update(channel="CGENERAL", ts=parent["ts"], text="SEV1")
    assert updated["text"] == "SEV1" and updated["message"]["edited"]["user"] == "UBOT"

    stored = emulator.message("CGENERAL", parent["ts"])
    assert stored is not None
    assert stored["text"] == "SEV1" and stored["blocks"][0]["type"] == "divider"  # blocks kept
    assert stored["reply_count"] == 1 and len(emulator.replies("CGENERAL", parent["ts"])) == 1

    human = emulator.post_user_message("CGENERAL", "U1", "hello")
    for ts, expected in ((human["ts"], "cant_update_message"), ("123.000001", "message_not_found")):
        with pytest.raises(SlackApiError) as exc:
            client.chat_update(channel="CGENERAL", ts=ts, text="edit")
        assert _error(exc) == expected


def test_ephemeral_permalink_and_delete(emulator: SlackEmulator, client: WebClient) -> None:
    client.chat_postEphemeral(channel="CGENERAL", user="U1", text="only you")
    assert [e["text"] for e in emulator.ephemerals(user="U1")] == ["only you"]
    assert emulator.ephemerals(channel_id="CGENERAL", user="U2") == []
    with pytest.raises(SlackApiError) as exc:
        client.chat_postEphemeral(channel="CGENERAL", user="UNOBODY", text="x")
    assert _error(exc) == "user_not_found"

    parent = client.chat_postMessage(channel="CGENERAL", text="p")
    reply = client.chat_postMessage(channel="CGENERAL", text="r", thread_ts=parent["ts"])
    link = client.chat_getPermalink(channel="CGENERAL", message_ts=parent["ts"])["permalink"]
    assert link == f"https://sandbox.slack.local/archives/CGENERAL/p{parent['ts'].replace('.', '')}"
    reply_link = client.chat_getPermalink(channel="CGENERAL", message_ts=reply["ts"])["permalink"]
    assert reply_link.endswith(f"?thread_ts={parent['ts']}&cid=CGENERAL")
    emulator.permalink_base = "http://127.0.0.1:8080"  # what the sandbox sets: links open on its page
    served = client.chat_getPermalink(channel="CGENERAL", message_ts=parent["ts"])["permalink"]
    assert served == f"http://127.0.0.1:8080/archives/CGENERAL/p{parent['ts'].replace('.', '')}"
    emulator.permalink_base = None

    client.chat_delete(channel="CGENERAL", ts=reply["ts"])
    assert emulator.replies("CGENERAL", parent["ts"]) == []
    client.chat_delete(channel="CGENERAL", ts=parent["ts"])
    assert emulator.messages("CGENERAL") == []


# ------------------------------------------------------------------------------------------ views

MODAL = {
    "type": "modal",
    "callback_id": "declare",
    "title": {"type": "plain_text", "text": "Declare incident"},
    "submit": {"type": "plain_text", "text": "Declare"},
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "step"}}],
}


def _modal(text: str, **extra: Any) -> dict[str, Any]:
    return {**MODAL, "title": {"type": "plain_text", "text": text}, **extra}


def test_views_open_push_update_and_limits(emulator: SlackEmulator, client: WebClient) -> None:
    root = client.views_open(trigger_id=emulator.new_trigger_id("U1"), view=MODAL)["view"]
    assert root["id"].startswith("V") and root["root_view_id"] == root["id"] and root["previous_view_id"] is None
    assert emulator.current_modal("U1")["id"] == root["id"]  # type: ignore[index]

    second = client.views_push(trigger_id=emulator.new_trigger_id("U1"), view=_modal("Two"))["view"]
    assert second["root_view_id"] == root["id"] and second["previous_view_id"] == root["id"]
    client.views_push(trigger_id=emulator.new_trigger_id("U1"), view=_modal("Three"))
    with pytest.raises(SlackApiError) as limit:
        client.views_push(trigger_id=emulator.new_trigger_id("U1"), view=_modal("Four"))
    assert _error(limit) == "push_limit_reached"
    assert [v["title"]["text"] for v in emulator.modal_stack("U1")] == ["Declare incident", "Two", "Three"]

    updated = client.views_update(view_id=second["id"], hash=second["hash"], view=_modal("Two, edited"))["view"]
    assert updated["id"] == second["id"] and updated["hash"] != second["hash"]
    with pytest.raises(SlackApiError) as conflict:
        client.views_update(view_id=second["id"], hash=second["hash"], view=_modal("stale"))
    assert _error(conflict) == "hash_conflict"
    assert emulator.view(second["id"])["title"]["text"] == "Two, edited"  # type: ignore[index]

    reopened = client.views_open(trigger_id=emulator.new_trigger_id("U1"), view=_modal("Fresh"))["view"]
    assert [v["id"] for v in emulator.modal_stack("U1")] == [reopened["id"]]  # stack reset


def test_views_update_by_external_id_and_validation(emulator: SlackEmulator, client: WebClient) -> None:
    opened = client.views_open(trigger_id=emulator.new_trigger_id("U1"), view=_modal("A", external_id="inc-1"))
    client.views_update(external_id="inc-1", view=_modal("B", external_id="inc-1"))
    assert emulator.view(opened["view"]["id"])["title"]["text"] == "B"  # type: ignore[index]
    with pytest.raises(SlackApiError) as missing:
        client.views_update(external_id="nope", view=_modal("C"))
    assert _error(missing) == "not_found"
    with pytest.raises(SlackApiError) as long_title:
        client.views_open(trigger_id=emulator.new_trigger_id("U1"), view=_modal("x" * 25))
    assert _error(long_title) == "invalid_arguments"


def test_trigger_ids_are_validated(emulator: SlackEmulator, client: WebClient, clock: ManualClock) -> None:
    with pytest.raises(SlackApiError) as unknown:
        client.views_open(trigger_id="123.456.abc", view=MODAL)
    assert _error(unknown) == "invalid_trigger_id"

    stale = emulator.new_trigger_id("U1")
    clock.advance(3.5)
    with pytest.raises(SlackApiError) as expired:
        client.views_open(trigger_id=stale, view=MODAL)
    assert _error(expired) == "expired_trigger_id"

    trigger = emulator.new_trigger_id("U1")
    client.views_open(trigger_id=trigger, view=MODAL)
    with pytest.raises(SlackApiError) as reused:
        client.views_open(trigger_id=trigger, view=MODAL)
    assert _error(reused) == "exchanged_trigger_id"


def test_views_publish_home(emulator: SlackEmulator, client: WebClient) -> None:
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "v1"}}]}
    first = client.views_publish(user_id="U1", view=home)["view"]
    v2 = [{"type": "section", "text": {"type": "mrkdwn", "text": "v2"}}]
    second = client.views_publish(user_id="U1", view={**home, "blocks": v2})["view"]
    assert first["id"] == second["id"] and emulator.home("U1")["blocks"][0]["text"]["text"] == "v2"  # type: ignore[index]
    assert emulator.home("U2") is None
    with pytest.raises(SlackApiError) as exc:
        client.views_publish(user_id="UNOBODY", view=home)
    assert _error(exc) == "user_not_found"


# ------------------------------------------------------------------------------------------ users / conversations


def test_users_and_usergroups(emulator: SlackEmulator, client: WebClient) -> None:
    alice = client.users_info(user="U1")["user"]
    assert alice["real_name"] == "Alice Adams" and alice["tz"] == "Europe/London"
    assert isinstance(alice["tz_offset"], int) and not alice["is_bot"]
    assert {u["id"] for u in client.users_list()["members"]} == {"UBOT", "U1", "U2"}
    assert client.users_lookupByEmail(email="alice@example.com")["user"]["id"] == "U1"
    with pytest.raises(SlackApiError) as exc:
        client.users_info(user="UNOBODY")
    assert _error(exc) == "user_not_found"
    groups = client.usergroups_list(include_users=True)["usergroups"]
    assert groups[0]["handle"] == "oncall" and groups[0]["users"] == ["U1", "U2"]
    assert client.usergroups_users_list(usergroup="S1")["users"] == ["U1", "U2"]


def test_conversations_lifecycle(emulator: SlackEmulator, client: WebClient) -> None:
    created = client.conversations_create(name="inc-42-db-down", is_private=False)["channel"]
    assert created["is_member"] and emulator.channel_by_name("#inc-42-db-down")["id"] == created["id"]  # type: ignore[index]
    for name, expected in (("inc-42-db-down", "name_taken"), ("Bad Name!", "invalid_name_specials")):
        with pytest.raises(SlackApiError) as exc:
            client.conversations_create(name=name)
        assert _error(exc) == expected

    client.conversations_invite(channel=created["id"], users=["U1", "U2"])
    assert client.conversations_members(channel=created["id"])["members"] == ["UBOT", "U1", "U2"]
    for users, expected in (("U1", "already_in_channel"), ("UNOBODY", "user_not_found")):
        with pytest.raises(SlackApiError) as exc:
            client.conversations_invite(channel=created["id"], users=users)
        assert _error(exc) == expected

    other = emulator.add_channel("random")
    assert client.conversations_join(channel=other["id"])["channel"]["is_member"]
    assert client.conversations_info(channel=other["id"])["channel"]["name"] == "random"
    names = {c["name"] for c in client.conversations_list(types="public_channel,private_channel")["channels"]}
    assert names == {"general", "inc-42-db-down", "random"}  # private #secret is invisible to the bot


def test_pins_and_reactions(emulator: SlackEmulator, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="CGENERAL", text="summary")["ts"]
    client.pins_add(channel="CGENERAL", timestamp=ts)
    assert [i["message"]["ts"] for i in client.pins_list(channel="CGENERAL")["items"]] == [ts]
    client.reactions_add(channel="CGENERAL", timestamp=ts, name="eyes")
    with pytest.raises(SlackApiError) as exc:
        client.reactions_add(channel="CGENERAL", timestamp=ts, name="eyes")
    assert _error(exc) == "already_reacted"
    stored = emulator.message("CGENERAL", ts)
    assert stored is not None and stored["reactions"] == [{"name": "eyes", "users": ["UBOT"], "count": 1}]


# ------------------------------------------------------------------------------------------ faults


def test_rate_limit_fault_is_retried_by_slack_sdk(emulator: SlackEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    import slack_sdk.http_retry.builtin_handlers as handlers

    monkeypatch.setattr(handlers, "random", types.SimpleNamespace(random=lambda: 0.0))  # no jitter
    retrying = WebClient(
        token=emulator.bot_token, base_url=emulator.api_url, retry_handlers=[RateLimitErrorRetryHandler()]
    )
    emulator.fail_next("chat.postMessage", retry_after=0)
    retrying.chat_postMessage(channel="CGENERAL", text="eventually")
    calls = emulator.calls("chat.postMessage")
    assert [c.response.get("error") for c in calls] == ["ratelimited", None]
    assert [m["text"] for m in emulator.messages("CGENERAL")] == ["eventually"]


def test_fault_fails_without_changing_state(emulator: SlackEmulator, client: WebClient) -> None:
    emulator.fail_next("chat.postMessage", retry_after=7, times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as exc:
            client.chat_postMessage(channel="CGENERAL", text="x")
        assert exc.value.response.status_code == 429 and exc.value.response.headers["Retry-After"] == "7"
    assert emulator.messages("CGENERAL") == []
    emulator.fail_next("views.open", error="internal_error", status=500)
    emulator.clear_faults()
    client.chat_postMessage(channel="CGENERAL", text="ok now")
    client.views_open(trigger_id=emulator.new_trigger_id("U1"), view=MODAL)


# ------------------------------------------------------------------------------------------ response_url


def test_response_url_ephemeral_in_channel_and_limits(emulator: SlackEmulator) -> None:
    hook = WebhookClient(emulator.new_response_url("CGENERAL", "U1"))
    assert hook.send(text="working on it").status_code == 200
    assert hook.send(text="done", response_type="in_channel").status_code == 200
    assert [e["text"] for e in emulator.ephemerals("CGENERAL", "U1")] == ["working on it"]
    assert [m["text"] for m in emulator.messages("CGENERAL")] == ["done"]
    hook.send(text="replaced", replace_original=True)  # replaces the ephemeral this URL produced
    assert [e["text"] for e in emulator.ephemerals("CGENERAL", "U1")] == ["replaced"]
    for _ in range(2):
        hook.send(text="more")
    assert hook.send(text="sixth").status_code == 404  # five uses per response_url
    assert len(emulator.calls("response_url")) == 6


# ------------------------------------------------------------------------------------------ platform: signing


def test_slash_command_is_signed_and_complete(
    emulator: SlackEmulator, client: WebClient, platform: SlackPlatform, bot: RecordingBot
) -> None:
    resp = platform.slash_command("U1", "CGENERAL", text="db is down")
    assert resp.status == 200 and resp.acked_in_time and bot.last.valid
    fields = bot.last.data
    assert fields["command"] == "/triage" and fields["text"] == "db is down"
    assert fields["user_name"] == "alice" and fields["channel_name"] == "general"
    assert fields["team_id"] == "T0SANDBOX" and fields["api_app_id"] == "A0SANDBOX"
    assert fields["is_enterprise_install"] == "false"
    assert bot.last.headers["content-type"] == "application/x-www-form-urlencoded"
    expected = sign_request(SECRET, bot.last.headers["x-slack-request-timestamp"], bot.last.raw)
    assert bot.last.headers["x-slack-signature"] == expected

    client.views_open(trigger_id=fields["trigger_id"], view=MODAL)  # trigger bound to the user
    assert emulator.current_modal("U1") is not None
    WebhookClient(fields["response_url"]).send(text="Got it")
    assert emulator.ephemerals("CGENERAL", "U1")[0]["text"] == "Got it"


def test_retry_headers_bad_signature_and_stale_timestamp(
    emulator: SlackEmulator, platform: SlackPlatform, bot: RecordingBot, clock: ManualClock
) -> None:
    platform.slash_command("U1", "CGENERAL", retry_num=1)
    assert bot.last.valid and bot.last.headers["x-slack-retry-num"] == "1"
    assert bot.last.headers["x-slack-retry-reason"] == "http_timeout"
    assert platform.slash_command("U1", "CGENERAL", bad_signature=True).status == 401
    assert platform.send_event({"type": "app_mention"}, timestamp=clock() - 600).status == 401
    assert "x-slack-retry-num" not in bot.last.headers


def test_slash_command_ack_body_is_shown(emulator: SlackEmulator, platform: SlackPlatform, bot: RecordingBot) -> None:
    bot.reply = _reply_json({"text": "Opening the incident form…"})
    platform.slash_command("U2", "CGENERAL")
    assert [e["text"] for e in emulator.ephemerals(user="U2")] == ["Opening the incident form…"]


# ------------------------------------------------------------------------------------------ platform: view_submission

SEVERITIES = [
    {"text": {"type": "plain_text", "text": "SEV1"}, "value": "sev1"},
    {"text": {"type": "plain_text", "text": "SEV2"}, "value": "sev2"},
]
SERVICES = [
    {"text": {"type": "plain_text", "text": "API"}, "value": "api"},
    {"text": {"type": "plain_text", "text": "DB"}, "value": "db"},
]
FORM_BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "Tell us what broke"}},
    {"type": "input", "block_id": "title", "label": {"type": "plain_text", "text": "Title"},
     "element": {"type": "plain_text_input", "action_id": "title_input"}},
    {"type": "input", "block_id": "severity", "label": {"type": "plain_text", "text": "Severity"},
     "element": {"type": "static_select", "action_id": "severity_select", "options": SEVERITIES}},
    {"type": "input", "block_id": "services", "label": {"type": "plain_text", "text": "Services"},
     "element": {"type": "multi_static_select", "action_id": "services_select", "options": SERVICES}},
    {"type": "input", "block_id": "commander", "label": {"type": "plain_text", "text": "Commander"},
     "element": {"type": "users_select", "action_id": "commander_select"}},
    {"type": "input", "block_id": "started", "label": {"type": "plain_text", "text": "Started"},
     "element": {"type": "datepicker", "action_id": "started_date"}},
    {"type": "input", "block_id": "at", "label": {"type": "plain_text", "text": "At"},
     "element": {"type": "timepicker", "action_id": "started_time", "initial_time": "09:00"}},
    {"type": "input", "block_id": "flags", "optional": True, "label": {"type": "plain_text", "text": "Flags"},
     "element": {"type": "checkboxes", "action_id": "flags_check", "options": SERVICES}},
    {"type": "input", "block_id": "notes", "optional": True, "label": {"type": "plain_text", "text": "Notes"},
     "element": {"type": "plain_text_input", "action_id": "notes_input", "multiline": True}},
    {"type": "actions", "block_id": "tools", "elements": [
        {"type": "button", "action_id": "help", "text": {"type": "plain_text", "text": "Help"}}]},
]  # fmt: skip


@pytest.fixture
def form(emulator: SlackEmulator, client: WebClient) -> dict[str, Any]:
    view = {**MODAL, "private_metadata": '{"channel": "CGENERAL"}', "blocks": FORM_BLOCKS}
    return dict(client.views_open(trigger_id=emulator.new_trigger_id("U1"), view=view)["view"])


FILLED = {
    "title_input": "Checkout is down",
    "severity": "sev1",  # keyed by block_id
    "services_select": ["api", "db"],
    "commander_select": "U2",
    "started_date": date(2026, 11, 30),
}


def test_submission_builds_state_values_like_slack(
    emulator: SlackEmulator, platform: SlackPlatform, bot: RecordingBot, form: dict[str, Any]
) -> None:
    resp = platform.submit_view(form["id"], "U1", FILLED)
    assert resp.status == 200 and bot.last.valid
    payload = bot.last.data
    assert payload["type"] == "view_submission" and payload["user"]["id"] == "U1"
    assert payload["user"]["username"] == "alice" and payload["response_urls"] == []
    assert payload["view"]["callback_id"] == "declare" and payload["view"]["hash"] == form["hash"]
    assert payload["view"]["private_metadata"] == '{"channel": "CGENERAL"}'
    assert payload["view"]["root_view_id"] == form["id"] and payload["trigger_id"]
    assert payload["view"]["state"]["values"] == {
        "title": {"title_input": {"type": "plain_text_input", "value": "Checkout is down"}},
        "severity": {"severity_select": {"type": "static_select", "selected_option": SEVERITIES[0]}},
        "services": {"services_select": {"type": "multi_static_select", "selected_options": SERVICES}},
        "commander": {"commander_select": {"type": "users_select", "selected_user": "U2"}},
        "started": {"started_date": {"type": "datepicker", "selected_date": "2026-11-30"}},
        "at": {"started_time": {"type": "timepicker", "selected_time": "09:00"}},  # initial value
        "flags": {"flags_check": {"type": "checkboxes", "selected_options": []}},
        "notes": {"notes_input": {"type": "plain_text_input", "value": None}},
    }
    assert emulator.current_modal("U1") is None  # empty ack closes the modal


def test_submission_rejects_impossible_input(platform: SlackPlatform, form: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="no option"):
        platform.submit_view(form["id"], "U1", {**FILLED, "severity": "sev9"})
    with pytest.raises(ValueError, match="required input 'title'"):
        platform.submit_view(form["id"], "U1", {k: v for k, v in FILLED.items() if k != "title_input"})
    with pytest.raises(ValueError, match="no input"):
        platform.submit_view(form["id"], "U1", {**FILLED, "typo": "x"})
    with pytest.raises(ValueError, match="not an open modal"):
        platform.submit_view("VNOPE", "U1", FILLED)


def test_response_action_errors_keeps_view(
    emulator: SlackEmulator, platform: SlackPlatform, bot: RecordingBot, form: dict[str, Any]
) -> None:
    bot.reply = _reply_json({"response_action": "errors", "errors": {"title": "Too vague"}})
    resp = platform.submit_view(form["id"], "U1", FILLED)
    assert resp.view_errors == {"title": "Too vague"}
    assert emulator.current_modal("U1")["errors"] == {"title": "Too vague"}  # type: ignore[index]


def test_response_action_update_push_and_clear(
    emulator: SlackEmulator, platform: SlackPlatform, bot: RecordingBot, form: dict[str, Any]
) -> None:
    bot.reply = _reply_json({"response_action": "update", "view": _modal("Confirm")})
    platform.submit_view(form["id"], "U1", FILLED)
    top = emulator.current_modal("U1")
    assert top is not None and top["id"] == form["id"] and top["title"]["text"] == "Confirm"

    bot.reply = _reply_json({"response_action": "push", "view": _modal("Pushed")})
    platform.submit_view(form["id"], "U1")
    assert [v["title"]["text"] for v in emulator.modal_stack("U1")] == ["Confirm", "Pushed"]

    bot.reply = lambda _r: (200, "")
    pushed = emulator.current_modal("U1")
    assert pushed is not None
    platform.submit_view(pushed["id"], "U1")
    assert [v["title"]["text"] for v in emulator.modal_stack("U1")] == ["Confirm"]  # back to previous

    bot.reply = _reply_json({"response_action": "clear"})
    platform.submit_view(form["id"], "U1")
    assert emulator.modal_stack("U1") == []


def test_state_values_for_more_element_types() -> None:
    blocks = [
        {"type": "input", "block_id": "b1", "element": {"type": "radio_buttons", "action_id": "r", "options": SEVERITIES}},
        {"type": "input", "block_id": "b2", "element": {"type": "multi_users_select", "action_id": "mu"}},
        {"type": "input", "block_id": "b3", "element": {"type": "conversations_select", "action_id": "cs"}},
        {"type": "input", "block_id": "b4", "element": {"type": "channels_select", "action_id": "ch"}},
        {"type": "input", "block_id": "b5", "element": {"type": "datetimepicker", "action_id": "dt"}},
        {"type": "input", "block_id": "b6", "element": {"type": "number_input", "action_id": "n", "is_decimal_allowed": False}},
        {"type": "input", "block_id": "b7", "element": {"type": "external_select", "action_id": "ex"}},
    ]  # fmt: skip
    values = {"r": "sev2", "mu": ["U1", "U2"], "cs": "C1", "ch": "C2", "dt": 1764493200, "n": 3, "ex": "svc-9"}
    state = build_state_values(blocks, values)
    assert state["b1"]["r"]["selected_option"] == SEVERITIES[1]
    assert state["b2"]["mu"] == {"type": "multi_users_select", "selected_users": ["U1", "U2"]}
    assert state["b3"]["cs"]["selected_conversation"] == "C1" and state["b4"]["ch"]["selected_channel"] == "C2"
    assert state["b5"]["dt"] == {"type": "datetimepicker", "selected_date_time": 1764493200}
    assert state["b6"]["n"] == {"type": "number_input", "value": "3"}
    assert state["b7"]["ex"]["selected_option"]["value"] == "svc-9"


# ------------------------------------------------------------------------------------------ platform: actions / events


def test_click_button_on_message_and_replace_original(
    emulator: SlackEmulator, client: WebClient, platform: SlackPlatform, bot: RecordingBot
) -> None:
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "SEV1 declared"}},
        {"type": "actions", "block_id": "inc", "elements": [
            {"type": "button", "action_id": "ack", "value": "inc-1", "text": {"type": "plain_text", "text": "Ack"}},
            {"type": "static_select", "action_id": "sev", "options": SEVERITIES}]},
    ]  # fmt: skip
    ts = client.chat_postMessage(channel="CGENERAL", text="SEV1", blocks=blocks)["ts"]
    platform.click_button("U2", "ack", channel_id="CGENERAL", message_ts=ts)
    payload = bot.last.data
    assert bot.last.valid and payload["type"] == "block_actions"
    assert payload["container"] == {
        "type": "message",
        "message_ts": ts,
        "channel_id": "CGENERAL",
        "is_ephemeral": False,
    }
    assert payload["channel"] == {"id": "CGENERAL", "name": "general"}
    assert payload["message"]["blocks"][1]["elements"][0]["action_id"] == "ack"
    action = payload["actions"][0]
    assert (action["action_id"], action["block_id"], action["type"], action["value"]) == (
        "ack",
        "inc",
        "button",
        "inc-1",
    )

    platform.click_button("U2", "sev", channel_id="CGENERAL", message_ts=ts, selected_option_value="sev2")
    assert bot.last.data["actions"][0]["selected_option"] == SEVERITIES[1]

    WebhookClient(bot.last.data["response_url"]).send(text="Acknowledged by bob", replace_original=True)
    stored = emulator.message("CGENERAL", ts)
    assert stored is not None and stored["text"] == "Acknowledged by bob" and "blocks" not in stored
    with pytest.raises(ValueError, match="no interactive element"):
        platform.click_button("U2", "nope", channel_id="CGENERAL", message_ts=ts)


def test_click_button_in_view(
    emulator: SlackEmulator, platform: SlackPlatform, bot: RecordingBot, form: dict[str, Any]
) -> None:
    platform.click_button("U1", "help", view_id=form["id"])
    payload = bot.last.data
    assert payload["container"] == {"type": "view", "view_id": form["id"]}
    assert payload["view"]["id"] == form["id"] and "response_url" not in payload
    assert payload["view"]["state"]["values"]["at"]["started_time"]["selected_time"] == "09:00"


def test_events_home_and_user_messages(
    emulator: SlackEmulator, client: WebClient, platform: SlackPlatform, bot: RecordingBot
) -> None:
    resp = platform.send_event({"type": "app_mention", "user": "U1", "channel": "CGENERAL", "text": "<@UBOT> hi"})
    envelope = bot.last.data
    assert resp.status == 200 and bot.last.valid and bot.last.headers["content-type"] == "application/json"
    assert envelope["type"] == "event_callback" and envelope["event_id"].startswith("Ev")
    assert envelope["authorizations"][0]["user_id"] == "UBOT" and envelope["event"]["event_ts"]

    client.views_publish(user_id="U1", view={"type": "home", "blocks": [{"type": "divider"}]})
    platform.open_home("U1")
    event = bot.last.data["event"]
    assert event["type"] == "app_home_opened" and event["tab"] == "home" and event["view"]["type"] == "home"

    platform.user_message("U2", "CGENERAL", "anyone looking at this?")
    event = bot.last.data["event"]
    assert (event["type"], event["user"], event["channel_type"]) == ("message", "U2", "channel")
    assert emulator.messages("CGENERAL")[-1]["ts"] == event["ts"]


# ------------------------------------------------------------------------------------------ helpers


def test_wait_for_polls_until_truthy(emulator: SlackEmulator, client: WebClient) -> None:
    threading.Timer(0.05, lambda: client.chat_postMessage(channel="CGENERAL", text="late")).start()
    found = emulator.wait_for(lambda: emulator.messages("CGENERAL"), timeout=2)
    assert found[0]["text"] == "late"
    with pytest.raises(TimeoutError):
        emulator.wait_for(lambda: False, timeout=0.05)


def test_epoch_clock_adapts_datetime_clocks() -> None:
    moment = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

    class FixedClock:
        def now(self) -> datetime:
            return moment

    emu = SlackEmulator(clock=epoch_clock(FixedClock()))
    assert emu.api("chat.postMessage", channel="U0", text="x")["error"] == "channel_not_found"
    emu.add_channel("c", id="C1", members=["UBOT"])
    assert emu.api("chat.postMessage", channel="C1", text="x")["ts"] == f"{int(moment.timestamp())}.000000"


def test_history_pagination_and_membership(emulator: SlackEmulator, client: WebClient) -> None:
    for i in range(5):
        client.chat_postMessage(channel="CGENERAL", text=f"m{i}")
    first = client.conversations_history(channel="CGENERAL", limit=2)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"] and first["has_more"]
    cursor = first["response_metadata"]["next_cursor"]
    second = client.conversations_history(channel="CGENERAL", limit=2, cursor=cursor)
    assert [m["text"] for m in second["messages"]] == ["m2", "m1"]
    emulator.add_channel("lurk", id="CLURK")
    with pytest.raises(SlackApiError) as exc:
        client.conversations_history(channel="CLURK")
    assert _error(exc) == "not_in_channel"


def test_closing_a_modal_notifies_the_bot(
    emulator: SlackEmulator, client: WebClient, platform: SlackPlatform, bot: RecordingBot
) -> None:
    opened = client.views_open(trigger_id=emulator.new_trigger_id("U1"), view={**MODAL, "notify_on_close": True})
    bot.reply = _reply_json({"ok": True})
    resp = platform.close_modal(opened["view"]["id"], "U1")
    assert resp is not None and resp.json() == {"ok": True} and resp.elapsed > 0
    assert bot.last.valid and bot.last.data["type"] == "view_closed" and not bot.last.data["is_cleared"]
    assert emulator.current_modal("U1") is None
