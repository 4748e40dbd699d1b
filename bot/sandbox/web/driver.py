"""What a person can do on the page, done the way Slack does it: signed requests to the bot through
:class:`~bot.sandbox.platform.SlackPlatform`, and the bot's answers applied to the emulated workspace.

Requests are signed with real time (Bolt checks the timestamp against the machine's clock) while the
workspace and the bot run on the sandbox clock, which the page can fast-forward.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.sandbox.platform import PlatformResponse, SlackPlatform
from bot.sandbox.web.changes import ChangeFeed
from bot.sandbox.web.clock import SandboxClock
from bot.sandbox.web.workspace import SandboxWorkspace, encode_user_text

__all__ = ["FormField", "Outcome", "SandboxDriver", "form_values", "missing_required"]

JsonDict = dict[str, Any]
COMMAND = "/triage"
REQUIRED_FIELD = "Please complete this required field."
FAST_FORWARD_LIMIT = timedelta(days=2)
TEXT_TYPES = {"plain_text_input", "email_text_input", "url_text_input", "number_input", "rich_text_input"}
SINGLE_TYPES = {
    "static_select",
    "external_select",
    "radio_buttons",
    "users_select",
    "conversations_select",
    "channels_select",
    "datepicker",
    "timepicker",
}
LIST_TYPES = {
    "multi_static_select",
    "multi_external_select",
    "checkboxes",
    "multi_users_select",
    "multi_conversations_select",
    "multi_channels_select",
}


@dataclass(frozen=True)
class Outcome:
    """What the page shows after an action: a problem to tell the person, or field errors on a form."""

    ok: bool
    message: str | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> JsonDict:
        return {"ok": self.ok, "message": self.message, "errors": self.errors}


@dataclass(frozen=True)
class FormField:
    """One input of a submitted modal, as the page collected it."""

    block_id: str
    action_id: str
    type: str
    value: Any

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FormField:
        return cls(str(data["block_id"]), str(data["action_id"]), str(data["type"]), data.get("value"))

    def normalized(self) -> Any:
        """The value in the shape :func:`bot.sandbox.platform.build_state_values` takes (None when empty)."""
        if self.type in LIST_TYPES:
            values = self.value if isinstance(self.value, list) else []
            return [str(v) for v in values if v not in (None, "")]
        if self.type == "datetimepicker":
            return int(self.value) if self.value not in (None, "") else None
        if self.type in TEXT_TYPES | SINGLE_TYPES:
            return str(self.value) if self.value not in (None, "") else None
        raise ValueError(f"the sandbox cannot submit a {self.type!r} input")


def _stateful_ids(blocks: Iterable[JsonDict]) -> tuple[Counter[str], set[str]]:
    """How often each action_id occurs among interactive elements, and every block_id."""
    action_ids: Counter[str] = Counter()
    block_ids: set[str] = set()
    for block in blocks:
        block_ids.add(str(block.get("block_id", "")))
        elements = [block.get("element"), block.get("accessory"), *block.get("elements", [])]
        action_ids.update(str(e["action_id"]) for e in elements if isinstance(e, dict) and e.get("action_id"))
    return action_ids, block_ids


def form_values(blocks: list[JsonDict], fields: Iterable[FormField]) -> dict[str, Any]:
    """Values keyed so the platform finds each one's input: by action_id when that is unambiguous, else block_id."""
    action_ids, block_ids = _stateful_ids(blocks)
    values: dict[str, Any] = {}
    for item in fields:
        if action_ids[item.action_id] == 1 and (item.action_id not in block_ids or item.action_id == item.block_id):
            key = item.action_id
        elif action_ids[item.block_id] == 0:
            key = item.block_id
        else:
            raise ValueError(f"input {item.block_id!r}/{item.action_id!r} cannot be told apart from another one")
        values[key] = item.normalized()
    return values


def missing_required(blocks: list[JsonDict], fields: Iterable[FormField]) -> dict[str, str]:
    """Slack's own check before it submits: every required input must have a value."""
    given = {item.block_id: item.normalized() for item in fields}
    required = [str(b.get("block_id")) for b in blocks if b.get("type") == "input" and not b.get("optional")]
    return {block_id: REQUIRED_FIELD for block_id in required if given.get(block_id) in (None, "", [])}


def _answered(response: PlatformResponse | None, what: str) -> Outcome:
    if response is None or response.ok:
        return Outcome(True, errors=dict(response.view_errors or {}) if response else {})
    return Outcome(False, f"{what} failed: the bot answered HTTP {response.status}.")


class SandboxDriver:
    """The page's actions; every one bumps the change feed so all open pages refresh."""

    def __init__(
        self,
        platform: SlackPlatform,
        workspace: SandboxWorkspace,
        feed: ChangeFeed,
        clock: SandboxClock,
        on_clock_moved: Callable[[], None] = lambda: None,
    ) -> None:
        self.platform = platform
        self.emulator = platform.emulator
        self.workspace = workspace
        self.feed = feed
        self.clock = clock
        self.on_clock_moved = on_clock_moved

    def _changed(self, outcome: Outcome) -> Outcome:
        self.feed.bump()
        return outcome

    # ------------------------------------------------------------------ composer

    def compose(self, user_id: str, channel_id: str, text: str, thread_ts: str | None = None) -> Outcome:
        """``/triage …`` is a slash command; anything else is a message posted as ``user_id``."""
        stripped = text.strip()
        if not stripped:
            return Outcome(False, "Type a message, or /triage to open an incident.")
        if stripped.startswith("/"):
            return self.slash_command(user_id, channel_id, stripped)
        return self.post_message(user_id, channel_id, stripped, thread_ts)

    def slash_command(self, user_id: str, channel_id: str, text: str) -> Outcome:
        command, _, args = text.partition(" ")
        if command != COMMAND:
            return Outcome(False, f"{command} is not a valid command. In the sandbox, {COMMAND} is installed.")
        response = self.platform.slash_command(user_id, channel_id, COMMAND, args.strip(), timestamp=time.time())
        return self._changed(_answered(response, COMMAND))

    def post_message(self, user_id: str, channel_id: str, text: str, thread_ts: str | None = None) -> Outcome:
        """Post as a person; the bot hears it only when mentioned (it subscribes to ``app_mention`` alone)."""
        encoded = encode_user_text(text, self.workspace.handles(), self.workspace.channel_names())
        message = self.emulator.post_user_message(channel_id, user_id, encoded, thread_ts=thread_ts)
        self.feed.bump()
        if f"<@{self.emulator.bot_user_id}>" not in encoded:
            return Outcome(True)
        event: JsonDict = {
            "type": "app_mention",
            "user": user_id,
            "text": encoded,
            "ts": message["ts"],
            "channel": channel_id,
            "event_ts": message["ts"],
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return self._changed(_answered(self.platform.send_event(event, timestamp=time.time()), "The mention"))

    # ------------------------------------------------------------------ interactivity

    def act(
        self,
        user_id: str,
        action_id: str,
        *,
        channel_id: str | None = None,
        message_ts: str | None = None,
        view_id: str | None = None,
        selected: Any = None,
        ephemeral: bool = False,
    ) -> Outcome:
        """A button click or a choice in a select / overflow / picker: ``block_actions``.

        ``ephemeral``: the control is in a message only this user sees (``channel_id`` and ``message_ts`` name it).
        """
        try:
            if ephemeral and channel_id is not None and message_ts is not None:
                clicked = self.platform.click_ephemeral_button(
                    user_id, channel_id, message_ts, action_id, value=selected
                )
                return self._changed(_answered(clicked, "The action"))
            response = self.platform.click_button(
                user_id,
                action_id,
                channel_id=channel_id,
                message_ts=message_ts,
                view_id=view_id,
                selected_option_value=selected,
                timestamp=time.time(),
            )
        except ValueError as exc:
            return self._changed(Outcome(False, f"That control is gone ({exc})."))
        return self._changed(_answered(response, "The action"))

    def message_shortcut(self, user_id: str, channel_id: str, message_ts: str, callback_id: str) -> Outcome:
        """A message shortcut run on a message ("More actions"): ``message_action``."""
        try:
            response = self.platform.message_shortcut(
                user_id, channel_id, message_ts, callback_id, timestamp=time.time()
            )
        except ValueError as exc:
            return self._changed(Outcome(False, f"That message is gone ({exc})."))
        return self._changed(_answered(response, "The shortcut"))

    def submit(self, user_id: str, view_id: str, fields: list[FormField]) -> Outcome:
        """Submit the top modal: required inputs are checked first, as Slack does; the bot's errors are shown."""
        view = self.emulator.current_modal(user_id)
        if view is None or view["id"] != view_id:
            return self._changed(Outcome(False, "This form is no longer open."))
        try:
            values = form_values(view["blocks"], fields)
            missing = missing_required(view["blocks"], fields)
        except ValueError as exc:
            return Outcome(False, str(exc))
        if missing:
            self.emulator.set_view_errors(view_id, missing)
            return self._changed(Outcome(False, errors=missing))
        response = self.platform.submit_view(view_id, user_id, values, timestamp=time.time(), enforce_required=False)
        if response.action_error:
            return self._changed(Outcome(False, f"The bot's answer was refused: {response.action_error}."))
        return self._changed(_answered(response, "Submitting"))

    def close(self, user_id: str, view_id: str, *, everything: bool = False) -> Outcome:
        """Cancel (back to the previous modal) or close the whole stack (``view_closed`` when asked for)."""
        stack = [v["id"] for v in self.emulator.modal_stack(user_id)]
        if view_id not in stack:
            return self._changed(Outcome(True))
        closing = list(reversed(stack)) if everything else [view_id]
        for closing_id in closing:
            top = self.emulator.current_modal(user_id)
            if top is None or top["id"] != closing_id:
                break
            self.platform.close_modal(closing_id, user_id, timestamp=time.time())
        return self._changed(Outcome(True))

    def open_home(self, user_id: str) -> Outcome:
        """The person opens the app's Home tab: ``app_home_opened``."""
        return self._changed(_answered(self.platform.open_home(user_id, timestamp=time.time()), "Opening Home"))

    # ------------------------------------------------------------------ time

    def fast_forward(self, minutes: int) -> Outcome:
        """Move the sandbox clock (bot and workspace) forward and let the scheduler run what fell due."""
        delta = timedelta(minutes=minutes)
        if not timedelta(0) < delta <= FAST_FORWARD_LIMIT:
            return Outcome(False, "Fast-forward by 1 minute to 2 days at a time.")
        self.clock.advance(delta)
        self.on_clock_moved()
        return self._changed(Outcome(True))
