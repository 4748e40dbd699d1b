"""Calling Bolt listeners directly, as Slack's Bolt app templates test theirs: a mocked `ack`, `client`, `respond`
and `say`, the services in the context, and the use cases patched in each test (`patch.object(..., autospec=True)`,
so a call with the wrong arguments fails). Forms are built by the real `blocks` builders and submitted with the
state Slack would send (`build_state_values`), so the listener's parsing is the real one."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import MagicMock, Mock
from zoneinfo import ZoneInfo

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.models.views import View

from bot.sandbox.platform import build_state_values
from tests.conftest import T0

TEAM, USER, CHANNEL, TRIGGER, VIEW_ID = "T1", "UAGENT", "CSUPPORT", "trigger-1", "V123"
INCIDENT_ID = 7
AREAS = {"uploads": "UPM"}


@dataclass
class Call:
    """What Bolt hands a listener, mocked; `services` is what `services_of(context)` returns."""

    services: MagicMock = field(default_factory=lambda: a_services())
    ack: Mock = field(default_factory=lambda: Mock(name="ack"))
    respond: Mock = field(default_factory=lambda: Mock(name="respond"))
    say: Mock = field(default_factory=lambda: Mock(name="say"))
    client: MagicMock = field(default_factory=lambda: MagicMock(name="client", spec=WebClient))

    @property
    def context(self) -> BoltContext:
        return BoltContext({"services": self.services, "app_services": self.services, "team_id": TEAM})

    def run(self, listener: Callable[..., Any], **payload: Any) -> Any:
        """Call `listener` as Bolt does: with those of its arguments it names (ack, client, respond, say,
        context, and the payload's body, view, command or event)."""
        available = {
            "ack": self.ack,
            "client": self.client,
            "respond": self.respond,
            "say": self.say,
            "context": self.context,
            **payload,
        }
        wanted = inspect.signature(listener).parameters
        return listener(**{name: value for name, value in available.items() if name in wanted})


def a_services() -> MagicMock:
    services = MagicMock(name="services")
    services.clock.now.return_value = T0
    services.settings.display_zone = ZoneInfo("UTC")
    services.settings.product_area_pms = AREAS
    services.background.answer.side_effect = lambda work: work()  # answers after the ack run at once here
    return services


def submission(
    form: View | Mapping[str, Any],
    values: Mapping[str, Any],
    *,
    metadata: str | None = None,
    user: str = USER,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(body, view) of a `view_submission` of `form` filled with `values` (keyed by action id, as in e2e tests)."""
    shown = form.to_dict() if isinstance(form, View) else dict(form)
    view = {
        "id": VIEW_ID,
        "type": "modal",
        "callback_id": shown.get("callback_id", ""),
        "private_metadata": shown.get("private_metadata", "") if metadata is None else metadata,
        "blocks": shown["blocks"],
        "state": {"values": build_state_values(shown["blocks"], values, enforce_required=False)},
    }
    body = {"type": "view_submission", "team": {"id": TEAM}, "user": {"id": user}, "view": view}
    return body, view


def click(action_id: str, value: str, *, user: str = USER, thread_ts: str | None = None) -> dict[str, Any]:
    """The `block_actions` body of a click on a button of a message in CHANNEL (in a thread when `thread_ts`)."""
    container: dict[str, Any] = {"type": "message", "channel_id": CHANNEL, "message_ts": "1700000000.000200"}
    if thread_ts:
        container["thread_ts"] = thread_ts
    return {
        "type": "block_actions",
        "team": {"id": TEAM},
        "user": {"id": user},
        "trigger_id": TRIGGER,
        "channel": {"id": CHANNEL},
        "container": container,
        "actions": [{"action_id": action_id, "block_id": "b1", "value": value, "action_ts": "1700000001.000300"}],
    }


def metadata(**values: Any) -> str:
    return json.dumps({"incident_id": INCIDENT_ID, **values})


def ephemeral(text: str) -> dict[str, Any]:
    """The keyword arguments of `respond` for an answer only the clicker sees."""
    return {"text": text, "response_type": "ephemeral", "replace_original": False}


class Recorder:
    """Stands in for the Bolt App in `register(app)`: records which ids each kind of listener is wired to."""

    def __init__(self) -> None:
        self.wired: dict[str, dict[str, Any]] = {}
        self.middleware: dict[str, list[Any]] = {}  # listener id -> its own middleware

    def __getattr__(self, kind: str) -> Any:
        def decorator_for(listener_id: str, *, middleware: list[Any] | None = None) -> Any:
            def wire(handler: Any) -> Any:
                self.wired.setdefault(kind, {})[listener_id] = handler
                self.middleware[listener_id] = list(middleware or [])
                return handler

            return wire

        return decorator_for
