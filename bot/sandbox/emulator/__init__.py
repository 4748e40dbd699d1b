"""In-memory Slack workspace emulator exposing the Slack Web API as a WSGI app.

The emulator plays Slack for end-to-end tests and the local sandbox: the bot talks to it through
``slack_sdk.WebClient(base_url=emulator.api_url)`` and tests inspect the resulting workspace state
(messages, threads, ephemerals, modal stacks, App Home tabs and a log of every Web API call).

Realism notes (deliberate, to catch bugs that real Slack would surface):

* private channels are invisible (``channel_not_found``) to the bot unless it is a member;
* reading history / inviting / pinning needs the bot to be a channel member (``not_in_channel``);
* triggers expire after ``trigger_ttl_seconds`` and can be exchanged only once;
* modal titles / button labels are limited to 24 characters and views with input blocks need ``submit``.

The package is split by responsibility: ``state`` (records, constants, clocks), ``validation`` and
``http`` (pure helpers), ``workspace`` and ``messages`` (shared state, lookups, message storage), one
mixin per Web API family (``chat``, ``views``, ``conversations``, ``users``, ``responses``, ``files``), the
``seeding`` / ``inspection`` helpers for tests, and ``core``, which composes them into
:class:`SlackEmulator`.
"""

from __future__ import annotations

from bot.sandbox.emulator.core import SlackEmulator as SlackEmulator
from bot.sandbox.emulator.core import logger as logger
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
    "SlackApiFailure",
    "SlackEmulator",
    "epoch_clock",
]
