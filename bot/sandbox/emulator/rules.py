"""What every Web API call is checked for before its handler runs: required arguments and scopes, from the spec.

Membership (``not_in_channel`` / ``channel_not_found``) is each handler's business: it depends on what the
method does with the conversation (see ``WorkspaceBase._postable_channel`` and friends).
"""

from __future__ import annotations

from bot.sandbox.emulator.spec import ConversationKind, MethodSpec, bot_scopes_needed, method_spec
from bot.sandbox.emulator.state import JsonDict, SlackApiFailure, _Channel
from bot.sandbox.emulator.validation import _split_ids, _truthy
from bot.sandbox.emulator.workspace import WorkspaceBase

# The error Slack answers when a required argument is missing, where it names one (else invalid_arguments).
_MISSING_ARGUMENT_ERRORS = {"channel": "channel_not_found", "user": "user_not_found", "message_ts": "message_not_found"}
_LIST_TYPES: dict[str, ConversationKind] = {
    "public_channel": "channels",
    "private_channel": "groups",
    "im": "im",
    "mpim": "mpim",
}


def conversation_kind(channel: _Channel) -> ConversationKind:
    """The scope family of a conversation: public channel, private channel, DM or group DM."""
    if channel.is_im:
        return "im"
    if channel.is_mpim:
        return "mpim"
    return "groups" if channel.is_private else "channels"


class ApiRules(WorkspaceBase):
    """Required arguments and scopes per method, as Slack checks them before doing anything."""

    scopes: frozenset[str]

    def _check_call(self, method: str, args: JsonDict) -> None:
        """Raise Slack's error for a call the spec says cannot go ahead (missing scope, missing argument)."""
        spec = method_spec(method)
        if spec is None:
            return
        self._check_scopes(spec, args)
        self._check_required(spec, args)

    def _check_required(self, spec: MethodSpec, args: JsonDict) -> None:
        for name in spec.required:
            if args.get(name) in (None, ""):
                error = _MISSING_ARGUMENT_ERRORS.get(name, "invalid_arguments")
                if error not in spec.errors:
                    error = "invalid_arguments"
                message = f"[ERROR] missing required field: {name}"
                raise SlackApiFailure(error, response_metadata={"messages": [message]})

    def _check_scopes(self, spec: MethodSpec, args: JsonDict) -> None:
        for choice in bot_scopes_needed(spec, self._conversation_kinds(spec.name, args)):
            if not any(scope in self.scopes for scope in choice):
                raise SlackApiFailure("missing_scope", needed=choice[0], provided=",".join(sorted(self.scopes)))

    def _conversation_kinds(self, method: str, args: JsonDict) -> tuple[ConversationKind, ...]:
        """The conversation types a call is about (empty when it names no conversation the workspace has)."""
        if method == "conversations.list":
            requested = _split_ids(args.get("types") or "public_channel")
            return tuple(_LIST_TYPES[t] for t in requested if t in _LIST_TYPES)
        if method == "conversations.create":
            return ("groups",) if _truthy(args.get("is_private")) else ("channels",)
        if method == "conversations.open" and not args.get("channel"):
            users = _split_ids(args.get("users"))
            return ("im",) if len(users) <= 1 else ("mpim",)
        channel = self._find_conversation(args.get("channel") or args.get("channel_id"))
        return (conversation_kind(channel),) if channel is not None else ()

    def _find_conversation(self, key: object) -> _Channel | None:
        """A conversation the bot can see, by id, name or (for the bot's DM) user id, without failing.

        One it can't see (private, not a member) is not found: Slack answers ``channel_not_found`` for it, whatever
        the scopes.
        """
        name = str(key or "")
        if not name:
            return None
        if name in self._users and name not in self._channels:
            dm = self._dms.get(name)
            return self._channels.get(dm) if dm else _Channel(name, name, True, [], 0, "", is_im=True)
        found = self._channels.get(name) or self._find_channel_by_name(name.lstrip("#"))
        if found is None or (found.is_private and self.bot_user_id not in found.members):
            return None
        return found
