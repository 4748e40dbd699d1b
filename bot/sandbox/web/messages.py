"""One message as HTML: author, time, Block Kit (or mrkdwn text), files, legacy attachments and its thread link."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from bot.sandbox.web.blockkit import BlockRenderer
from bot.sandbox.web.html import esc, tag
from bot.sandbox.web.mrkdwn import RenderContext, render_mrkdwn

__all__ = ["MessageView", "render_message", "ts_time"]

JsonDict = dict[str, Any]
AVATAR_COLOURS = 6


@dataclass(frozen=True)
class MessageView:
    """How a message is shown: where it lives, whether only the viewer sees it, whether it is in a thread pane."""

    channel_id: str
    bot_user_id: str
    ephemeral: bool = False
    in_thread: bool = False
    id_prefix: str = "c"


def ts_time(ts: str, ctx: RenderContext) -> datetime:
    return datetime.fromtimestamp(float(ts), tz=UTC).astimezone(ctx.zone)


def _avatar(user_id: str, name: str, is_bot: bool) -> str:
    if is_bot:
        return tag("div", "🤖", class_="avatar avatar-bot", aria_hidden="true")
    initials = "".join(part[:1] for part in name.split()[:2]).upper() or "?"
    colour = zlib.crc32(user_id.encode()) % AVATAR_COLOURS
    return tag("div", esc(initials), class_=f"avatar avatar-{colour}", aria_hidden="true")


MESSAGE_SHORTCUT = "open_incident_from_message"  # slack-app-manifest.yaml's message shortcut


def _meta(message: JsonDict, ctx: RenderContext, view: MessageView, is_bot: bool) -> str:
    user_id = str(message.get("user", ""))
    author = tag("span", esc(ctx.user_name(user_id)), class_="msg-author")
    badge = tag("span", "APP", class_="app-badge") if is_bot else ""
    moment = ts_time(str(message["ts"]), ctx)
    stamp = tag("time", esc(moment.strftime("%H:%M")), datetime=moment.isoformat(), title=moment.strftime("%c"))
    private = tag("span", "Only visible to you", class_="only-you") if view.ephemeral else ""
    shortcut = ""
    if not is_bot and not view.ephemeral:  # Slack's "More actions" menu on a message: the app's message shortcut
        shortcut = tag(
            "button",
            "Open incident",
            type="button",
            class_="msg-shortcut",
            title="More actions: Open incident (the app's message shortcut)",
            data_message_shortcut=MESSAGE_SHORTCUT,
        )
    return tag("div", author + badge + stamp + private + shortcut, class_="msg-meta")


def _content(message: JsonDict, ctx: RenderContext, view: MessageView) -> str:
    if message.get("subtype") == "tombstone":
        return tag("div", "This message was deleted.", class_="msg-deleted")
    if message.get("blocks"):
        renderer = BlockRenderer(ctx, id_prefix=f"{view.id_prefix}{message['ts']}-")
        body = renderer.blocks(message["blocks"])
    else:
        body = tag("div", render_mrkdwn(str(message.get("text", "")), ctx), class_="bk-text")
    return body + _files(message) + _attachments(message, ctx)


def _files(message: JsonDict) -> str:
    shown = []
    for item in message.get("files") or []:
        name = str(item.get("name", "file"))
        href = f"/files/{quote(str(item.get('id', '')))}/{quote(name)}"
        if str(item.get("mimetype", "")).startswith("image/"):
            image = tag("img", src=href, alt=name, class_="file-image", loading="lazy")
            shown.append(tag("a", image, href=href, target="_blank", class_="file"))
        else:
            shown.append(tag("a", esc(f"📎 {name}"), href=href, class_="file"))
    return tag("div", "".join(shown), class_="msg-files") if shown else ""


def _attachments(message: JsonDict, ctx: RenderContext) -> str:
    shown = []
    for attachment in message.get("attachments") or []:
        parts = [
            tag("div", render_mrkdwn(str(attachment[key]), ctx), class_=f"attachment-{key}")
            for key in ("pretext", "title", "text")
            if attachment.get(key)
        ]
        for item in attachment.get("fields") or []:
            parts.append(tag("div", tag("b", esc(item.get("title", ""))) + "<br>" + esc(item.get("value", ""))))
        if attachment.get("blocks"):
            parts.append(BlockRenderer(ctx, interactive=False).blocks(attachment["blocks"]))
        shown.append(tag("div", "".join(parts), class_="attachment"))
    return "".join(shown)


def _thread_summary(message: JsonDict, ctx: RenderContext, view: MessageView) -> str:
    count = int(message.get("reply_count") or 0)
    if view.in_thread or count == 0 or message.get("thread_ts") not in (None, message["ts"]):
        return ""
    last = ts_time(str(message.get("latest_reply") or message["ts"]), ctx).strftime("%H:%M")
    label = f"{count} {'reply' if count == 1 else 'replies'}"
    return tag(
        "button",
        tag("span", esc(label), class_="thread-count") + tag("span", esc(f"Last reply {last}"), class_="thread-last"),
        type="button",
        class_="thread-summary",
        data_open_thread=message["ts"],
    )


def render_message(message: JsonDict, ctx: RenderContext, view: MessageView) -> str:
    """A message in a channel or thread; its element carries what a ``block_actions`` needs (channel, ts)."""
    user_id = str(message.get("user", ""))
    is_bot = bool(message.get("bot_id")) or user_id == view.bot_user_id
    broadcast = ""
    if message.get("subtype") == "thread_broadcast" and not view.in_thread:
        broadcast = tag("div", "replied to a thread", class_="msg-broadcast")
    edited = tag("span", "(edited)", class_="msg-edited") if message.get("edited") else ""
    body = (
        _meta(message, ctx, view, is_bot)
        + broadcast
        + tag("div", _content(message, ctx, view) + edited, class_="msg-content")
        + _thread_summary(message, ctx, view)
    )
    classes = "msg" + (" msg-ephemeral" if view.ephemeral else "")
    return tag(
        "div",
        _avatar(user_id, ctx.user_name(user_id), is_bot) + tag("div", body, class_="msg-body"),
        class_=classes,
        data_container="ephemeral" if view.ephemeral else "message",
        data_channel=view.channel_id,
        data_ts=message["ts"],
    )
