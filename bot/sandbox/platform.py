"""The Slack "platform" side: signed requests delivered to the bot's ``/slack/events`` URL.

:class:`SlackPlatform` builds slash-command, interactivity (``view_submission``, ``block_actions``,
``view_closed``) and Events API payloads from the state held by a :class:`SlackEmulator`, signs them
with the app's signing secret exactly like Slack, POSTs them to the bot and then applies the bot's
acknowledgement the way Slack would (``response_action`` for modals, ack bodies for commands).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as dt_time
from typing import Any
from urllib.parse import urlencode

from bot.sandbox.emulator import SlackApiFailure, SlackEmulator

__all__ = [
    "ACK_DEADLINE_SECONDS",
    "PlatformResponse",
    "SlackPlatform",
    "build_state_values",
    "element_state",
    "sign_request",
]

JsonDict = dict[str, Any]
ACK_DEADLINE_SECONDS = 3.0
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


class _Missing:
    """Sentinel: no value supplied for an input (its initial value, if any, is used)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


# --------------------------------------------------------------------------------------------
# signing


def sign_request(signing_secret: str, timestamp: str, body: str) -> str:
    """Slack's ``X-Slack-Signature`` for a request body: ``v0=`` + hex HMAC-SHA256."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------------------------
# view state (state.values) construction


def _options_of(element: JsonDict) -> list[JsonDict]:
    options = list(element.get("options", []))
    for group in element.get("option_groups", []):
        options.extend(group.get("options", []))
    return options


def _option(element: JsonDict, value: Any) -> JsonDict:
    """The option object of ``element`` whose value is ``value`` (external selects synthesise one)."""
    if isinstance(value, dict):
        return copy.deepcopy(value)
    options = _options_of(element)
    if not options and "external" in str(element.get("type")):
        return {"text": {"type": "plain_text", "text": str(value), "emoji": True}, "value": str(value)}
    for option in options:
        if option.get("value") == str(value):
            return copy.deepcopy(option)
    available = [o.get("value") for o in options]
    raise ValueError(f"{element.get('action_id')!r} has no option {value!r}; options: {available}")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str | dict):
        return [value]
    return list(value)


def _text_state(element: JsonDict, value: Any) -> JsonDict:
    if value is MISSING:
        value = element.get("initial_value")
    return {"value": None if value is None else str(value)}


def _rich_text_state(element: JsonDict, value: Any) -> JsonDict:
    if value is MISSING:
        return {"rich_text_value": element.get("initial_value")}
    if value is None or isinstance(value, dict):
        return {"rich_text_value": value}
    section = {"type": "rich_text_section", "elements": [{"type": "text", "text": str(value)}]}
    return {"rich_text_value": {"type": "rich_text", "elements": [section]}}


def _single_option_state(element: JsonDict, value: Any) -> JsonDict:
    if value is MISSING:
        return {"selected_option": copy.deepcopy(element.get("initial_option"))}
    return {"selected_option": None if value is None else _option(element, value)}


def _multi_option_state(element: JsonDict, value: Any) -> JsonDict:
    if value is MISSING:
        return {"selected_options": copy.deepcopy(element.get("initial_options", []))}
    return {"selected_options": [_option(element, v) for v in _as_list(value)]}


def _date_state(element: JsonDict, value: Any) -> JsonDict:
    if value is MISSING:
        value = element.get("initial_date")
    if isinstance(value, datetime | date):
        value = value.isoformat()[:10]
    elif value is not None:
        value = date.fromisoformat(str(value)).isoformat()
    return {"selected_date": value}


def _time_state(element: JsonDict, value: Any) -> JsonDict:
    if value is MISSING:
        value = element.get("initial_time")
    if isinstance(value, dt_time):
        value = value.strftime("%H:%M")
    elif value is not None:
        value = dt_time.fromisoformat(str(value)).strftime("%H:%M")
    return {"selected_time": value}


def _datetime_state(element: JsonDict, value: Any) -> JsonDict:
    if value is MISSING:
        value = element.get("initial_date_time")
    if isinstance(value, datetime):
        value = value.timestamp()
    return {"selected_date_time": None if value is None else int(value)}


def _scalar_state(key: str, initial_key: str) -> Callable[[JsonDict, Any], JsonDict]:
    def build(element: JsonDict, value: Any) -> JsonDict:
        return {key: element.get(initial_key) if value is MISSING else value}

    return build


def _list_state(key: str, initial_key: str) -> Callable[[JsonDict, Any], JsonDict]:
    def build(element: JsonDict, value: Any) -> JsonDict:
        chosen = element.get(initial_key, []) if value is MISSING else _as_list(value)
        return {key: list(chosen)}

    return build


_STATE_BUILDERS: dict[str, Callable[[JsonDict, Any], JsonDict]] = {
    "plain_text_input": _text_state,
    "email_text_input": _text_state,
    "url_text_input": _text_state,
    "number_input": _text_state,
    "rich_text_input": _rich_text_state,
    "static_select": _single_option_state,
    "external_select": _single_option_state,
    "radio_buttons": _single_option_state,
    "overflow": _single_option_state,
    "multi_static_select": _multi_option_state,
    "multi_external_select": _multi_option_state,
    "checkboxes": _multi_option_state,
    "datepicker": _date_state,
    "timepicker": _time_state,
    "datetimepicker": _datetime_state,
    "users_select": _scalar_state("selected_user", "initial_user"),
    "conversations_select": _scalar_state("selected_conversation", "initial_conversation"),
    "channels_select": _scalar_state("selected_channel", "initial_channel"),
    "multi_users_select": _list_state("selected_users", "initial_users"),
    "multi_conversations_select": _list_state("selected_conversations", "initial_conversations"),
    "multi_channels_select": _list_state("selected_channels", "initial_channels"),
}


def element_state(element: JsonDict, value: Any = MISSING) -> JsonDict:
    """The ``state.values`` entry Slack reports for an element holding ``value``."""
    etype = str(element.get("type"))
    builder = _STATE_BUILDERS.get(etype)
    if builder is None:
        raise ValueError(f"element type {etype!r} ({element.get('action_id')!r}) has no input state")
    return {"type": etype, **builder(element, value)}


def _is_empty_state(state: JsonDict) -> bool:
    return all(v in (None, "", []) for k, v in state.items() if k != "type")


def _is_required_input(block: JsonDict) -> bool:
    return block.get("type") == "input" and not block.get("optional")


def _stateful_elements(blocks: Iterable[JsonDict]) -> Iterable[tuple[JsonDict, JsonDict]]:
    """(block, element) pairs for input elements and interactive accessories/actions."""
    for block in blocks:
        btype = block.get("type")
        if btype == "input" and isinstance(block.get("element"), dict):
            yield block, block["element"]
        elif btype == "actions":
            yield from ((block, e) for e in block.get("elements", []) if isinstance(e, dict))
        elif btype == "section" and isinstance(block.get("accessory"), dict):
            yield block, block["accessory"]


def _value_key(values: Mapping[str, Any], action_id: str, block_id: str) -> str | None:
    if action_id in values:
        return action_id
    return block_id if block_id in values else None


def build_state_values(
    blocks: Iterable[JsonDict], values: Mapping[str, Any], *, enforce_required: bool = True
) -> JsonDict:
    """Build ``view.state.values`` from simple values keyed by action_id or block_id.

    Every ``input`` block is included (unset inputs get their initial/empty state); other
    interactive elements only when named in ``values``. Raises ``ValueError`` for unknown keys,
    unknown options, and (with ``enforce_required``) empty required inputs Slack would not submit.
    """
    state: JsonDict = {}
    used: set[str] = set()
    for block, element in _stateful_elements(blocks):
        action_id, block_id = str(element.get("action_id", "")), str(block.get("block_id", ""))
        key = _value_key(values, action_id, block_id)
        if block.get("type") != "input" and key is None:
            continue
        entry = element_state(element, values[key] if key is not None else MISSING)
        if key is not None:
            used.add(key)
        if enforce_required and _is_required_input(block) and _is_empty_state(entry):
            raise ValueError(f"required input {block_id!r} is empty; Slack would not submit the view")
        state.setdefault(block_id, {})[action_id] = entry
    unknown = set(values) - used
    if unknown:
        raise ValueError(f"no input with action_id/block_id {sorted(unknown)}")
    return state


def _find_element(blocks: Iterable[JsonDict], action_id: str) -> tuple[JsonDict, JsonDict]:
    for block, element in _stateful_elements(blocks):
        if element.get("action_id") == action_id:
            return block, element
    raise ValueError(f"no interactive element with action_id {action_id!r}")


# --------------------------------------------------------------------------------------------
# HTTP


@dataclass
class PlatformResponse:
    """The bot's HTTP answer to one platform request (headers have lower-case names)."""

    status: int
    headers: dict[str, str]
    body: str
    elapsed: float
    view_errors: dict[str, str] | None = None
    action_error: str | None = None
    request_body: str = ""
    request_content_type: str = ""

    def json(self) -> Any | None:
        """The body parsed as JSON, or None if it is empty / not JSON."""
        try:
            return json.loads(self.body) if self.body.strip() else None
        except json.JSONDecodeError:
            return None

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300

    @property
    def acked_in_time(self) -> bool:
        """True if Slack would have accepted the ack (2xx within 3 seconds)."""
        return self.ok and self.elapsed <= ACK_DEADLINE_SECONDS


@dataclass(frozen=True)
class _Delivery:
    retry_num: int | None = None
    timestamp: int | float | None = None
    bad_signature: bool = False


def _http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, dict[str, str], str]:
    """POST over a fresh connection (no proxies); HTTP errors are returned, not raised."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with opener.open(request, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read().decode()


# --------------------------------------------------------------------------------------------
# the platform


class SlackPlatform:
    """Delivers signed Slack requests to the bot and applies its acknowledgements."""

    def __init__(
        self,
        emulator: SlackEmulator,
        app_url: str,
        signing_secret: str,
        *,
        api_base_url: str | None = None,
        verification_token: str = "sandbox-verification-token",
        timeout: float = 10.0,
    ) -> None:
        self.emulator = emulator
        self.app_url = app_url
        self.signing_secret = signing_secret
        self.verification_token = verification_token
        self.timeout = timeout
        if api_base_url is not None:
            emulator.base_url = api_base_url.rstrip("/").removesuffix("/api")

    # ---------------------------------------------------------------- transport

    def _headers(self, body: str, content_type: str, delivery: _Delivery) -> dict[str, str]:
        timestamp = str(int(delivery.timestamp if delivery.timestamp is not None else self.emulator.clock()))
        secret = self.signing_secret + ("-not-the-secret" if delivery.bad_signature else "")
        headers = {
            "Content-Type": content_type,
            "User-Agent": USER_AGENT,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": sign_request(secret, timestamp, body),
        }
        if delivery.retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(delivery.retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        return headers

    def post(
        self,
        body: str,
        content_type: str,
        *,
        retry_num: int | None = None,
        timestamp: float | None = None,
        bad_signature: bool = False,
    ) -> PlatformResponse:
        """Sign and POST a raw body to the app URL."""
        return self._send(body, content_type, _Delivery(retry_num, timestamp, bad_signature))

    def _send(self, body: str, content_type: str, delivery: _Delivery) -> PlatformResponse:
        headers = self._headers(body, content_type, delivery)
        started = time.perf_counter()
        status, resp_headers, text = _http_post(self.app_url, body.encode(), headers, self.timeout)
        elapsed = time.perf_counter() - started
        return PlatformResponse(
            status, resp_headers, text, elapsed, request_body=body, request_content_type=content_type
        )

    def redeliver(self, earlier: PlatformResponse, retry_num: int | None = None) -> PlatformResponse:
        """Send the very same request again, freshly signed: Slack's retry (with ``retry_num``) or a double click."""
        return self._send(earlier.request_body, earlier.request_content_type, _Delivery(retry_num=retry_num))

    def _post_form(self, fields: Mapping[str, str], delivery: _Delivery) -> PlatformResponse:
        return self._send(urlencode(fields), FORM_CONTENT_TYPE, delivery)

    def _post_interaction(self, payload: JsonDict, delivery: _Delivery) -> PlatformResponse:
        return self._post_form({"payload": json.dumps(payload)}, delivery)

    # ---------------------------------------------------------------- payload fragments

    def _team(self) -> JsonDict:
        return {"id": self.emulator.team_id, "domain": self.emulator.team_domain}

    def _user_ref(self, user_id: str) -> JsonDict:
        user = self.emulator.user(user_id) or {}
        name = str(user.get("name", user_id))
        return {"id": user_id, "username": name, "name": name, "team_id": self.emulator.team_id}

    def _channel_name(self, channel_id: str) -> str:
        channel = self.emulator.channel(channel_id) or {}
        if channel.get("is_im"):
            return "directmessage"
        return str(channel.get("name", channel_id))

    def _interaction_base(self, kind: str, user_id: str) -> JsonDict:
        return {
            "type": kind,
            "team": self._team(),
            "user": self._user_ref(user_id),
            "api_app_id": self.emulator.app_id,
            "token": self.verification_token,
            "trigger_id": self.emulator.new_trigger_id(user_id),
            "is_enterprise_install": False,
            "enterprise": None,
        }

    def _now_ts(self) -> str:
        return f"{self.emulator.clock():.6f}"

    # ---------------------------------------------------------------- slash commands

    def slash_command(
        self,
        user_id: str,
        channel_id: str,
        command: str = "/triage",
        text: str = "",
        retry_num: int | None = None,
        *,
        timestamp: float | None = None,
        bad_signature: bool = False,
    ) -> PlatformResponse:
        """Invoke a slash command; a non-empty 2xx ack body is shown like Slack does."""
        fields = self.slash_command_fields(user_id, channel_id, command, text)
        response = self._post_form(fields, _Delivery(retry_num, timestamp, bad_signature))
        self._apply_command_ack(channel_id, user_id, response)
        return response

    def slash_command_fields(
        self, user_id: str, channel_id: str, command: str = "/triage", text: str = ""
    ) -> dict[str, str]:
        """The form fields Slack sends for a slash command, with a fresh trigger and response URL (not yet sent)."""
        return {
            "token": self.verification_token,
            "team_id": self.emulator.team_id,
            "team_domain": self.emulator.team_domain,
            "channel_id": channel_id,
            "channel_name": self._channel_name(channel_id),
            "user_id": user_id,
            "user_name": self._user_ref(user_id)["name"],
            "command": command,
            "text": text,
            "api_app_id": self.emulator.app_id,
            "is_enterprise_install": "false",
            "response_url": self.emulator.new_response_url(channel_id, user_id),
            "trigger_id": self.emulator.new_trigger_id(user_id),
        }

    def _apply_command_ack(self, channel_id: str, user_id: str, response: PlatformResponse) -> None:
        if not response.ok or not response.body.strip():
            return
        data = response.json()
        payload = data if isinstance(data, dict) else {"text": response.body}
        if payload.get("text") or payload.get("blocks"):
            self.emulator.apply_ack(channel_id, user_id, payload)

    # ---------------------------------------------------------------- modals

    def _open_view(self, view_id: str, user_id: str) -> tuple[JsonDict, str]:
        """The stored view and its stack owner; it must be the top of an open modal stack."""
        view = self.emulator.view(view_id)
        owner = self.emulator.modal_owner(view_id)
        if view is None or owner is None:
            raise ValueError(f"view {view_id!r} is not an open modal")
        if owner not in ("", user_id):
            raise ValueError(f"view {view_id!r} belongs to {owner!r}, not {user_id!r}")
        top = self.emulator.current_modal(owner)
        if top is None or top["id"] != view_id:
            raise ValueError(f"view {view_id!r} is not the top of the modal stack")
        return view, owner

    def _view_payload(self, view: JsonDict, state_values: JsonDict) -> JsonDict:
        payload = {k: v for k, v in view.items() if k != "errors"}
        payload["state"] = {"values": state_values}
        return payload

    def submit_view(
        self,
        view_id: str,
        user_id: str,
        values: Mapping[str, Any] | None = None,
        retry_num: int | None = None,
        *,
        timestamp: float | None = None,
        bad_signature: bool = False,
        enforce_required: bool = True,
    ) -> PlatformResponse:
        """Submit the top modal with ``values`` (keyed by action_id or block_id) and apply the ack."""
        owner = self._open_view(view_id, user_id)[1]
        body = self.submission_body(view_id, user_id, values, enforce_required=enforce_required)
        response = self._send(body, FORM_CONTENT_TYPE, _Delivery(retry_num, timestamp, bad_signature))
        if response.ok:
            self._apply_response_action(view_id, owner, response)
        return response

    def submission_body(
        self,
        view_id: str,
        user_id: str,
        values: Mapping[str, Any] | None = None,
        *,
        enforce_required: bool = True,
    ) -> str:
        """The form body Slack sends when the top modal is submitted with ``values``, not sent yet."""
        view = self._open_view(view_id, user_id)[0]
        state = build_state_values(view["blocks"], values or {}, enforce_required=enforce_required)
        payload = self._interaction_base("view_submission", user_id)
        payload.update(view=self._view_payload(view, state), response_urls=[])
        return urlencode({"payload": json.dumps(payload)})

    def _apply_response_action(self, view_id: str, owner: str, response: PlatformResponse) -> None:
        data = response.json()
        data = data if isinstance(data, dict) else {}
        action = data.get("response_action")
        try:
            if action == "errors":  # shown only when every key is an input block of the view
                errors = dict(data.get("errors") or {})
                self.emulator.set_view_errors(view_id, errors)
                response.view_errors = errors
            elif action == "update":
                self.emulator.replace_view(view_id, data.get("view") or {})
            elif action == "push":
                self.emulator.push_modal(owner, data.get("view") or {})
            elif action == "clear":
                self.emulator.clear_modals(owner)
            else:
                self.emulator.close_view(view_id)
        except SlackApiFailure as exc:
            response.action_error = exc.error

    def close_modal(self, view_id: str, user_id: str, *, timestamp: float | None = None) -> PlatformResponse | None:
        """User closes the top modal; sends ``view_closed`` if the view asked for notify_on_close."""
        view, owner = self._open_view(view_id, user_id)
        cleared = bool(view.get("clear_on_close"))
        if cleared:
            self.emulator.clear_modals(owner)
        else:
            self.emulator.close_view(view_id)
        if not view.get("notify_on_close"):
            return None
        payload = self._interaction_base("view_closed", user_id)
        payload.pop("trigger_id")
        payload.update(view=self._view_payload(view, {}), is_cleared=cleared)
        return self._post_interaction(payload, _Delivery(timestamp=timestamp))

    # ---------------------------------------------------------------- block actions

    def click_button(
        self,
        user_id: str,
        action_id: str,
        *,
        channel_id: str | None = None,
        message_ts: str | None = None,
        view_id: str | None = None,
        value: Any = None,
        block_id: str | None = None,
        selected_option_value: Any = None,
        retry_num: int | None = None,
        timestamp: float | None = None,
        bad_signature: bool = False,
    ) -> PlatformResponse:
        """Click a button / pick from a select in a message or a view (``block_actions``)."""
        body = self.click_body(
            user_id,
            action_id,
            channel_id=channel_id,
            message_ts=message_ts,
            view_id=view_id,
            value=value,
            block_id=block_id,
            selected_option_value=selected_option_value,
        )
        return self._send(body, FORM_CONTENT_TYPE, _Delivery(retry_num, timestamp, bad_signature))

    def click_body(
        self,
        user_id: str,
        action_id: str,
        *,
        channel_id: str | None = None,
        message_ts: str | None = None,
        view_id: str | None = None,
        value: Any = None,
        block_id: str | None = None,
        selected_option_value: Any = None,
    ) -> str:
        """The form body Slack sends for one click, not sent yet (``post`` it, as often as a replay would)."""
        payload = self._interaction_base("block_actions", user_id)
        if view_id is not None:
            blocks = self._add_view_container(payload, view_id)
        elif channel_id is not None and message_ts is not None:
            blocks = self._add_message_container(payload, user_id, channel_id, message_ts)
        else:
            raise ValueError("click_button needs view_id or channel_id + message_ts")
        block, element = _find_element(blocks, action_id)
        chosen = selected_option_value if selected_option_value is not None else value
        payload["actions"] = [self._action(block, element, block_id, chosen)]
        return urlencode({"payload": json.dumps(payload)})

    def message_shortcut(
        self, user_id: str, channel_id: str, message_ts: str, callback_id: str, *, timestamp: float | None = None
    ) -> PlatformResponse:
        """Run a message shortcut ("More actions" on a message): Slack sends the whole message, as `message_action`.

        Slack sends it for any message the person can see, in channels the app is not in as well.
        """
        message = self.emulator.message(channel_id, message_ts)
        if message is None:
            raise ValueError(f"no message {message_ts!r} in {channel_id!r}")
        payload = self._interaction_base("message_action", user_id)
        payload.update(
            callback_id=callback_id,
            action_ts=self._now_ts(),
            message_ts=message_ts,
            message={k: v for k, v in message.items() if k in ("type", "user", "ts", "text", "thread_ts", "blocks")},
            channel={"id": channel_id, "name": self._channel_name(channel_id)},
            response_url=self.emulator.new_response_url(channel_id, user_id),
        )
        return self._post_interaction(payload, _Delivery(timestamp=timestamp))

    def click_ephemeral_button(
        self, user_id: str, channel_id: str, ephemeral_ts: str, action_id: str, *, value: Any = None
    ) -> PlatformResponse:
        """Click a button in an ephemeral message shown to ``user_id`` (Slack sends no ``message`` for those)."""
        shown = next(
            (e for e in self.emulator.ephemerals(channel_id, user_id) if e["ts"] == ephemeral_ts),
            None,
        )
        if shown is None:
            raise ValueError(f"no ephemeral message {ephemeral_ts!r} for {user_id!r} in {channel_id!r}")
        payload = self._interaction_base("block_actions", user_id)
        payload.update(
            container={"type": "message", "message_ts": ephemeral_ts, "channel_id": channel_id, "is_ephemeral": True},
            channel={"id": channel_id, "name": self._channel_name(channel_id)},
            state={"values": {}},
            response_url=self.emulator.new_response_url(channel_id, user_id),
        )
        block, element = _find_element(shown.get("blocks") or [], action_id)
        payload["actions"] = [self._action(block, element, None, value)]
        return self._post_interaction(payload, _Delivery())

    def _add_view_container(self, payload: JsonDict, view_id: str) -> list[JsonDict]:
        view = self.emulator.view(view_id)
        if view is None:
            raise ValueError(f"unknown view {view_id!r}")
        state = build_state_values(view["blocks"], {}, enforce_required=False)
        payload["container"] = {"type": "view", "view_id": view_id}
        payload["view"] = self._view_payload(view, state)
        return list(view["blocks"])

    def _add_message_container(
        self, payload: JsonDict, user_id: str, channel_id: str, message_ts: str
    ) -> list[JsonDict]:
        message = self.emulator.message(channel_id, message_ts)
        if message is None:
            raise ValueError(f"no message {message_ts!r} in {channel_id!r}")
        container: JsonDict = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
        if message.get("thread_ts"):
            container["thread_ts"] = message["thread_ts"]
        payload.update(
            container=container,
            channel={"id": channel_id, "name": self._channel_name(channel_id)},
            message=message,
            state={"values": {}},
            response_url=self.emulator.new_response_url(channel_id, user_id, message_ts=message_ts),
        )
        return list(message.get("blocks", []))

    def _action(self, block: JsonDict, element: JsonDict, block_id: str | None, value: Any) -> JsonDict:
        action: JsonDict = {
            "action_id": element["action_id"],
            "block_id": block_id or block.get("block_id"),
            "type": element.get("type"),
            "action_ts": self._now_ts(),
        }
        if element.get("type") == "button":
            action["text"] = element.get("text")
            chosen = value if value is not None else element.get("value")
            if chosen is not None:
                action["value"] = str(chosen)
            if element.get("style"):
                action["style"] = element["style"]
            return action
        state = element_state(element, MISSING if value is None else value)
        state.pop("type")
        action.update(state)
        return action

    # ---------------------------------------------------------------- events

    def send_event(
        self,
        event: JsonDict,
        retry_num: int | None = None,
        *,
        event_id: str | None = None,
        timestamp: float | None = None,
        bad_signature: bool = False,
    ) -> PlatformResponse:
        """Deliver an Events API ``event_callback`` (pass the same ``event_id`` for retries)."""
        event = {**event, "event_ts": event.get("event_ts") or self._now_ts()}
        envelope = {
            "token": self.verification_token,
            "team_id": self.emulator.team_id,
            "api_app_id": self.emulator.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{secrets.token_hex(5).upper()}",
            "event_time": int(self.emulator.clock()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.emulator.team_id,
                    "user_id": self.emulator.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{secrets.token_hex(16)}",
        }
        delivery = _Delivery(retry_num, timestamp, bad_signature)
        return self._send(json.dumps(envelope), "application/json", delivery)

    def open_home(self, user_id: str, *, timestamp: float | None = None) -> PlatformResponse:
        """The user opens the App Home tab (``app_home_opened``); `timestamp` signs it (default: now)."""
        event: JsonDict = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": self.emulator.dm_channel(user_id),
            "tab": "home",
        }
        home = self.emulator.home(user_id)
        if home is not None:
            event["view"] = home
        return self.send_event(event, timestamp=timestamp)

    def user_message(self, user_id: str, channel_id: str, text: str, thread_ts: str | None = None) -> PlatformResponse:
        """A human posts a message: store it in the emulator and deliver the ``message`` event."""
        message = self.emulator.post_user_message(channel_id, user_id, text, thread_ts=thread_ts)
        channel = self.emulator.channel(channel_id) or {}
        channel_type = "im" if channel.get("is_im") else "mpim" if channel.get("is_mpim") else None
        channel_type = channel_type or ("group" if channel.get("is_private") else "channel")
        event = {**message, "channel": channel.get("id", channel_id), "channel_type": channel_type}
        event["event_ts"] = message["ts"]
        return self.send_event(event)

    def url_verification(self, challenge: str = "sandbox-challenge") -> PlatformResponse:
        """Send the Events API ``url_verification`` handshake."""
        body = {"token": self.verification_token, "challenge": challenge, "type": "url_verification"}
        return self.post(json.dumps(body), "application/json")
