"""The page and its regions (sidebar, channel, thread, App Home, modal), rendered on the server.

:meth:`PageRenderer.document` is the whole page for the first load; :meth:`PageRenderer.state` is the same
regions as JSON for the page's live updates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.durations import humanize_duration
from bot.sandbox.web.blockkit import BlockRenderer, text_object
from bot.sandbox.web.changes import ChangeFeed
from bot.sandbox.web.clock import SandboxClock
from bot.sandbox.web.html import esc, tag
from bot.sandbox.web.messages import MessageView, render_message
from bot.sandbox.web.mrkdwn import RenderContext
from bot.sandbox.web.workspace import SandboxWorkspace

__all__ = ["APP_HOME", "APP_MESSAGES", "PageRenderer", "Viewer"]

JsonDict = dict[str, Any]
APP_HOME = "app-home"
APP_MESSAGES = "app-messages"
FAST_FORWARD_STEPS = ((10, "+10 min"), (60, "+1 h"))


@dataclass(frozen=True)
class Viewer:
    """Who is looking at what: the acting person, a channel id (or the app's tabs), an open thread, a time zone."""

    user_id: str
    place: str
    thread_ts: str | None = None
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))


def _sorted_by_ts(messages: list[JsonDict]) -> list[JsonDict]:
    return sorted(messages, key=lambda m: float(m["ts"]))


class PageRenderer:
    """Renders what one viewer sees of the workspace."""

    def __init__(self, workspace: SandboxWorkspace, clock: SandboxClock, feed: ChangeFeed) -> None:
        self.workspace = workspace
        self.emulator = workspace.emulator
        self.clock = clock
        self.feed = feed

    def _context(self, viewer: Viewer) -> RenderContext:
        return self.workspace.render_context(now=self.clock.now(), zone=viewer.zone)

    def _channel_id(self, viewer: Viewer) -> str | None:
        """The channel shown in the main pane (the app's DM on its Messages tab); None on Home."""
        if viewer.place == APP_HOME:
            return None
        if viewer.place == APP_MESSAGES:
            return self.emulator.dm_channel(viewer.user_id)
        return viewer.place

    # ------------------------------------------------------------------ regions

    def state(self, viewer: Viewer) -> JsonDict:
        version = self.feed.version  # read first: a change while rendering shows up on the next poll
        ctx = self._context(viewer)
        channel_id = self._channel_id(viewer)
        return {
            "version": version,
            "clock": self.clock_label(viewer.zone),
            "sidebar": self.sidebar(viewer),
            "header": self.header(viewer),
            "body": self.home(viewer, ctx) if channel_id is None else self.channel(viewer, channel_id, ctx),
            "composer": self.composer_placeholder(viewer),
            "thread": self.thread(viewer, channel_id, ctx) if channel_id and viewer.thread_ts else None,
            "modal": self.modal(viewer, ctx),
        }

    def clock_label(self, zone: ZoneInfo) -> str:
        now = self.clock.now().astimezone(zone)
        label = now.strftime("%a %d %b, %H:%M ") + (now.tzname() or "")
        offset = self.clock.offset
        if offset >= timedelta(minutes=1):
            label += f" (+{humanize_duration(offset)})"
        return label

    def sidebar(self, viewer: Viewer) -> str:
        items = [tag("div", "Channels", class_="nav-title")]
        for channel in self.workspace.channels(viewer.user_id):
            prefix = "🔒 " if channel.get("is_private") else "# "
            items.append(self._nav_item(viewer, channel["id"], prefix + str(channel.get("name", ""))))
        items.append(tag("div", "Apps", class_="nav-title"))
        current = APP_HOME if viewer.place == APP_MESSAGES else viewer.place
        items.append(self._nav_item(Viewer(viewer.user_id, current), APP_HOME, "🤖 triage-bot"))
        return "".join(items)

    def _nav_item(self, viewer: Viewer, place: str, label: str) -> str:
        active = " active" if viewer.place == place else ""
        return tag("a", esc(label), class_="nav-item" + active, href=f"?c={place}", data_place=place)

    def header(self, viewer: Viewer) -> str:
        if viewer.place in (APP_HOME, APP_MESSAGES):
            tabs = "".join(
                tag(
                    "a",
                    label,
                    href=f"?c={place}",
                    data_place=place,
                    class_="tab active" if place == viewer.place else "tab",
                )
                for place, label in ((APP_HOME, "Home"), (APP_MESSAGES, "Messages"))
            )
            return tag("h1", "🤖 triage-bot") + tag("nav", tabs, class_="tabs")
        channel = self.emulator.channel(viewer.place) or {}
        topic = str((channel.get("topic") or {}).get("value", ""))
        title = tag("h1", esc(("🔒 " if channel.get("is_private") else "# ") + str(channel.get("name", viewer.place))))
        members = tag("span", esc(f"{len(channel.get('members', []))} members"), class_="members")
        return title + tag("span", esc(topic), class_="topic") + members

    def composer_placeholder(self, viewer: Viewer) -> str | None:
        """The composer's placeholder, or None where there is no composer (App Home)."""
        if viewer.place == APP_HOME:
            return None
        if viewer.place == APP_MESSAGES:
            return "Message triage-bot"
        channel = self.emulator.channel(viewer.place) or {}
        return f"Message #{channel.get('name', '')} — or type /triage"

    def channel(self, viewer: Viewer, channel_id: str, ctx: RenderContext) -> str:
        if self.emulator.channel(channel_id) is None:
            return tag("div", "No such channel.", class_="empty")
        view = MessageView(channel_id, self.emulator.bot_user_id)
        mine = [
            self._ephemeral(e) for e in self.emulator.ephemerals(channel_id, viewer.user_id) if not e.get("thread_ts")
        ]
        rows = [self._intro(channel_id)]
        for message in _sorted_by_ts([*self.emulator.messages(channel_id), *mine]):
            shown = MessageView(view.channel_id, view.bot_user_id, ephemeral=bool(message.get("_ephemeral")))
            rows.append(render_message(message, ctx, shown))
        return "".join(rows)

    def _intro(self, channel_id: str) -> str:
        channel = self.emulator.channel(channel_id) or {}
        if channel.get("is_im"):
            text = "This is your conversation with triage-bot. It writes here when something needs you."
        else:
            text = f"This is the very beginning of #{channel.get('name', '')}. Type /triage to open an incident."
        return tag("div", esc(text), class_="channel-intro")

    def thread(self, viewer: Viewer, channel_id: str, ctx: RenderContext) -> str | None:
        assert viewer.thread_ts is not None
        parent = self.emulator.message(channel_id, viewer.thread_ts)
        if parent is None:
            return None
        view = MessageView(channel_id, self.emulator.bot_user_id, in_thread=True, id_prefix="t")
        replies = self.emulator.replies(channel_id, viewer.thread_ts)
        mine = [
            self._ephemeral(e)
            for e in self.emulator.ephemerals(channel_id, viewer.user_id)
            if e.get("thread_ts") == viewer.thread_ts
        ]
        count = len(replies)
        rows = [render_message(parent, ctx, view)]
        rows.append(tag("div", esc(f"{count} {'reply' if count == 1 else 'replies'}"), class_="thread-divider"))
        for message in _sorted_by_ts([*replies, *mine]):
            shown = MessageView(channel_id, view.bot_user_id, bool(message.get("_ephemeral")), True, "t")
            rows.append(render_message(message, ctx, shown))
        return "".join(rows)

    def _ephemeral(self, record: JsonDict) -> JsonDict:
        """An ephemeral as a message from the bot (Slack shows it in the flow, to one person)."""
        return {**record, "type": "message", "user": self.emulator.bot_user_id, "_ephemeral": True}

    def home(self, viewer: Viewer, ctx: RenderContext) -> str:
        home = self.emulator.home(viewer.user_id)
        if home is None:
            return tag("div", "Opening Home…", class_="empty")
        blocks = BlockRenderer(ctx, id_prefix="h").blocks(home.get("blocks", []))
        return tag("div", blocks, class_="home", data_container="view", data_view_id=home["id"])

    def modal(self, viewer: Viewer, ctx: RenderContext) -> JsonDict | None:
        stack = self.emulator.modal_stack(viewer.user_id)
        if not stack:
            return None
        view = stack[-1]
        errors = dict(view.get("errors") or {})
        return {
            "key": f"{view['id']}:{view.get('hash', '')}",
            "view_id": view["id"],
            "errors": errors,
            "html": modal_html(view, ctx, errors=errors, depth=len(stack)),
        }

    # ------------------------------------------------------------------ the document

    def document(self, viewer: Viewer) -> str:
        state = self.state(viewer)
        boot = {"user": viewer.user_id, "place": viewer.place, "thread": viewer.thread_ts, "state": state}
        boot_json = json.dumps(boot).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        return PAGE.format(
            people=self._people_options(viewer.user_id),
            forward="".join(
                tag("button", esc(label), type="button", class_="forward", data_forward=minutes)
                for minutes, label in FAST_FORWARD_STEPS
            ),
            clock=esc(state["clock"]),
            sidebar=state["sidebar"],
            header=state["header"],
            body=state["body"],
            placeholder=esc(state["composer"] or ""),
            composer_hidden=" hidden" if state["composer"] is None else "",
            boot=boot_json,
        )

    def _people_options(self, acting: str) -> str:
        options = []
        for person in self.workspace.people():
            role = self.workspace.roles.get(person["id"])
            label = str(person.get("real_name")) + (f" — {role}" if role else "")
            options.append(tag("option", esc(label), value=person["id"], selected=person["id"] == acting))
        return "".join(options)


def modal_html(view: JsonDict, ctx: RenderContext, *, errors: dict[str, str], depth: int) -> str:
    """A modal as a dialog: title, its blocks (inputs become form controls), Cancel and Submit."""
    back = tag("button", "&lsaquo;", type="button", class_="modal-back", data_modal_cancel=True, aria_label="Back")
    close_all = tag("button", "&times;", type="button", class_="modal-x", data_modal_close_all=True, aria_label="Close")
    header = (back if depth > 1 else "") + tag("h2", text_object(view.get("title"), ctx), id="modal-title") + close_all
    body = BlockRenderer(ctx, errors=errors, id_prefix="m").blocks(view.get("blocks", []))
    cancel_label = text_object(view.get("close") or "Cancel", ctx)
    footer = tag("button", cancel_label, type="button", class_="bk-button", data_modal_cancel=True)
    if view.get("submit"):
        footer += tag("button", text_object(view["submit"], ctx), type="submit", class_="bk-button bk-button-primary")
    form = tag(
        "form",
        tag("div", header, class_="modal-header")
        + tag("div", body, class_="modal-body")
        + tag("div", footer, class_="modal-footer"),
        class_="modal",
        role="dialog",
        aria_modal="true",
        aria_labelledby="modal-title",
        novalidate=True,
        data_container="view",
        data_view_id=view["id"],
    )
    return tag("div", form, class_="modal-backdrop")


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>triage-bot sandbox</title>
<link rel="stylesheet" href="/static/app.css">
<script src="/static/app.js" defer></script>
</head>
<body>
<header class="topbar">
  <div class="brand">triage-bot <span>sandbox</span></div>
  <div class="clock"><span class="clock-icon" aria-hidden="true">🕒</span>
    <span id="clock-label">{clock}</span>{forward}</div>
  <label class="act-as">Acting as <select id="act-as">{people}</select></label>
</header>
<div class="layout">
  <nav id="sidebar" class="sidebar" aria-label="Channels">{sidebar}</nav>
  <main class="pane main-pane">
    <div id="main-header" class="pane-header">{header}</div>
    <div id="main-body" class="pane-body">{body}</div>
    <form id="composer" class="composer"{composer_hidden}>
      <textarea id="composer-text" rows="1" placeholder="{placeholder}" aria-label="Message"></textarea>
      <button type="submit" class="send" aria-label="Send">Send</button>
    </form>
  </main>
  <aside id="thread-pane" class="pane thread-pane" hidden>
    <div class="pane-header"><h1>Thread</h1>
      <button type="button" class="close-thread" data-close-thread aria-label="Close thread">&times;</button></div>
    <div id="thread-body" class="pane-body"></div>
    <form id="thread-composer" class="composer">
      <textarea id="thread-text" rows="1" placeholder="Reply…" aria-label="Reply"></textarea>
      <button type="submit" class="send" aria-label="Send reply">Send</button>
    </form>
  </aside>
</div>
<div id="modal-root"></div>
<div id="toast" class="toast" role="status" hidden></div>
<script type="application/json" id="boot">{boot}</script>
</body>
</html>
"""
