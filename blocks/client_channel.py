"""The client's own channel: the "Send to client" button under a recorded update, and what the client reads."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ConfirmObject, SectionBlock

from blocks.ids import ClientChannelAction
from blocks.incident import Message
from blocks.text import mention, quoted, slack_time, typed

QUOTE_CHARS = 2500
CLIENT_TEXT_CHARS = 2900


def update_recorded(
    *, actor_id: str, text: str, due: datetime, zone: ZoneInfo, update_id: int | None, client_channel: str | None
) -> Message:
    """The thread note of a recorded client update; with a "Send to client" button when the client has a channel."""
    head = f"🗣️ {mention(actor_id)} recorded a client update; the next is due {slack_time(due, zone)}."
    body = f"{head}\n{quoted(text, QUOTE_CHARS)}"
    blocks: list = [SectionBlock(text=body)]
    if client_channel and update_id is not None:
        confirm = ConfirmObject(
            title="Send to the client?",
            text=f"This posts the update above in <#{client_channel}>, where the client reads it. "
            "Nothing else from the incident is posted there.",
            confirm="Send",
            deny="Not yet",
        )
        button = ButtonElement(
            text="Send to client",
            action_id=ClientChannelAction.SEND,
            value=str(update_id),
            style="primary",
            confirm=confirm,
        )
        blocks.append(ActionsBlock(elements=[button]))
    return Message(text=head, blocks=blocks)


def client_message(text: str) -> Message:
    """What the client reads: the words the person wrote for them, nothing of the internal thread."""
    words = typed(text, CLIENT_TEXT_CHARS, one_line=False)
    return Message(text=words, blocks=[SectionBlock(text=words)])


def update_sent(*, actor_id: str, channel_id: str, due: datetime, zone: ZoneInfo) -> Message:
    text = (
        f"📤 {mention(actor_id)} sent the client update to <#{channel_id}>; "
        f"the next is due {slack_time(due, zone)}."
    )
    return Message(text=text, blocks=[SectionBlock(text=text)])
