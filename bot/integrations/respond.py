"""Bolt's `respond()`, posting only to Slack's response-URL hosts and giving up after a few seconds.

Bolt builds a `WebhookClient` (30 s timeout) for whatever `response_url` the request carried. Listeners and the
error handler get this one instead (see `bot.listeners.verification`), so every `respond()` in the app is checked.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from ssl import SSLContext
from typing import Any

from slack_bolt.context.respond import Respond
from slack_bolt.context.respond.internals import _build_message
from slack_sdk.models.attachments import Attachment
from slack_sdk.models.blocks import Block
from slack_sdk.webhook import WebhookClient, WebhookResponse

from bot.integrations.slack_hosts import SlackHosts, host_of

logger = logging.getLogger(__name__)

RESPOND_TIMEOUT_SECONDS = 5
DROPPED = "response_url is not on Slack's hosts: nothing was sent"


class SlackRespond(Respond):
    """`respond()` that posts only to a response URL on Slack's hosts (or the emulator's), with a short timeout.

    A response URL anywhere else is dropped with a warning: nothing is sent and the answer has status 0.
    """

    def __init__(
        self,
        *,
        response_url: str | None,
        hosts: SlackHosts,
        timeout: int = RESPOND_TIMEOUT_SECONDS,
        proxy: str | None = None,
        ssl: SSLContext | None = None,
    ) -> None:
        super().__init__(response_url=response_url, proxy=proxy, ssl=ssl)
        self.hosts = hosts
        self.timeout = timeout

    def __call__(
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[dict[str, Any] | Block] | None = None,
        attachments: Sequence[dict[str, Any] | Attachment] | None = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WebhookResponse:
        url = self.response_url
        if url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        if not self.hosts.allows_response_url(url):
            logger.warning("Dropped a respond() to %s: response_url is not on Slack's hosts", host_of(url))
            return WebhookResponse(url=url, status_code=0, body=DROPPED, headers={})
        if isinstance(text, dict):
            message = _build_message(**text)
        else:
            message = _build_message(
                text=text,
                blocks=blocks,
                attachments=attachments,
                response_type=response_type,
                replace_original=replace_original,
                delete_original=delete_original,
                unfurl_links=unfurl_links,
                unfurl_media=unfurl_media,
                thread_ts=thread_ts,
                metadata=metadata,
            )
        client = WebhookClient(url=url, timeout=self.timeout, proxy=self.proxy, ssl=self.ssl)
        return client.send_dict(message)
