"""In-memory Slack workspace emulator exposing the Slack Web API as a WSGI app.

The emulator plays Slack for end-to-end tests and the local sandbox: the bot talks to it through
``slack_sdk.WebClient(base_url=emulator.api_url)`` and tests inspect the resulting workspace state
(messages, threads, ephemerals, modal stacks, App Home tabs and a log of every Web API call).

It refuses what Slack refuses, with Slack's error codes (docs/emulator.md lists what it does not model):

* encoding and required arguments per method, from Slack's published spec (``spec``): a JSON body to a form-only
  method is read as if its arguments were missing;
* scopes: the app holds the manifest's scopes; a method needing another answers ``missing_scope`` (``rules``);
* membership: posting in a public channel the bot has not joined is ``not_in_channel``; a private channel, DM or
  group DM it is not in is ``channel_not_found``;
* Block Kit, element by element, plus slack_sdk's model validation (``blockkit``);
* triggers are usable once within ``trigger_ttl_seconds``; a response_url takes 5 responses in 30 minutes;
* rate limits per method tier and per channel for ``chat.postMessage``, answered 429 with Retry-After
  (``ratelimits``).

The package is split by responsibility: ``state`` (records, constants, clocks), ``validation`` and
``http`` (pure helpers), ``workspace`` and ``messages`` (shared state, lookups, message storage), one
mixin per Web API family (``chat``, ``views``, ``conversations``, ``users``, ``responses``, ``files``), the
``seeding`` / ``inspection`` helpers for tests, and ``core``, which composes them into
:class:`SlackEmulator`.
"""

from __future__ import annotations

from bot.sandbox.emulator.core import SlackEmulator as SlackEmulator
from bot.sandbox.emulator.core import logger as logger
from bot.sandbox.emulator.ratelimits import RateLimits as RateLimits
from bot.sandbox.emulator.state import ANONYMOUS_USER as ANONYMOUS_USER
from bot.sandbox.emulator.state import CHANNEL_NAME_RE as CHANNEL_NAME_RE
from bot.sandbox.emulator.state import DEFAULT_PAGE_SIZE as DEFAULT_PAGE_SIZE
from bot.sandbox.emulator.state import JSON_ENCODED_FIELDS as JSON_ENCODED_FIELDS
from bot.sandbox.emulator.state import MAX_MESSAGE_BLOCKS as MAX_MESSAGE_BLOCKS
from bot.sandbox.emulator.state import MAX_MODAL_STACK as MAX_MODAL_STACK
from bot.sandbox.emulator.state import MAX_PRIVATE_METADATA_CHARS as MAX_PRIVATE_METADATA_CHARS
from bot.sandbox.emulator.state import MAX_VIEW_BLOCKS as MAX_VIEW_BLOCKS
from bot.sandbox.emulator.state import MAX_VIEW_TEXT_CHARS as MAX_VIEW_TEXT_CHARS
from bot.sandbox.emulator.state import RESPONSE_URL_MAX_USES as RESPONSE_URL_MAX_USES
from bot.sandbox.emulator.state import RESPONSE_URL_TTL_SECONDS as RESPONSE_URL_TTL_SECONDS
from bot.sandbox.emulator.state import ApiResult as ApiResult
from bot.sandbox.emulator.state import Call as Call
from bot.sandbox.emulator.state import Clock as Clock
from bot.sandbox.emulator.state import Handler as Handler
from bot.sandbox.emulator.state import JsonDict as JsonDict
from bot.sandbox.emulator.state import ManualClock as ManualClock
from bot.sandbox.emulator.state import SlackApiFailure as SlackApiFailure
from bot.sandbox.emulator.state import epoch_clock as epoch_clock
from bot.sandbox.emulator.state import json_copy as json_copy

__all__ = [
    "ApiResult",
    "Call",
    "ManualClock",
    "RateLimits",
    "SlackApiFailure",
    "SlackEmulator",
    "epoch_clock",
]
