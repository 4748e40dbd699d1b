"""The emulator refuses what Slack refuses: encoding, required arguments, scopes, membership, Block Kit,
interactivity and rate limits, each answered with Slack's own error."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import BOT_SCOPES
from bot.sandbox.emulator import ManualClock, SlackEmulator
from bot.sandbox.emulator.ratelimits import RateLimits
from bot.sandbox.emulator.spec import method_spec, spec_methods
from bot.sandbox.emulator.state import PAYLOADS
from bot.sandbox.platform import SlackPlatform
from bot.sandbox.wsgi_server import start_background_server

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}
MODAL = {
    "type": "modal",
    "title": {"type": "plain_text", "text": "Form"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [
        {
            "type": "input",
            "block_id": "title",
            "label": {"type": "plain_text", "text": "Title"},
            "element": {"type": "plain_text_input", "action_id": "title"},
        }
    ],
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_800_000_000.0)


def build(clock: ManualClock, **options: Any) -> Iterator[SlackEmulator]:
    emu = SlackEmulator(clock=clock, **options)
    for user in ("U1", "U2", "U3"):
        emu.add_user(user, user.lower())
    emu.add_channel("general", id="CGENERAL", members=["U1", "U2", "UBOT"])
    emu.add_channel("lobby", id="CLOBBY", members=["U1"])  # public, the bot has not joined
    emu.add_channel("secret", id="CSECRET", is_private=True, members=["U1"])
    emu.add_channel("team", id="CTEAM", is_private=True, members=["U1", "UBOT"])
    emu.add_usergroup("S1", "oncall", ["U1"])
    server = emu.serve()
    yield emu
    server.stop()


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[SlackEmulator]:
    yield from build(clock)


@pytest.fixture
def client(emulator: SlackEmulator) -> WebClient:
    return WebClient(token=emulator.bot_token, base_url=emulator.api_url, timeout=5)


def error_of(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as excinfo:
        call(**kwargs)
    return dict(excinfo.value.response.data)


def raw_post(emulator: SlackEmulator, method: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST a JSON body by hand, as a hand-written client that picks JSON for every method would."""
    request = urllib.request.Request(
        f"{emulator.api_url}{method}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json; charset=utf-8", "Authorization": f"Bearer {emulator.bot_token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


# ------------------------------------------------------------------------------------------ encoding and arguments


def test_a_json_body_to_a_form_only_method_is_read_as_if_its_arguments_were_missing(
    emulator: SlackEmulator, client: WebClient
) -> None:
    ts = client.chat_postMessage(channel="CGENERAL", text="root")["ts"]
    assert method_spec("chat.getPermalink") is not None and not method_spec("chat.getPermalink").accepts_json  # type: ignore[union-attr]
    answer = raw_post(emulator, "chat.getPermalink", {"channel": "CGENERAL", "message_ts": ts})
    assert answer["ok"] is False and answer["error"] == "channel_not_found"
    assert answer["response_metadata"]["messages"] == ["[ERROR] missing required field: channel"]
    assert client.chat_getPermalink(channel="CGENERAL", message_ts=ts)["permalink"].startswith("https://")
    replies = raw_post(emulator, "conversations.replies", {"channel": "CGENERAL", "ts": ts})
    assert (replies["ok"], replies["error"]) == (False, "channel_not_found")


def test_json_is_read_where_slack_reads_it_and_unknown_optional_arguments_are_never_refused(
    emulator: SlackEmulator,
) -> None:
    metadata = {"event_type": "x", "event_payload": {"k": "v"}}
    answer = raw_post(emulator, "chat.postMessage", {"channel": "CGENERAL", "text": "hi", "metadata": metadata})
    assert answer["ok"] is True and answer["message"]["metadata"] == metadata


def test_a_missing_required_argument_gets_slacks_error(emulator: SlackEmulator, client: WebClient) -> None:
    assert error_of(client.api_call, api_method="chat.postMessage", json={"text": "where?"})["error"] == (
        "channel_not_found"
    )
    missing = error_of(client.api_call, api_method="usergroups.users.list", params={})
    assert missing["error"] == "invalid_arguments"
    assert missing["response_metadata"]["messages"] == ["[ERROR] missing required field: usergroup"]


def test_every_method_the_emulator_answers_is_described_by_the_spec(emulator: SlackEmulator) -> None:
    assert set(emulator.supported_methods) <= spec_methods()


# ------------------------------------------------------------------------------------------ scopes


def test_the_app_holds_exactly_the_manifests_scopes(emulator: SlackEmulator) -> None:
    with open("slack-app-manifest.yaml", encoding="utf-8") as manifest:
        scopes = yaml.safe_load(manifest)["oauth_config"]["scopes"]["bot"]
    assert emulator.scopes == frozenset(scopes) == frozenset(BOT_SCOPES)


def test_a_method_needing_a_scope_the_app_lacks_answers_missing_scope(client: WebClient) -> None:
    missing = error_of(client.reactions_add, channel="CGENERAL", timestamp="1.000001", name="eyes")
    assert missing["error"] == "missing_scope" and missing["needed"] == "reactions:write"
    assert set(missing["provided"].split(",")) == set(BOT_SCOPES)
    assert error_of(client.pins_list, channel="CGENERAL")["needed"] == "pins:read"


def test_legacy_scope_names_are_read_as_todays_bot_scopes(clock: ManualClock) -> None:
    for emulator in build(clock, scopes=[s for s in BOT_SCOPES if s not in ("chat:write", "channels:join")]):
        client = WebClient(token=emulator.bot_token, base_url=emulator.api_url, timeout=5)
        assert error_of(client.chat_postMessage, channel="CGENERAL", text="x")["needed"] == "chat:write"  # chat:write:bot
        assert error_of(client.conversations_join, channel="CLOBBY")["needed"] == "channels:join"


def test_the_scope_needed_is_the_one_for_the_conversations_type(clock: ManualClock) -> None:
    """channels:history reads a public channel, groups:history a private one, im:history a DM, and so on."""
    channel_scopes = [s for s in BOT_SCOPES if not s.startswith(("im:", "mpim:"))]
    for emulator in build(clock, scopes=channel_scopes):
        client = WebClient(token=emulator.bot_token, base_url=emulator.api_url, timeout=5)
        dm = client.chat_postMessage(channel="U1", text="hello")["channel"]
        assert client.conversations_history(channel="CGENERAL")["ok"]
        assert client.conversations_history(channel="CTEAM")["ok"]
        missing = error_of(client.conversations_history, channel=dm)
        assert (missing["error"], missing["needed"]) == ("missing_scope", "im:history")
        assert error_of(client.conversations_info, channel=dm)["needed"] == "im:read"
        assert error_of(client.conversations_list, types="public_channel,mpim")["needed"] == "mpim:read"
    for emulator in build(clock, scopes=[s for s in BOT_SCOPES if s != "groups:history"]):
        fewer = WebClient(token=emulator.bot_token, base_url=emulator.api_url, timeout=5)
        public_root = fewer.chat_postMessage(channel="CGENERAL", text="r")["ts"]
        assert fewer.conversations_replies(channel="CGENERAL", ts=public_root)["ok"]
        private_root = fewer.chat_postMessage(channel="CTEAM", text="r")["ts"]
        assert error_of(fewer.conversations_replies, channel="CTEAM", ts=private_root)["needed"] == "groups:history"


# ------------------------------------------------------------------------------------------ membership


def test_posting_where_the_bot_is_not_a_member(emulator: SlackEmulator, client: WebClient) -> None:
    assert error_of(client.chat_postMessage, channel="CLOBBY", text="x")["error"] == "not_in_channel"
    assert error_of(client.chat_postMessage, channel="CSECRET", text="x")["error"] == "channel_not_found"
    dm = emulator.add_dm("U1", "U2")
    group = emulator.add_group_dm("U1", "U2", "U3")
    for conversation in (dm, group):
        assert error_of(client.chat_postMessage, channel=conversation, text="x")["error"] == "channel_not_found"
        assert error_of(client.conversations_info, channel=conversation)["error"] == "channel_not_found"
        assert error_of(client.conversations_join, channel=conversation)["error"] == "channel_not_found"
    assert error_of(client.conversations_join, channel="CSECRET")["error"] == "channel_not_found"
    assert error_of(client.conversations_join, channel="CTEAM")["error"] == "method_not_supported_for_channel_type"
    client.conversations_join(channel="CLOBBY")
    assert client.chat_postMessage(channel="CLOBBY", text="now I can")["ok"]


def test_an_ephemeral_goes_only_to_a_member_of_the_conversation(client: WebClient) -> None:
    assert client.chat_postEphemeral(channel="CGENERAL", user="U1", text="psst")["ok"]
    assert error_of(client.chat_postEphemeral, channel="CGENERAL", user="U3", text="psst")["error"] == (
        "user_not_in_channel"
    )


def test_a_slash_command_typed_in_a_dm_between_two_people_arrives_with_that_dm(emulator: SlackEmulator) -> None:
    received: list[dict[str, str]] = []

    def bot(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        from urllib.parse import parse_qsl

        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode()
        received.append(dict(parse_qsl(body)))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]

    server = start_background_server(bot)
    try:
        dm, group = emulator.add_dm("U1", "U2"), emulator.add_group_dm("U1", "U2", "U3")
        platform = SlackPlatform(emulator, server.url, "secret")
        assert platform.slash_command("U1", dm).status == 200
        assert platform.slash_command("U1", group).status == 200
    finally:
        server.stop()
    assert [(r["channel_id"], r["channel_name"]) for r in received] == [
        (dm, "directmessage"),
        (group, "mpdm-u1--u2--u3-1"),
    ]


# ------------------------------------------------------------------------------------------ Block Kit


def test_blocks_over_a_limit_are_invalid_blocks_with_the_offending_pointer(
    emulator: SlackEmulator, client: WebClient
) -> None:
    before = (emulator.tally.validated, PAYLOADS.validated)
    too_long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    refused = error_of(client.chat_postMessage, channel="CGENERAL", text="x", blocks=[SECTION, too_long])
    assert refused["error"] == "invalid_blocks"
    assert refused["response_metadata"]["messages"] == [
        "[ERROR] must be less than 3001 characters [json-pointer:/blocks/1/text/text]"
    ]
    assert emulator.messages("CGENERAL") == []
    assert error_of(client.chat_postMessage, channel="CGENERAL", text="t" * 40_001)["error"] == "msg_too_long"
    lots = [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 2900}}] * 4
    assert error_of(client.chat_postMessage, channel="CGENERAL", text="x", blocks=lots)["error"] == (
        "msg_blocks_too_long"
    )
    assert client.chat_postMessage(channel="CGENERAL", text="x", blocks=[SECTION])["ok"]
    assert emulator.tally.validated == before[0] + 4 and emulator.tally.refused == 3
    assert PAYLOADS.validated >= before[1] + 4


def test_a_view_over_a_limit_is_invalid_arguments_with_the_offending_pointer(
    emulator: SlackEmulator, client: WebClient
) -> None:
    trigger = emulator.new_trigger_id("U1")
    long_title = {**MODAL, "title": {"type": "plain_text", "text": "t" * 25}}
    refused = error_of(client.views_open, trigger_id=trigger, view=long_title)
    assert refused["error"] == "invalid_arguments"
    assert "[json-pointer:/view/title/text]" in refused["response_metadata"]["messages"][0]
    assert client.views_open(trigger_id=trigger, view=MODAL)["ok"], "a refused view does not use up the trigger"


def test_a_trigger_is_usable_once_within_three_seconds(
    emulator: SlackEmulator, client: WebClient, clock: ManualClock
) -> None:
    trigger = emulator.new_trigger_id("U1")
    client.views_open(trigger_id=trigger, view=MODAL)
    assert error_of(client.views_open, trigger_id=trigger, view=MODAL)["error"] == "exchanged_trigger_id"
    late = emulator.new_trigger_id("U1")
    clock.advance(3.5)
    assert error_of(client.views_open, trigger_id=late, view=MODAL)["error"] == "expired_trigger_id"


def test_response_action_errors_must_name_input_blocks_of_the_view(emulator: SlackEmulator) -> None:
    answers = iter(
        [
            {"response_action": "errors", "errors": {"not_a_block": "Say more"}},
            {"response_action": "errors", "errors": {"title": "Say more"}},
        ]
    )

    def bot(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(next(answers)).encode()]

    server = start_background_server(bot)
    try:
        platform = SlackPlatform(emulator, server.url, "secret")
        view = emulator.api("views.open", trigger_id=emulator.new_trigger_id("U1"), view=MODAL)["view"]
        wrong = platform.submit_view(view["id"], "U1", {"title": "x"})
        assert wrong.action_error == "invalid_arguments" and wrong.view_errors is None
        assert "errors" not in (emulator.view(view["id"]) or {})
        right = platform.submit_view(view["id"], "U1", {"title": "x"})
        assert right.action_error is None and right.view_errors == {"title": "Say more"}
    finally:
        server.stop()


def test_a_response_url_takes_five_responses_within_thirty_minutes(emulator: SlackEmulator, clock: ManualClock) -> None:
    def send(url: str) -> int:
        request = urllib.request.Request(url, data=b'{"text": "hi"}', headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    url = emulator.new_response_url("CGENERAL", "U1")
    assert [send(url) for _ in range(6)] == [200] * 5 + [404]
    later = emulator.new_response_url("CGENERAL", "U1")
    clock.advance(30 * 60 + 1)
    assert send(later) == 404


# ------------------------------------------------------------------------------------------ rate limits


def test_a_tier_two_method_allows_twenty_calls_a_minute(emulator: SlackEmulator, clock: ManualClock) -> None:
    client = WebClient(token=emulator.bot_token, base_url=emulator.api_url, timeout=5)  # no retry handler
    for _ in range(20):
        client.usergroups_users_list(usergroup="S1")
    with pytest.raises(SlackApiError) as excinfo:
        client.usergroups_users_list(usergroup="S1")
    assert excinfo.value.response.status_code == 429 and excinfo.value.response["error"] == "ratelimited"
    assert excinfo.value.response.headers["Retry-After"] == "3"  # 20 a minute: one more every 3 seconds
    assert client.users_info(user="U1")["ok"], "each method has its own limit"
    clock.advance(3)
    assert client.usergroups_users_list(usergroup="S1")["ok"]


def test_chat_post_message_allows_a_short_burst_then_one_a_second_per_channel(
    clock: ManualClock,
) -> None:
    for emulator in build(clock, rate_limits=RateLimits(post_burst=3)):
        client = WebClient(token=emulator.bot_token, base_url=emulator.api_url, timeout=5)
        for n in range(3):
            client.chat_postMessage(channel="CGENERAL", text=f"burst {n}")
        with pytest.raises(SlackApiError) as excinfo:
            client.chat_postMessage(channel="CGENERAL", text="one too many")
        assert excinfo.value.response.status_code == 429
        assert client.chat_postMessage(channel="CTEAM", text="another channel has its own")["ok"]
        clock.advance(1)
        assert client.chat_postMessage(channel="CGENERAL", text="a second later")["ok"]
        assert len(emulator.messages("CGENERAL")) == 4


def test_a_distributed_app_reads_history_once_a_minute_fifteen_messages_at_a_time(clock: ManualClock) -> None:
    for emulator in build(clock, rate_limits=RateLimits(distributed=True, post_burst=40)):
        client = WebClient(token=emulator.bot_token, base_url=emulator.api_url, timeout=5)
        for n in range(20):
            client.chat_postMessage(channel="CGENERAL", text=f"m{n}")
        page = client.conversations_history(channel="CGENERAL", limit=200)
        assert len(page["messages"]) == 15 and page["has_more"]
        with pytest.raises(SlackApiError) as excinfo:
            client.conversations_history(channel="CGENERAL")
        assert excinfo.value.response.status_code == 429
        assert excinfo.value.response.headers["Retry-After"] == "60"
        assert client.conversations_replies(channel="CGENERAL", ts=page["messages"][0]["ts"])["ok"], "counted apart"
        clock.advance(60)
        assert client.conversations_history(channel="CGENERAL")["ok"]


def test_rate_limits_can_be_turned_off_for_narrow_tests(clock: ManualClock) -> None:
    for emulator in build(clock, rate_limits=RateLimits(enabled=False)):
        client = WebClient(token=emulator.bot_token, base_url=emulator.api_url, timeout=5)
        for n in range(30):
            client.chat_postMessage(channel="CGENERAL", text=f"m{n}")
        assert len(emulator.messages("CGENERAL")) == 30
