"""A request's identity: what every delivery of one Slack request shares and no other request has.

A replay (the same signed body sent again within Slack's five-minute signature window), a retrying proxy, Slack's
own retry of an event and a double submit of a form all carry the same identity; a new click, a new command or a
corrected form does not:

- a click (`block_actions`): team, user, action id, block id, `action_ts`, the message or view it was in and the
  `trigger_id` — Slack gives every click its own `action_ts` and `trigger_id`;
- a form (`view_submission`): team, view id and a hash of the submitted values — the same form submitted again
  with the same answers is the same request, while answers corrected after a refusal are a new one;
- a slash command: team and `trigger_id`, which Slack makes for each command typed;
- an Events API event: its `event_id`.

Use cases record the identity in the same transaction as their effect (`apply_change(..., once=key)`), so a
replay of a request that took effect is acknowledged without redoing anything, while a request that failed
(database down, a refusal) leaves no record and the person can send it again.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["request_key"]


def request_key(body: dict[str, Any]) -> str | None:
    """The identity of the request whose payload is `body`, or None for a kind of request that has none."""
    kind = body.get("type")
    if kind == "event_callback" and body.get("event_id"):
        return f"event:{body['event_id']}"
    if kind == "block_actions":
        return _digest("action", _team(body), _user(body), *_action(body), *_container(body), body.get("trigger_id"))
    if kind == "view_submission":
        view = body.get("view") or {}
        values = (view.get("state") or {}).get("values")
        answers = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return _digest("submit", _team(body), view.get("id"), answers)
    if body.get("command") and body.get("trigger_id"):
        return _digest("command", body.get("team_id"), body["trigger_id"])
    return None


def _digest(prefix: str, *parts: object) -> str:
    """`prefix:` and a hash of the parts (a fixed length, whatever was typed)."""
    joined = "\x1f".join("" if part is None else str(part) for part in parts)
    return f"{prefix}:{hashlib.sha256(joined.encode()).hexdigest()}"


def _team(body: dict[str, Any]) -> object:
    team = body.get("team")
    return team.get("id") if isinstance(team, dict) else body.get("team_id")


def _user(body: dict[str, Any]) -> object:
    user = body.get("user")
    return user.get("id") if isinstance(user, dict) else None


def _action(body: dict[str, Any]) -> tuple[object, object, object]:
    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    return first.get("action_id"), first.get("block_id"), first.get("action_ts")


def _container(body: dict[str, Any]) -> tuple[object, object]:
    container = body.get("container")
    if not isinstance(container, dict):
        return None, None
    return container.get("message_ts"), container.get("view_id")
