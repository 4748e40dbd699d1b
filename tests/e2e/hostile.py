"""Helpers for the hostile-input tests: raw signed requests, what was stored, and what the bot showed in Slack.

The injection check reads everything the bot sent to the emulator (Web API calls, response_url posts,
slash-command acks) and looks at every string Slack would render as mrkdwn. There, the only `<…>` tokens
allowed are the ones the bot makes itself: mentions of real users, links to real channels, `<!date^…>`,
user-group mentions and http(s) links that do not point where the hostile input points.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.db import unit_of_work
from bot.models import Base
from bot.sandbox.platform import PlatformResponse, sign_request
from tests.e2e.conftest import SIGNING_SECRET, Stack

FORM = "application/x-www-form-urlencoded"

# Everything Slack would turn into a ping, a mention, a channel link or a disguised link if posted unescaped.
EVIL_HOST = "evil.example"
FORGED_USER, FORGED_CHANNEL, PRE_ESCAPED_USER = "U0HOSTILE", "C0HOSTILE", "U0PREESC"
INJECTION = (
    f"<!channel> <!here> <!everyone> <@{FORGED_USER}> <#{FORGED_CHANNEL}> <https://{EVIL_HOST}|click> "
    f"*bold* _it_ ~s~ `code` &lt;@{PRE_ESCAPED_USER}&gt; &amp; 🔥🚨 \u202e\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627\u202c"
)
MEDIUM_INJECTION = (
    f"<!channel><@{FORGED_USER}><#{FORGED_CHANNEL}><https://{EVIL_HOST}|x>&lt;@{PRE_ESCAPED_USER}&gt;🔥\u202e"
)
SHORT_INJECTION = f"<!here><@{FORGED_USER}><https://{EVIL_HOST}|x>"  # for fields of 60 characters or fewer
# A pre-escaped entity must be escaped again (`&amp;lt;`); posted as it was typed it would show as `<@U0PREESC>`.
PRE_ESCAPED_RAW = f"&lt;@{PRE_ESCAPED_USER}&gt;"
HOSTILE_MARKERS = (EVIL_HOST, FORGED_USER, FORGED_CHANNEL, PRE_ESCAPED_USER)


def hostile(tag: str, limit: int | None = None) -> str:
    """Hostile text tagged `«tag»` (to find where it was posted), cut to `limit` characters."""
    fitting = [f"«{tag}»{i}" for i in (INJECTION, MEDIUM_INJECTION, SHORT_INJECTION)]
    return next((text for text in fitting if limit is None or len(text) <= limit), fitting[-1][:limit])


def shown_tag(tag: str) -> str:
    """How the start of `hostile(tag)` reads once escaped for mrkdwn."""
    return f"«{tag}»&lt;!"


# ------------------------------------------------------------------------------------------ requests


def post_raw(
    stack: Stack,
    body: str | bytes,
    *,
    content_type: str = FORM,
    timestamp: str | None = None,
    signature: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> PlatformResponse:
    """POST `body` to /slack/events, signed with the app's secret unless a timestamp/signature is given."""
    data = body.encode() if isinstance(body, str) else body
    stamp = str(int(time.time())) if timestamp is None else timestamp
    sent = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature
        if signature is not None
        else sign_request(SIGNING_SECRET, stamp, data.decode(errors="replace")),
        **(headers or {}),
    }
    sent = {k: v for k, v in sent.items() if v != ""}
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(f"{stack.bot_url}/slack/events", data=data, headers=sent, method="POST")
    started = time.perf_counter()
    try:
        with opener.open(request, timeout=timeout) as resp:
            status, answer = resp.status, resp.read().decode()
            got = {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as exc:
        with exc:
            status, answer = exc.code, exc.read().decode()
            got = {k.lower(): v for k, v in exc.headers.items()}
    return PlatformResponse(status, got, answer, time.perf_counter() - started)


def post_payload(stack: Stack, payload: Any, **kwargs: Any) -> PlatformResponse:
    """An interactivity request: `payload=<json>` (any JSON value, or a raw string sent as is)."""
    raw = payload if isinstance(payload, str) else json.dumps(payload)
    return post_raw(stack, urlencode({"payload": raw}), **kwargs)


def interaction(stack: Stack, kind: str, user: str) -> dict[str, Any]:
    """The envelope Slack puts around every interactivity payload."""
    emulator = stack.emulator
    return {
        "type": kind,
        "team": {"id": emulator.team_id, "domain": emulator.team_domain},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": emulator.team_id},
        "api_app_id": emulator.app_id,
        "token": stack.platform.verification_token,
        "trigger_id": emulator.new_trigger_id(user),
        "is_enterprise_install": False,
        "enterprise": None,
    }


def submit_state(stack: Stack, user: str, view: dict[str, Any], values: Any, *, view_id: str) -> PlatformResponse:
    """A view_submission of `view` (as the emulator stored it) with any `state.values`, even ones Slack never sends."""
    payload = interaction(stack, "view_submission", user)
    submitted = {k: v for k, v in view.items() if k != "errors"}
    payload.update(view={**submitted, "id": view_id, "state": {"values": values}}, response_urls=[])
    return post_payload(stack, payload)


def input_block_ids(view: dict[str, Any]) -> set[str]:
    return {b["block_id"] for b in view["blocks"] if b.get("type") == "input"}


# ------------------------------------------------------------------------------------------ what was stored


def table_counts(stack: Stack) -> dict[str, int]:
    """Rows per table: every table the bot writes to."""
    with unit_of_work(stack.services.session_factory) as session:
        return {
            table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


def settle(stack: Stack, quiet: float = 0.3, timeout: float = 15.0) -> dict[str, int]:
    """Wait until the bot's after-ack work is done: no new rows, calls or ephemerals for `quiet` seconds."""

    def snapshot() -> tuple[Any, ...]:
        return (table_counts(stack), len(stack.emulator.calls()), len(stack.emulator.ephemerals()))

    deadline = time.monotonic() + timeout
    last, since = snapshot(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = snapshot()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    counts: dict[str, int] = last[0]
    return counts


# ------------------------------------------------------------------------------------------ what was posted

TEXT_KEYS = ("text", "fallback", "pretext", "initial_comment")
_SAFE_TOKENS = (
    re.compile(r"!date\^\d+\^[^|<>]*\|[^<>]*"),
    re.compile(r"!subteam\^S[A-Z0-9]+"),
    re.compile(r"https?://[^\s<>|]+(\|[^<>]*)?"),
)


def mrkdwn_strings(value: Any) -> Iterator[str]:
    """Every string Slack renders as mrkdwn in a message, ephemeral or view (plain_text is shown as typed)."""
    if isinstance(value, list):
        for item in value:
            yield from mrkdwn_strings(item)
        return
    if not isinstance(value, dict):
        return
    kind = value.get("type")
    if kind == "broadcast":  # a rich-text @channel/@here
        yield f"<!{value.get('range', 'broadcast')}>"
    if kind == "link" and isinstance(value.get("url"), str):  # a rich-text link
        yield f"<{value['url']}>"
    for key, item in value.items():
        if isinstance(item, str):
            if key in TEXT_KEYS and kind not in ("plain_text", "text"):
                yield item
        else:
            yield from mrkdwn_strings(item)


def unsafe_tokens(text: str, is_user: Callable[[str], bool], is_channel: Callable[[str], bool]) -> list[str]:
    """`<…>` tokens (or a stray `<`) in mrkdwn that the bot did not make: pings, forged mentions, hostile links."""
    found: list[str] = []
    if PRE_ESCAPED_RAW in text:
        found.append(PRE_ESCAPED_RAW)
    for start in [i for i, c in enumerate(text) if c == "<"]:
        end = text.find(">", start)
        inner = text[start + 1 : end] if end != -1 else None
        if inner is None or "<" in inner:
            found.append(text[start : start + 40])
            continue
        if inner.startswith("@"):
            ok = is_user(inner[1:])
        elif inner.startswith("#"):
            ok = is_channel(inner[1:].split("|", 1)[0])
        else:
            ok = any(p.fullmatch(inner) for p in _SAFE_TOKENS)
        if not ok or any(marker in inner for marker in HOSTILE_MARKERS):
            found.append(f"<{inner}>")
    return found


def everything_shown(stack: Stack, extra: list[Any] | None = None) -> list[tuple[str, Any]]:
    """(where, content) for every Web API call, response_url post and ack the bot sent, plus `extra` answers."""
    shown: list[tuple[str, Any]] = [(call.method, call.args) for call in stack.emulator.calls()]
    shown += [(f"ephemeral via {e.get('source', '?')}", e) for e in stack.emulator.ephemerals()]
    shown += [("http answer", item) for item in extra or []]
    return shown


def injections(stack: Stack, extra: list[Any] | None = None) -> list[str]:
    """Every unsafe token in everything the bot showed; [] when all user input was posted as text."""
    emulator = stack.emulator

    def is_user(user_id: str) -> bool:
        return emulator.user(user_id) is not None

    def is_channel(channel_id: str) -> bool:
        return emulator.channel(channel_id) is not None

    problems = []
    for where, content in everything_shown(stack, extra):
        for text in mrkdwn_strings(content):
            problems += [f"{where}: {t!r} in {text[:300]!r}" for t in unsafe_tokens(text, is_user, is_channel)]
    return problems


def posted_text(stack: Stack, extra: list[Any] | None = None) -> str:
    """All mrkdwn the bot showed, joined: for checking that a field's text was posted at all."""
    return "\n".join(t for _, content in everything_shown(stack, extra) for t in mrkdwn_strings(content))


# ------------------------------------------------------------------------------------------ random modal states

NASTY_TEXTS = [
    "",
    " ",
    "\n\t",
    INJECTION,
    SHORT_INJECTION,
    "250 MB",
    "0",
    "-1",
    "12",
    "1e9",
    "NaN",
    "²",
    "١٢",
    "99999999999999999999",
    "\x00",
    "\u202e",
    "🔥" * 3,
    "null",
    "<>&",
    "&lt;&gt;&amp;",
]
EPOCH_NOW = 1_796_000_000  # near tests.conftest.T0 (2026-11-30)


def huge_text() -> st.SearchStrategy[str]:
    return st.builds(
        lambda unit, n: unit * n,
        st.sampled_from(["<", "a", "🔥", "&lt;", "<!here> ", "\u05e9"]),
        st.integers(100, 12_000),
    )


def any_text() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(NASTY_TEXTS), st.text(max_size=60), st.integers().map(str), huge_text())


def _option(value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": value[:75] or "x"}, "value": value}


def wrong_value() -> st.SearchStrategy[Any]:
    """A JSON value of a type the key never holds."""
    return st.one_of(
        st.integers(), st.floats(allow_nan=False), st.booleans(), st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=2), st.text(max_size=10),
    )  # fmt: skip


def well_typed_state(element: dict[str, Any], users: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """A state of the element's own type; its value may still be anything a user or a forger could put there."""
    kind = element["type"]
    offered = [o for o in element.get("options", [])]
    options = st.one_of(st.sampled_from(offered), any_text().map(_option)) if offered else any_text().map(_option)
    if kind in ("plain_text_input", "number_input", "email_text_input", "url_text_input"):
        state = st.fixed_dictionaries({"value": st.none() | any_text()})
    elif kind in ("static_select", "radio_buttons", "external_select"):
        state = st.fixed_dictionaries({"selected_option": st.none() | options})
    elif kind in ("checkboxes", "multi_static_select"):
        state = st.fixed_dictionaries({"selected_options": st.lists(options, max_size=3)})
    elif kind == "datetimepicker":
        near = st.integers(EPOCH_NOW - 10 * 365 * 86400, EPOCH_NOW + 10 * 365 * 86400)
        state = st.fixed_dictionaries({"selected_date_time": st.none() | near | st.integers(-(2**62), 2**62)})
    elif kind == "datepicker":
        days = st.dates().map(lambda d: d.isoformat())
        state = st.fixed_dictionaries({"selected_date": st.none() | days | any_text()})
    elif kind == "users_select":
        state = st.fixed_dictionaries({"selected_user": st.none() | st.sampled_from(users) | any_text()})
    else:
        raise ValueError(f"no strategy for {kind!r}")
    return state.map(lambda s: {"type": kind, **s})


STATE_KEYS = ["value", "selected_option", "selected_options", "selected_date_time", "selected_date", "selected_user"]


def element_state(element: dict[str, Any], users: list[str]) -> st.SearchStrategy[Any]:
    """Mostly a well-typed state; sometimes another element's state, a wrong type, or no object at all."""
    other_element = st.builds(
        lambda t, k, v: {"type": t, k: v},
        st.sampled_from(["plain_text_input", "datepicker", "checkboxes", "static_select", "users_select"]),
        st.sampled_from(STATE_KEYS),
        st.none() | st.text(max_size=10) | st.integers(),
    )
    wrong_type = st.builds(lambda k, v: {"type": element["type"], k: v}, st.sampled_from(STATE_KEYS), wrong_value())
    return st.one_of(
        well_typed_state(element, users), well_typed_state(element, users), well_typed_state(element, users),
        well_typed_state(element, users), other_element, wrong_type, wrong_value(), st.none(),
    )  # fmt: skip


DROP = "(drop this input)"


def modal_states(view: dict[str, Any], good: dict[str, Any], users: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """`state.values` for the view's inputs: a good answer with up to two inputs changed, dropped or garbled,
    or every input random; sometimes with a stray block the view does not have."""
    inputs = {b["block_id"]: b for b in view["blocks"] if b.get("type") == "input"}

    def block(b: dict[str, Any]) -> st.SearchStrategy[Any]:
        action_id = b["element"]["action_id"]
        as_sent = element_state(b["element"], users).map(lambda s: {action_id: s})
        misplaced = st.fixed_dictionaries({"other_action": well_typed_state(b["element"], users)})
        return st.one_of(as_sent, as_sent, as_sent, as_sent, misplaced, wrong_value())

    def changed(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries({k: st.just(DROP) | block(inputs[k]) for k in keys})

    def apply(changes: dict[str, Any], stray: dict[str, Any]) -> dict[str, Any]:
        values = {**stray, **good, **changes}
        return {k: v for k, v in values.items() if v != DROP}

    few_changes = st.lists(st.sampled_from(sorted(inputs)), max_size=2, unique=True).flatmap(changed)
    every_input = st.fixed_dictionaries({}, optional={k: block(b) for k, b in inputs.items()})
    strays = st.dictionaries(
        st.sampled_from(["zz_unknown", "header"]),
        st.just({"x": {"type": "plain_text_input", "value": "x"}}),
        max_size=1,
    )
    return st.one_of(
        st.builds(apply, few_changes, strays),
        st.builds(apply, few_changes, strays),
        st.builds(lambda values, stray: {**stray, **values}, every_input, strays),
    )
