"""What Slack's published Web API spec says about each method: content types, required arguments and scopes.

The facts come from ``web_api_methods.json`` (extracted from slackapi/slack-api-specs, MIT License, Copyright (c)
2017 SlackAPI; the licence text is in the file). The spec dates from 2021, so:

* methods added since (``files.getUploadURLExternal``, ``files.completeUploadExternal``) are described here, from
  their reference pages on docs.slack.dev;
* its optional-argument lists are incomplete (``metadata`` on ``chat.postMessage``...): an argument the spec does
  not name is never refused;
* its scope names are partly legacy or user-token names, translated here to what a bot token holds today
  (``chat:write:bot`` is ``chat:write``; ``channels:write`` is ``channels:manage``, or ``channels:join`` for
  ``conversations.join``).

Where the spec lists one scope per conversation type (``channels:history``, ``groups:history``, ``im:history``,
``mpim:history``), the scope needed is the one for the type of the conversation the call is about.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

__all__ = [
    "CONVERSATION_KINDS",
    "ConversationKind",
    "MethodSpec",
    "bot_scopes_needed",
    "method_spec",
    "spec_methods",
]

ConversationKind = Literal["channels", "groups", "im", "mpim"]  # public channel, private channel, DM, group DM
CONVERSATION_KINDS: tuple[ConversationKind, ...] = ("channels", "groups", "im", "mpim")
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

# Scope families the spec lists per conversation type, as a bot token holds them today.
_PER_KIND_FAMILIES: dict[tuple[str, ...], dict[ConversationKind, str]] = {
    ("channels:history", "groups:history", "im:history", "mpim:history"): {
        "channels": "channels:history",
        "groups": "groups:history",
        "im": "im:history",
        "mpim": "mpim:history",
    },
    ("channels:read", "groups:read", "im:read", "mpim:read"): {
        "channels": "channels:read",
        "groups": "groups:read",
        "im": "im:read",
        "mpim": "mpim:read",
    },
    ("channels:write", "groups:write", "im:write", "mpim:write"): {
        "channels": "channels:manage",
        "groups": "groups:write",
        "im": "im:write",
        "mpim": "mpim:write",
    },
}
# Legacy and user-token names in the spec, as bot scopes.
_LEGACY: dict[str, str] = {
    "chat:write:bot": "chat:write",
    "chat:write:user": "chat:write",
    "files:write:user": "files:write",
    "channels:write": "channels:manage",
}
_METHOD_SCOPE_OVERRIDES: dict[str, tuple[str, ...]] = {
    "conversations.join": ("channels:join",),  # a bot joins with channels:join (docs.slack.dev, conversations.join)
}
# Methods newer than the spec, from their reference pages.
_NEWER_METHODS: dict[str, dict[str, object]] = {
    "files.getUploadURLExternal": {
        "content_types": [FORM],
        "required": ["filename", "length"],
        "scopes": ["files:write"],
        "errors": [],
    },
    "files.completeUploadExternal": {
        "content_types": [FORM, JSON],
        "required": ["files"],
        "scopes": ["files:write"],
        "errors": ["channel_not_found"],
    },
}


@dataclass(frozen=True)
class MethodSpec:
    """One Web API method as the spec describes it."""

    name: str
    content_types: tuple[str, ...]
    required: tuple[str, ...]
    scopes: tuple[str, ...]  # as written in the spec ("none" for no scope)
    errors: frozenset[str]

    @property
    def accepts_json(self) -> bool:
        """Whether Slack reads a JSON body for this method (otherwise only form or query parameters)."""
        return JSON in self.content_types

    @property
    def per_conversation_kind(self) -> bool:
        """Whether the scope needed depends on the type of the conversation the call is about."""
        return tuple(self.scopes) in _PER_KIND_FAMILIES


@cache
def _raw_methods() -> Mapping[str, Mapping[str, object]]:
    text = resources.files("bot.sandbox.emulator").joinpath("web_api_methods.json").read_text(encoding="utf-8")
    methods: dict[str, Mapping[str, object]] = dict(json.loads(text)["methods"])
    methods.update(_NEWER_METHODS)
    return methods


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(item) for item in value) if isinstance(value, list) else ()


@cache
def method_spec(name: str) -> MethodSpec | None:
    """The spec of a Web API method (None for a method neither the spec nor this module knows)."""
    raw = _raw_methods().get(name)
    if raw is None:
        return None
    return MethodSpec(
        name=name,
        content_types=_strings(raw.get("content_types")),
        required=_strings(raw.get("required")),
        scopes=_strings(raw.get("scopes")),
        errors=frozenset(_strings(raw.get("errors"))),
    )


def spec_methods() -> frozenset[str]:
    """Every method the spec (with the newer ones added here) describes."""
    return frozenset(_raw_methods())


def bot_scopes_needed(spec: MethodSpec, kinds: tuple[ConversationKind, ...] = ()) -> tuple[tuple[str, ...], ...]:
    """What a bot token needs for the method: each inner tuple is a choice (any one scope of it will do).

    ``kinds`` are the conversation types the call is about (one for a channel argument, several for
    ``conversations.list`` types); a per-type method without a known type needs nothing here (the call fails on
    its channel instead).
    """
    if spec.name in _METHOD_SCOPE_OVERRIDES:
        return (_METHOD_SCOPE_OVERRIDES[spec.name],)
    family = _PER_KIND_FAMILIES.get(tuple(spec.scopes))
    if family is not None:
        return tuple((family[kind],) for kind in dict.fromkeys(kinds))
    choice = tuple(dict.fromkeys(_LEGACY.get(scope, scope) for scope in spec.scopes if scope != "none"))
    return (choice,) if choice else ()
