"""views.* Web API methods and the platform-side modal stack operations (``response_action``)."""

from __future__ import annotations

import functools
from typing import Any

import bot.jsontext as jsontext
from bot.sandbox.emulator.blockkit import Problem, check_view
from bot.sandbox.emulator.messages import MessageStore, refusal
from bot.sandbox.emulator.state import ANONYMOUS_USER, MAX_MODAL_STACK, JsonDict, SlackApiFailure, _Trigger, json_copy
from bot.sandbox.emulator.validation import _required


def view_problems(spec: Any) -> list[Problem]:
    """`check_view`, remembered for views seen before: the same view gets the same answer.

    Checking a view element by element is most of what a `views.open` costs here (about 2 ms for an 18-block
    form); a bot opens the same form again and again, and Slack's own checking costs it nothing.
    """
    try:
        text = jsontext.encoded(spec)
    except (TypeError, ValueError):
        return check_view(spec)
    return list(_checked_text(text))


@functools.lru_cache(maxsize=256)
def _checked_text(text: bytes) -> tuple[Problem, ...]:
    return tuple(check_view(jsontext.decoded(text)))


class ViewsApi(MessageStore):
    """Handlers for ``views.*``, modal stacks and App Home tabs."""

    def _check_trigger(self, trigger_id: Any) -> _Trigger:
        trigger = self._triggers.get(str(trigger_id or ""))
        if trigger is None:
            raise SlackApiFailure("invalid_trigger_id")
        if trigger.used:
            raise SlackApiFailure("exchanged_trigger_id")
        if self.clock() - trigger.created_at > self.trigger_ttl_seconds:
            raise SlackApiFailure("expired_trigger_id")
        return trigger

    def _view_arg(self, args: JsonDict, allowed_types: tuple[str, ...]) -> JsonDict:
        return self._checked_view(_required(args, "view"), allowed_types)

    def _checked_view(self, spec: Any, allowed_types: tuple[str, ...]) -> JsonDict:
        """The view, if Slack would take it as one of ``allowed_types`` (``invalid_arguments`` otherwise)."""
        problems = self._counted(view_problems(spec))
        if problems:
            raise refusal(problems)
        if spec["type"] not in allowed_types:
            raise SlackApiFailure("invalid_arguments", response_metadata={"messages": ["[ERROR] wrong view type"]})
        return dict(spec)

    def _check_external_id(self, spec: JsonDict, own_id: str | None = None) -> None:
        external_id = spec.get("external_id")
        if not external_id:
            return
        if any(v["external_id"] == external_id and v["id"] != own_id for v in self._views.values()):
            raise SlackApiFailure("duplicate_external_id")

    def _build_view(self, spec: JsonDict, view_id: str, root_view_id: str, previous_view_id: str | None) -> JsonDict:
        """The stored view, made of `spec` itself: the emulator's own (decoded for the call, or copied where it came
        in: `handle_api_call`, `push_modal`, `replace_view`)."""
        return {
            "id": view_id,
            "team_id": self.team_id,
            "type": spec["type"],
            "blocks": self._with_generated_ids(spec.get("blocks", [])),
            "private_metadata": str(spec.get("private_metadata", "")),
            "callback_id": str(spec.get("callback_id", "")),
            "state": {"values": {}},
            "hash": self._new_hash(),
            "title": spec.get("title"),
            "clear_on_close": bool(spec.get("clear_on_close", False)),
            "notify_on_close": bool(spec.get("notify_on_close", False)),
            "close": spec.get("close"),
            "submit": spec.get("submit"),
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id,
            "app_id": self.app_id,
            "external_id": str(spec.get("external_id", "")),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }

    def _create_view(self, spec: JsonDict, root_view_id: str | None, previous_view_id: str | None) -> JsonDict:
        self._check_external_id(spec)
        view_id = self._new_id("V")
        view = self._build_view(spec, view_id, root_view_id or view_id, previous_view_id)
        self._views[view_id] = view
        return view

    def _replace_view(self, current: JsonDict, spec: JsonDict) -> JsonDict:
        spec = self._checked_view(spec, (current["type"],))
        self._check_external_id(spec, own_id=current["id"])
        view = self._build_view(spec, current["id"], current["root_view_id"], current["previous_view_id"])
        self._views[current["id"]] = view
        return view

    def _push(self, user_id: str, spec: JsonDict) -> JsonDict:
        spec = self._checked_view(spec, ("modal",))
        stack = self._stacks.get(user_id)
        if not stack:
            raise SlackApiFailure("not_found")
        if len(stack) >= MAX_MODAL_STACK:
            raise SlackApiFailure("push_limit_reached")
        view = self._create_view(spec, root_view_id=stack[0], previous_view_id=stack[-1])
        stack.append(view["id"])
        return view

    def _views_open(self, args: JsonDict) -> JsonDict:
        trigger = self._check_trigger(args.get("trigger_id"))
        spec = self._view_arg(args, ("modal",))
        view = self._create_view(spec, root_view_id=None, previous_view_id=None)
        trigger.used = True
        self._stacks[trigger.user_id or ANONYMOUS_USER] = [view["id"]]
        return {"view": view}

    def _views_push(self, args: JsonDict) -> JsonDict:
        trigger = self._check_trigger(args.get("trigger_id"))
        view = self._push(trigger.user_id or ANONYMOUS_USER, _required(args, "view"))
        trigger.used = True
        return {"view": view}

    def _view_for_update(self, args: JsonDict) -> JsonDict:
        if args.get("view_id"):
            return self._views_or_fail(str(args["view_id"]))
        external_id = args.get("external_id")
        found = next((v for v in self._views.values() if external_id and v["external_id"] == external_id), None)
        if found is None:
            raise SlackApiFailure("not_found")
        return found

    def _views_update(self, args: JsonDict) -> JsonDict:
        current = self._view_for_update(args)
        if args.get("hash") and args["hash"] != current["hash"]:
            raise SlackApiFailure("hash_conflict")
        spec = _required(args, "view")
        return {"view": self._replace_view(current, spec)}

    def _views_publish(self, args: JsonDict) -> JsonDict:
        user = self._user_or_fail(args.get("user_id"))
        spec = self._view_arg(args, ("home",))
        current_id = self._homes.get(user["id"])
        if current_id is None:
            view = self._create_view(spec, root_view_id=None, previous_view_id=None)
            self._homes[user["id"]] = view["id"]
            return {"view": view}
        current = self._views[current_id]
        if args.get("hash") and args["hash"] != current["hash"]:
            raise SlackApiFailure("hash_conflict")
        return {"view": self._replace_view(current, spec)}

    # ---------------------------------------------------------------- platform-side view operations

    def close_view(self, view_id: str) -> None:
        """Remove ``view_id`` and every view pushed above it from its owner's stack."""
        with self._lock:
            for user, stack in list(self._stacks.items()):
                if view_id in stack:
                    del stack[stack.index(view_id) :]
                    if not stack:
                        del self._stacks[user]

    def clear_modals(self, user_id: str) -> None:
        """Close every modal of the user."""
        with self._lock:
            self._stacks.pop(user_id, None)

    def push_modal(self, user_id: str, spec: JsonDict) -> JsonDict:
        """Push a view on the user's stack (``response_action: push``)."""
        with self._lock:
            return json_copy(self._push(user_id, json_copy(spec)))

    def replace_view(self, view_id: str, spec: JsonDict) -> JsonDict:
        """Replace a view's content in place (``response_action: update``)."""
        with self._lock:
            return json_copy(self._replace_view(self._views_or_fail(view_id), json_copy(spec)))

    def set_view_errors(self, view_id: str, errors: JsonDict) -> None:
        """Store ``response_action: errors`` on the view; each key must be the block_id of one of its input blocks.

        Slack shows each error under its input; a key naming anything else fails the whole answer, and the person
        sees a generic error instead of the field errors (``invalid_arguments`` here).
        """
        with self._lock:
            view = self._views_or_fail(view_id)
            inputs = {b.get("block_id") for b in view.get("blocks", []) if b.get("type") == "input"}
            unknown = sorted(str(key) for key in errors if key not in inputs)
            if not errors or unknown:
                messages = [f"[ERROR] {key!r} is not the block_id of an input block in the view" for key in unknown]
                raise SlackApiFailure("invalid_arguments", response_metadata={"messages": messages or ["no errors"]})
            view["errors"] = dict(errors)
