"""Global middleware: hand services to listeners; acknowledge, without redoing, Slack's retried events;
refuse interaction payloads Slack could not have sent."""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

from bot.listeners.replays import request_key
from bot.services.container import Services
from bot.services.deliveries import first_time_received

logger = logging.getLogger(__name__)


class NamedArgs(Middleware):
    """A function middleware given the arguments it names (`req`, `context`, `body`, `next`), found out once.

    `app.use(function)` makes Bolt work out a function's arguments on every request, trying every payload type
    (`build_required_kwargs`, about 30 us a call): with six middleware functions that was the largest part of the
    work done before `ack()` that a bare Bolt app does not do.
    """

    SUPPLIED: dict[str, Callable[[BoltRequest], Any]] = {
        "req": lambda req: req,
        "context": lambda req: req.context,
        "body": lambda req: req.body,
    }

    def __init__(self, func: Callable[..., BoltResponse | None]) -> None:
        self.func = func
        self.names = list(inspect.signature(func).parameters)
        unknown = set(self.names) - set(self.SUPPLIED) - {"next"}
        if unknown:
            wanted = ", ".join(sorted(unknown))
            raise TypeError(f"{func.__qualname__} asks for {wanted}: a middleware gets req, context, body, next")

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse | None:
        kwargs = {name: next if name == "next" else self.SUPPLIED[name](req) for name in self.names}
        return self.func(**kwargs)

    @property
    def name(self) -> str:
        return f"{self.func.__module__}.{self.func.__qualname__}"


SERVICES = "services"
APP_SERVICES = "app_services"


def services_of(context: BoltContext) -> Services:
    """The services as this request sees them (`Services.for_request`), worked out on first use and kept.

    On first use, not in the middleware: a listener that acknowledges first (`/triage` opening the form) does not
    wait for the workspace's settings to be read before Slack has its answer.
    """
    services: Services | None = context.get(SERVICES)
    if services is None:
        services = context[SERVICES] = app_services(context).for_request(context.team_id)
    return services


def app_services(context: BoltContext) -> Services:
    """The app's services as built at start-up (not yet scoped to the request's workspace)."""
    services: Services = context[APP_SERVICES]
    return services


def inject_services(services: Services) -> Callable[..., Any]:
    """Listeners find the services in their context, scoped to the request's workspace (see `services_of`)."""

    def middleware(context: BoltContext, next: Callable[[], None]) -> None:
        context[APP_SERVICES] = services
        next()

    return middleware


REVOKING_EVENTS = ("app_uninstalled", "tokens_revoked")


def forget_revoked_workspaces(services: Services) -> Callable[..., Any]:
    """Log an uninstall or a token revocation, and stop using the workspace's token in this process at once.

    (Bolt's own listeners for these events then delete the stored installation, which forgets it here too.)
    """

    def middleware(body: dict[str, Any], next: Callable[[], None]) -> None:
        event = body.get("event") or {}
        if body.get("type") == "event_callback" and event.get("type") in REVOKING_EVENTS and body.get("team_id"):
            services.workspaces.forget(str(body["team_id"]))
            logger.info("Slack workspace %s: %s", body["team_id"], event["type"])
        next()

    return middleware


def skip_repeated_events(services: Services) -> Callable[..., Any]:
    """Slack re-delivers an event it thinks timed out; the first delivery is the one we act on.

    (An event is acted on after it is acknowledged, so its key is recorded before; other requests record theirs
    with their effect: see `bot.listeners.replays`.)
    """

    def middleware(req: BoltRequest, body: dict[str, Any], next: Callable[[], None]) -> BoltResponse | None:
        key = request_key(body) if body.get("type") == "event_callback" else None
        if key is None:
            next()
            return None
        if not first_time_received(services, key):
            retry = req.headers.get("x-slack-retry-num", ["?"])[0]
            logger.info("Ignoring repeated delivery %s (retry %s)", key, retry)
            return BoltResponse(status=200, body="")
        next()
        return None

    return middleware


# The types Slack gives each key of an input's state (https://api.slack.com/reference/interaction-payloads).
STATE_TYPES: dict[str, type] = {
    "type": str,
    "value": str,
    "selected_date": str,
    "selected_time": str,
    "selected_date_time": int,
    "selected_user": str,
    "selected_conversation": str,
    "selected_channel": str,
    "selected_option": dict,
    "selected_options": list,
    "selected_users": list,
    "selected_conversations": list,
    "selected_channels": list,
    "rich_text_value": dict,
}


def _is_option(option: Any) -> bool:
    return isinstance(option, dict) and isinstance(option.get("value"), str)


def _is_element_state(element: Any) -> bool:
    if not isinstance(element, dict):
        return False
    for key, expected in STATE_TYPES.items():
        value = element.get(key)
        if value is not None and (not isinstance(value, expected) or isinstance(value, bool)):
            return False
    options = element.get("selected_options") or []
    chosen = element.get("selected_option")
    return all(_is_option(o) for o in options) and (chosen is None or _is_option(chosen))


def _is_block_state(block: Any) -> bool:
    return isinstance(block, dict) and all(_is_element_state(e) for e in block.values())


def well_formed(body: dict[str, Any]) -> bool:
    """Whether an interaction has the envelope Slack sends (user, actions, view and its state as objects)."""
    kind = body.get("type")
    if kind not in ("view_submission", "view_closed", "block_actions"):
        return True
    user = body.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str):
        return False
    if kind == "block_actions":
        actions = body.get("actions")
        return isinstance(actions, list) and all(
            isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions
        )
    view = body.get("view")
    if not isinstance(view, dict) or not all(isinstance(view.get(k), str) for k in ("id", "callback_id")):
        return False
    if kind == "view_closed":
        return True
    state = view.get("state")
    return (
        isinstance(view.get("private_metadata"), str)
        and isinstance(state, dict)
        and isinstance(state.get("values"), dict)
    )


def unreadable_inputs(view: dict[str, Any]) -> set[str]:
    """Block ids whose submitted state has types no Slack element sends (readers may rely on the types)."""
    values: dict[str, Any] = view["state"]["values"]
    return {block_id for block_id, block in values.items() if not _is_block_state(block)}


def _input_block_ids(view: dict[str, Any]) -> set[str]:
    blocks = view.get("blocks")
    listed = blocks if isinstance(blocks, list) else []
    return {b["block_id"] for b in listed if isinstance(b, dict) and b.get("type") == "input" and "block_id" in b}


UNREADABLE = "This answer could not be read. Enter it again."


def refuse_malformed_interactions(body: dict[str, Any], next: Callable[[], None]) -> BoltResponse | None:
    """Before any listener runs: a payload Slack could not have sent is answered 400, or on the form's inputs."""
    if not well_formed(body):
        logger.warning("Refused a malformed %s payload", body.get("type"))
        return BoltResponse(status=400, body="malformed payload")
    if body.get("type") != "view_submission":
        next()
        return None
    unreadable = unreadable_inputs(body["view"])
    if not unreadable:
        next()
        return None
    logger.warning(
        "Refused unreadable inputs %s of a %s submission", sorted(unreadable)[:5], body["view"]["callback_id"]
    )
    if not unreadable <= _input_block_ids(body["view"]):
        return BoltResponse(status=400, body="malformed payload")
    errors = {block_id: UNREADABLE for block_id in sorted(unreadable)}
    return BoltResponse(
        status=200,
        body=json.dumps({"response_action": "errors", "errors": errors}),
        headers={"content-type": "application/json;charset=utf-8"},
    )
