"""response_url posts (Bolt's ``respond()``) and slash-command ack bodies."""

from __future__ import annotations

import json
from wsgiref.types import WSGIEnvironment

import bot.jsontext as jsontext
from bot.sandbox.emulator.http import _read_body
from bot.sandbox.emulator.messages import MessageStore
from bot.sandbox.emulator.state import (
    RESPONSE_URL_MAX_USES,
    RESPONSE_URL_TTL_SECONDS,
    ApiResult,
    JsonDict,
    SlackApiFailure,
    _Channel,
    _ResponseHook,
)
from bot.sandbox.emulator.validation import _truthy


class ResponseUrls(MessageStore):
    """Applying messages sent to a response_url, or returned in an ack, to the workspace."""

    def _serve_response_url(self, environ: WSGIEnvironment, hook_id: str) -> ApiResult:
        try:
            payload = jsontext.decoded(_read_body(environ) or b"{}")
        except json.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            failure = ApiResult(400, {"ok": False, "error": "invalid_payload"})
            return self._record("response_url", jsontext.as_text({"response_id": hook_id}), failure)
        return self.handle_response_url(hook_id, payload)

    def handle_response_url(self, hook_id: str, payload: JsonDict) -> ApiResult:
        """Apply a message sent to a response_url (Bolt's ``respond()``) and log it as ``response_url``."""
        with self._lock:
            args = {"response_id": hook_id, **payload}
            try:
                hook = self._usable_hook(hook_id)
                self._apply_response(hook, payload, "response_url")
            except SlackApiFailure as exc:
                return self._record("response_url", jsontext.as_text(args), ApiResult(exc.status, exc.body()))
            hook.uses += 1
            return self._record("response_url", jsontext.as_text(args), ApiResult(200, {"ok": True}))

    def apply_ack(self, channel_id: str, user_id: str, payload: JsonDict) -> None:
        """Show a slash-command ack body (text/blocks) the way Slack does."""
        with self._lock:
            hook = _ResponseHook(channel_id, user_id, None, created_at=self.clock())
            self._apply_response(hook, payload, "ack")

    def _usable_hook(self, hook_id: str) -> _ResponseHook:
        hook = self._hooks.get(hook_id)
        if hook is None:
            raise SlackApiFailure("no_active_hooks", status=404)
        if self.clock() - hook.created_at > RESPONSE_URL_TTL_SECONDS:
            raise SlackApiFailure("expired_url", status=404)
        if hook.uses >= RESPONSE_URL_MAX_USES:
            raise SlackApiFailure("used_url", status=404)
        return hook

    def _apply_response(self, hook: _ResponseHook, payload: JsonDict, source: str) -> None:
        if _truthy(payload.get("delete_original")):
            self._delete_original(hook)
        elif _truthy(payload.get("replace_original")) and (hook.message_ts or hook.ephemeral):
            self._replace_original(hook, payload)
        elif payload.get("response_type") == "in_channel":
            channel = self._hook_channel(hook)
            message = self._new_bot_message(self._message_content(payload, via_response_url=True))
            if payload.get("thread_ts"):
                self._add_reply(channel, str(payload["thread_ts"]), message, broadcast=False)
            else:
                self._add_top_level(channel, message)
        else:
            content = self._message_content(payload, via_response_url=True)
            if payload.get("thread_ts"):
                content["thread_ts"] = str(payload["thread_ts"])
            hook.ephemeral = self._store_ephemeral(hook.channel_id, hook.user_id, content, source)

    def _hook_channel(self, hook: _ResponseHook) -> _Channel:
        found = self._channels.get(hook.channel_id)
        if found is None:
            raise SlackApiFailure("channel_not_found")
        return found

    def _delete_original(self, hook: _ResponseHook) -> None:
        if hook.message_ts:
            channel = self._hook_channel(hook)
            self._remove_message(channel, self._message_or_fail(channel, hook.message_ts))
        elif hook.ephemeral is not None:
            self._ephemerals[:] = [e for e in self._ephemerals if e is not hook.ephemeral]
            hook.ephemeral = None

    def _replace_original(self, hook: _ResponseHook, payload: JsonDict) -> None:
        content = self._message_content(payload, via_response_url=True)
        if hook.message_ts:
            message = self._message_or_fail(self._hook_channel(hook), hook.message_ts)
            message.pop("blocks", None)
            message.update(content)
        elif hook.ephemeral is not None:
            hook.ephemeral.update(text=content.get("text", ""), blocks=content.get("blocks", []))
